{{/* Partials print nothing by themselves. */}}
{{- define "docs.name" -}}
{{ .Release.Name }}-{{ .Values.siteName }}
{{- end }}
This text sits outside any define in a partial and is never printed.

{{- define "webapp.helper" -}}
helper sees {{ .Release.Name }} from {{ .Template.Name }}
{{- end -}}

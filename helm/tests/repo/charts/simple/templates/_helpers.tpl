{{- define "simple.fullname" -}}
{{ .Release.Name }}-{{ .Chart.Name }}
{{- end -}}

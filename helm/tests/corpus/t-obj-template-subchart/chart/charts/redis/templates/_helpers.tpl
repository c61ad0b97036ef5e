{{- define "redis.where" -}}
redis helper Template.Name={{ .Template.Name }} BasePath={{ .Template.BasePath }}
{{- end }}

{{- define "redis.fullname" -}}
{{ .Release.Name }}-{{ .Chart.Name }}
{{- end }}

{{- define "common.greeting" -}}
hello from the redis subchart
{{- end }}

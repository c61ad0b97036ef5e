{{- define "common-lib.labels" -}}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

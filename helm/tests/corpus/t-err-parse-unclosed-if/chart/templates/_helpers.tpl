{{- define "webapp.labels" -}}
app: {{ .Chart.Name }}
{{- if .Values.extraLabels }}
{{ toYaml .Values.extraLabels }}
{{- end -}}

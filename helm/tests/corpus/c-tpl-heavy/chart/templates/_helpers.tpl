{{- define "gateway.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "gateway.fullname" -}}
{{- printf "%s-%s" .Release.Name (include "gateway.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* render a value that may itself contain template text */}}
{{- define "gateway.render" -}}
{{- if typeIs "string" .value }}
{{- tpl .value .context }}
{{- else }}
{{- tpl (.value | toYaml) .context }}
{{- end }}
{{- end }}

{{- define "gateway.image" -}}
{{ include "gateway.render" (dict "value" .Values.image.registry "context" .) }}/{{ .Values.image.repository }}:{{ include "gateway.render" (dict "value" .Values.image.tag "context" .) }}
{{- end }}

{{- define "gateway.labels" -}}
app.kubernetes.io/name: {{ include "gateway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "gateway.config" -}}
{{ tpl .Values.configTemplate . }}
{{- end }}

{{- define "gateway.configChecksum" -}}
{{ include "gateway.config" . | sha256sum | trunc 12 }}
{{- end }}

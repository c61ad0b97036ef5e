{{- define "webapp.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "webapp.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "webapp.selectorLabels" -}}
app.kubernetes.io/name: {{ include "webapp.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "webapp.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "webapp.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* called with a dict holding the root context and one container */}}
{{- define "webapp.container" -}}
- name: {{ .container.name }}
  image: {{ .container.image }}
  ports:
    - containerPort: {{ .container.port }}
  env:
    - name: RELEASE
      value: {{ .root.Release.Name }}
    - name: TEMPLATE
      value: {{ .root.Template.Name }}
{{- end }}

{{- define "webapp.countdown" -}}
{{ . }}{{ if gt . 0 }},{{ include "webapp.countdown" (sub . 1) }}{{ end }}
{{- end }}

{{- define "webapp.scalar" -}}
value={{ . }} kind={{ kindOf . }}
{{- end }}

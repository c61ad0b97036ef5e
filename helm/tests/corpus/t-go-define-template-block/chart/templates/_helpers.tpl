{{/*
Expand the name of the chart.
*/}}
{{- define "webapp.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Common labels */}}
{{- define "webapp.labels" }}
  labels:
    app.kubernetes.io/name: {{ include "webapp.name" . }}
    app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "webapp.footer" -}}
# footer from helpers, dot is {{ if . }}set{{ else }}empty{{ end }}
{{- end -}}

{{/* the same name defined twice: helm parses files in reverse path order, so the definition in _helpers.tpl (parsed after _zz_override.tpl) wins */}}
{{- define "webapp.overridden" -}}from _helpers.tpl{{- end -}}

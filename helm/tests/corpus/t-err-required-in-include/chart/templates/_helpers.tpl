{{- define "webapp.dbHost" -}}
{{ required "database.host must be set" .Values.database.host }}
{{- end -}}

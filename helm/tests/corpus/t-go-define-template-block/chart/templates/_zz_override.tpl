{{- define "webapp.overridden" -}}from _zz_override.tpl{{- end -}}
{{- define "webapp.block" -}}overridden block body{{- end -}}

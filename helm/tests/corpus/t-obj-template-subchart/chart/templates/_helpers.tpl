{{- define "shop.where" -}}
helper Template.Name={{ .Template.Name }} BasePath={{ .Template.BasePath }}
{{- end }}

{{/* the parent's definition of a name the subchart also defines: the parent wins everywhere */}}
{{- define "common.greeting" -}}
hello from the parent chart
{{- end }}

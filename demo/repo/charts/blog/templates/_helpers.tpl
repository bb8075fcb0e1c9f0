{{- define "blog.name" -}}{{ .Release.Name }}-{{ .Chart.Name }}{{- end -}}
{{- define "blog.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "scaleshop.operatorName" -}}
{{ .Release.Name }}-operator
{{- end }}

{{- define "scaleshop.labels" -}}
app.kubernetes.io/name: scaleshop-operator
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: scaleshop
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end }}

{{- define "scaleshop.selector" -}}
app.kubernetes.io/name: scaleshop-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "scaleshop.image" -}}
{{- if .Values.operator.image.tag -}}
{{ .Values.operator.image.repository }}:{{ .Values.operator.image.tag }}
{{- else -}}
{{ .Values.operator.image.repository }}
{{- end -}}
{{- end }}

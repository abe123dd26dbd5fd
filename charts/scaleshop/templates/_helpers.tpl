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

{{- /* The folders the operator image runs from, which live update writes (the Tiltfile's OPERATOR_SOURCES). */ -}}
{{- define "scaleshop.liveUpdatePaths" -}}
["/app/services/operator/src", "/app/cdk8s/src", "/app/services/platform/src"]
{{- end }}

{{/*
Names, labels and small lookups shared by every template.
Component templates receive a context `(dict "root" $ "key" "<values key>")`; the values key is the
camelCase block of values.yaml (tritonEmbedding) and the component name is its kebab-case form
(triton-embedding).
*/}}

{{- define "tango.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "tango.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "tango.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Component name from its values key: tritonEmbedding -> triton-embedding. */}}
{{- define "tango.componentName" -}}
{{- kebabcase .key }}
{{- end }}

{{/* Resource name of a component: <fullname>-<component>. */}}
{{- define "tango.componentFullname" -}}
{{- printf "%s-%s" (include "tango.fullname" .root) (include "tango.componentName" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The values block of a component. */}}
{{- define "tango.values" -}}
{{- toYaml (index .root.Values .key) }}
{{- end }}

{{- define "tango.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tango.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ include "tango.componentName" . }}
{{- end }}

{{- define "tango.labels" -}}
helm.sh/chart: {{ include "tango.chart" .root }}
{{ include "tango.selectorLabels" . }}
app.kubernetes.io/part-of: tango
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- end }}

{{/* Labels of chart-wide objects (no component). */}}
{{- define "tango.commonLabels" -}}
helm.sh/chart: {{ include "tango.chart" . }}
app.kubernetes.io/name: {{ include "tango.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: tango
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "tango.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "tango.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "tango.image" -}}
{{- $values := index .root.Values .key -}}
{{- $tag := default .root.Chart.AppVersion .root.Values.global.imageTag -}}
{{- printf "%s/%s:%s" .root.Values.global.imageRegistry (default $values.image .image) $tag }}
{{- end }}

{{/* Name of the artifact claim (created or existing). */}}
{{- define "tango.artifactClaimName" -}}
{{- default (printf "%s-artifacts" (include "tango.fullname" .)) .Values.artifacts.persistence.existingClaim }}
{{- end }}

{{/* In-cluster address host:port of a component's gRPC port. */}}
{{/* gRPC target of a Python stage: its headless Service through DNS, so that a caller's channel reaches
every replica (round robin in tango.orchestrator.stage_clients). */}}
{{- define "tango.stageTarget" -}}
{{- $values := index .root.Values .key -}}
{{- printf "dns:///%s-headless:%v" (include "tango.componentFullname" .) $values.service.grpcPort }}
{{- end }}

{{- define "tango.grpcAddress" -}}
{{- $values := index .root.Values .key -}}
{{- printf "%s:%v" (include "tango.componentFullname" .) $values.service.grpcPort }}
{{- end }}

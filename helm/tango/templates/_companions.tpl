{{/*
The objects around each Deployment: Service, HPA, PDB, ServiceMonitor, NetworkPolicy.
Context: (dict "root" $ "key" "<values key>"); the NetworkPolicy also takes "callers" (values keys
of the components allowed to call this one) and "clientFacing" (true for the orchestrator).
*/}}

{{- define "tango.service" -}}
{{- $values := index .root.Values .key -}}
{{- if $values.enabled }}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "tango.componentFullname" . }}
  labels:
    {{- include "tango.labels" . | nindent 4 }}
spec:
  type: {{ $values.service.type | default "ClusterIP" }}
  selector:
    {{- include "tango.selectorLabels" . | nindent 4 }}
  ports:
    {{- with $values.service.httpPort }}
    - {name: http, port: {{ . }}, targetPort: http, protocol: TCP}
    {{- end }}
    - {name: grpc, port: {{ $values.service.grpcPort }}, targetPort: grpc, protocol: TCP, appProtocol: grpc}
    - {name: metrics, port: {{ $values.service.metricsPort }}, targetPort: metrics, protocol: TCP}
{{- if .headless }}
---
{{- /* One DNS record per ready pod: callers resolve every replica and spread their calls round robin (a
ClusterIP would pin each caller's long-lived gRPC channel to one pod, whatever the autoscaler adds). */}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "tango.componentFullname" . }}-headless
  labels:  {{- /* its own component label: the stage's ServiceMonitor selects the Service with the metrics port */}}
    {{- include "tango.commonLabels" .root | nindent 4 }}
    app.kubernetes.io/component: {{ include "tango.componentName" . }}-headless
spec:
  clusterIP: None
  selector:
    {{- include "tango.selectorLabels" . | nindent 4 }}
  ports:
    - {name: grpc, port: {{ $values.service.grpcPort }}, targetPort: grpc, protocol: TCP, appProtocol: grpc}
{{- end }}
{{- end }}
{{- end }}

{{- define "tango.hpa" -}}
{{- $values := index .root.Values .key -}}
{{- if and $values.enabled $values.autoscaling.enabled }}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "tango.componentFullname" . }}
  labels:
    {{- include "tango.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "tango.componentFullname" . }}
  minReplicas: {{ $values.autoscaling.minReplicas }}
  maxReplicas: {{ $values.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $values.autoscaling.targetCPUUtilizationPercentage }}
    - type: Pods
      pods:
        metric:
          name: {{ $values.autoscaling.metricName }}
        target:
          type: AverageValue
          averageValue: {{ $values.autoscaling.inflightRequestsPerPod | quote }}
  behavior:
    scaleUp:
      stabilizationWindowSeconds: 30
      policies:
        - {type: Pods, value: 2, periodSeconds: 60}
    scaleDown:
      stabilizationWindowSeconds: 300
      policies:
        - {type: Pods, value: 1, periodSeconds: 120}
{{- end }}
{{- end }}

{{- define "tango.pdb" -}}
{{- $values := index .root.Values .key -}}
{{- if and $values.enabled $values.pdb.enabled }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "tango.componentFullname" . }}
  labels:
    {{- include "tango.labels" . | nindent 4 }}
spec:
  maxUnavailable: {{ $values.pdb.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "tango.selectorLabels" . | nindent 6 }}
{{- end }}
{{- end }}

{{- define "tango.serviceMonitor" -}}
{{- $values := index .root.Values .key -}}
{{- $sm := .root.Values.metrics.serviceMonitor -}}
{{- if and $values.enabled $sm.enabled }}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ include "tango.componentFullname" . }}
  labels:
    {{- include "tango.labels" . | nindent 4 }}
    {{- with $sm.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  selector:
    matchLabels:
      {{- include "tango.selectorLabels" . | nindent 6 }}
  namespaceSelector:
    matchNames: [{{ .root.Release.Namespace | quote }}]
  endpoints:
    - port: metrics
      path: /metrics
      interval: {{ $sm.interval }}
      scrapeTimeout: {{ $sm.scrapeTimeout }}
{{- end }}
{{- end }}

{{/* Pod selector of one component of this release. */}}
{{- define "tango.peer" -}}
- podSelector:
    matchLabels:
      {{- include "tango.selectorLabels" . | nindent 6 }}
{{- end }}

{{- define "tango.networkPolicy" -}}
{{- $values := index .root.Values .key -}}
{{- $np := .root.Values.networkPolicy -}}
{{- $ctx := . -}}
{{- if and $values.enabled $np.enabled }}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "tango.componentFullname" . }}
  labels:
    {{- include "tango.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "tango.selectorLabels" . | nindent 6 }}
  policyTypes: [Ingress]
  ingress:
    - ports:
        {{- with $values.service.httpPort }}
        - {port: {{ . }}, protocol: TCP}
        {{- end }}
        - {port: {{ $values.service.grpcPort }}, protocol: TCP}
      {{- if .clientFacing }}
      {{- with $np.clients }}
      from:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- else }}
      from:
        {{- range .callers }}
        {{- include "tango.peer" (dict "root" $ctx.root "key" .) | nindent 8 }}
        {{- end }}
      {{- end }}
    - ports:
        - {port: {{ $values.service.metricsPort }}, protocol: TCP}
      from:
        - namespaceSelector:
            {{- toYaml $np.prometheus.namespaceSelector | nindent 12 }}
          podSelector:
            {{- toYaml $np.prometheus.podSelector | nindent 12 }}
{{- end }}
{{- end }}

{{/*
The two kinds of Deployment: a Python gRPC service (`tango serve <svc>`) and a Triton server.
Context: (dict "root" $ "key" "<values key>" "upstreams" (list (list "ENV_NAME" "<values key>") ...)).
*/}}

{{- define "tango.pythonDeployment" -}}
{{- $values := index .root.Values .key -}}
{{- $svc := include "tango.componentName" . -}}
{{- $SVC := upper $svc -}}
{{- $ctx := . -}}
{{- if $values.enabled }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "tango.componentFullname" . }}
  labels:
    {{- include "tango.labels" . | nindent 4 }}
spec:
  {{- if not $values.autoscaling.enabled }}
  replicas: {{ $values.replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "tango.selectorLabels" . | nindent 6 }}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}
  template:
    {{- include "tango.podMetadata" . | nindent 4 }}
    spec:
      {{- include "tango.podSpecHeader" . | nindent 6 }}
      terminationGracePeriodSeconds: 30
      containers:
        - name: {{ $svc }}
          image: {{ include "tango.image" . }}
          imagePullPolicy: {{ .root.Values.global.imagePullPolicy }}
          args: ["serve", {{ $svc | quote }}]
          ports:
            - {name: grpc, containerPort: {{ $values.service.grpcPort }}, protocol: TCP}
            - {name: metrics, containerPort: {{ $values.service.metricsPort }}, protocol: TCP}
          env:
            - name: TANGO_HOST
              value: 0.0.0.0
            - name: TANGO_{{ $SVC }}_PORT
              value: {{ $values.service.grpcPort | quote }}
            - name: TANGO_{{ $SVC }}_METRICS_PORT
              value: {{ $values.service.metricsPort | quote }}
            {{- range .upstreams }}
            {{- $target := dict "root" $ctx.root "key" (index . 1) }}
            - name: {{ index . 0 }}
              {{- if (index $ctx.root.Values (index . 1)).service.httpPort }}
              value: {{ include "tango.grpcAddress" $target | quote }}
              {{- else }}
              value: {{ include "tango.stageTarget" $target | quote }}
              {{- end }}
            {{- end }}
            {{- if eq $svc "orchestrator" }}
            {{- include "tango.jobStoreEnv" .root | nindent 12 }}
            - name: TANGO_ORCHESTRATOR_INGEST_RANGES
              value: {{ .root.Values.perception.ingestRanges | quote }}
            {{- end }}
            {{- if and (eq $svc "orchestrator") .root.Values.auth.enabled }}
            {{- include "tango.authEnv" .root | nindent 12 }}
            {{- end }}
            {{- if eq $svc "render" }}
            - name: TANGO_RENDER_INTERPOLATOR
              value: {{ .root.Values.transitions.model | quote }}
            - name: TANGO_RENDER_INTERPOLATOR_FALLBACK
              value: {{ .root.Values.transitions.fallback | quote }}
            {{- end }}
            {{- if and (eq $svc "trainer") $values.jobs.enabled }}
            {{- include "tango.trainerJobEnv" . | nindent 12 }}
            {{- end }}
            {{- if .root.Values.tls.enabled }}
            {{- include "tango.tlsEnv" . | nindent 12 }}
            {{- end }}
            {{- include "tango.commonEnv" . | nindent 12 }}
          startupProbe:
            {{- include "tango.grpcProbe" . | nindent 12 }}
            periodSeconds: 5
            failureThreshold: 60
          readinessProbe:
            {{- include "tango.grpcProbe" . | nindent 12 }}
            periodSeconds: 10
            failureThreshold: 3
          livenessProbe:
            {{- include "tango.grpcProbe" . | nindent 12 }}
            periodSeconds: 20
            failureThreshold: 3
          resources:
            {{- toYaml $values.resources | nindent 12 }}
          securityContext:
            {{- include "tango.containerSecurityContext" . | nindent 12 }}
          volumeMounts:
            {{- include "tango.commonVolumeMounts" . | nindent 12 }}
            {{- if .root.Values.tls.enabled }}
            {{- include "tango.tlsVolumeMount" . | nindent 12 }}
            {{- end }}
            {{- if and (eq $svc "orchestrator") .root.Values.auth.enabled .root.Values.auth.existingSecret }}
            - name: api-keys
              mountPath: /etc/tango/auth
              readOnly: true
            {{- end }}
      volumes:
        {{- include "tango.commonVolumes" . | nindent 8 }}
        {{- if .root.Values.tls.enabled }}
        {{- include "tango.tlsVolume" . | nindent 8 }}
        {{- end }}
        {{- if and (eq $svc "orchestrator") .root.Values.auth.enabled .root.Values.auth.existingSecret }}
        - name: api-keys
          secret:
            secretName: {{ .root.Values.auth.existingSecret }}
            items: [{key: {{ .root.Values.auth.apiKeysKey }}, path: api_keys}]
        {{- end }}
{{- end }}
{{- end }}

{{- define "tango.tritonDeployment" -}}
{{- $values := index .root.Values .key -}}
{{- $name := include "tango.componentName" . -}}
{{- if $values.enabled }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "tango.componentFullname" . }}
  labels:
    {{- include "tango.labels" . | nindent 4 }}
spec:
  {{- if not $values.autoscaling.enabled }}
  replicas: {{ $values.replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "tango.selectorLabels" . | nindent 6 }}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}
  template:
    {{- include "tango.podMetadata" . | nindent 4 }}
    spec:
      {{- include "tango.podSpecHeader" . | nindent 6 }}
      terminationGracePeriodSeconds: 60
      containers:
        - name: tritonserver
          image: {{ include "tango.image" . }}
          imagePullPolicy: {{ .root.Values.global.imagePullPolicy }}
          args:
            - --model-repository=/models
            - --strict-readiness=true
            - --exit-on-error=false
            - --http-port={{ $values.service.httpPort }}
            - --grpc-port={{ $values.service.grpcPort }}
            - --metrics-port={{ $values.service.metricsPort }}
            - --allow-metrics=true
            - --allow-gpu-metrics={{ $values.gpu.enabled }}
            - --backend-config=python,shm-default-byte-size=4194304
            {{- with $values.models }}
            - --model-control-mode=explicit
            {{- range . }}
            - --load-model={{ . }}
            {{- end }}
            {{- end }}
            {{- with $values.modelConfigName }}
            - --model-config-name={{ . }}
            {{- end }}
            {{- range $values.extraArgs }}
            - {{ . | quote }}
            {{- end }}
            {{- if .root.Values.tls.enabled }}
            - --grpc-use-ssl-mutual=true
            - --grpc-server-cert=/etc/tango/tls/tls.crt
            - --grpc-server-key=/etc/tango/tls/tls.key
            - --grpc-root-cert=/etc/tango/tls/ca.crt
            {{- end }}
          ports:
            - {name: http, containerPort: {{ $values.service.httpPort }}, protocol: TCP}
            - {name: grpc, containerPort: {{ $values.service.grpcPort }}, protocol: TCP}
            - {name: metrics, containerPort: {{ $values.service.metricsPort }}, protocol: TCP}
          env:
            - name: TANGO_CHECKPOINT_ROOT
              value: {{ .root.Values.artifacts.checkpointRoot | quote }}
            {{- if $values.weights.existingClaim }}
            - name: {{ $values.weights.env }}
              value: {{ $values.weights.mountPath | quote }}
            {{- end }}
            {{- include "tango.commonEnv" . | nindent 12 }}
          startupProbe:
            httpGet: {path: /v2/health/ready, port: http}
            periodSeconds: 5
            failureThreshold: 120
          readinessProbe:
            httpGet: {path: /v2/health/ready, port: http}
            periodSeconds: 10
            failureThreshold: 3
          livenessProbe:
            httpGet: {path: /v2/health/live, port: http}
            periodSeconds: 20
            failureThreshold: 3
          resources:
            requests:
              {{- toYaml $values.resources.requests | nindent 14 }}
              {{- if $values.gpu.enabled }}
              {{ $values.gpu.resourceName }}: {{ $values.gpu.count }}
              {{- end }}
            limits:
              {{- toYaml $values.resources.limits | nindent 14 }}
              {{- if $values.gpu.enabled }}
              {{ $values.gpu.resourceName }}: {{ $values.gpu.count }}
              {{- end }}
          securityContext:
            {{- include "tango.containerSecurityContext" . | nindent 12 }}
          volumeMounts:
            {{- include "tango.commonVolumeMounts" . | nindent 12 }}
            - name: dshm
              mountPath: /dev/shm
            {{- if .root.Values.tls.enabled }}
            {{- include "tango.tlsVolumeMount" . | nindent 12 }}
            {{- end }}
            {{- if $values.modelRepository.existingClaim }}
            - name: model-repository
              mountPath: /models
              readOnly: true
              {{- with $values.modelRepository.subPath }}
              subPath: {{ . }}
              {{- end }}
            {{- end }}
            {{- if $values.weights.existingClaim }}
            - name: weights
              mountPath: {{ $values.weights.mountPath }}
              readOnly: true
              {{- with $values.weights.subPath }}
              subPath: {{ . }}
              {{- end }}
            {{- end }}
      volumes:
        {{- include "tango.commonVolumes" . | nindent 8 }}
        - name: dshm
          emptyDir:
            medium: Memory
            sizeLimit: {{ $values.shmSizeLimit }}
        {{- if $values.modelRepository.existingClaim }}
        - name: model-repository
          persistentVolumeClaim:
            claimName: {{ $values.modelRepository.existingClaim }}
            readOnly: true
        {{- end }}
        {{- if $values.weights.existingClaim }}
        - name: weights
          persistentVolumeClaim:
            claimName: {{ $values.weights.existingClaim }}
            readOnly: true
        {{- end }}
        {{- if .root.Values.tls.enabled }}
        {{- include "tango.tlsVolume" . | nindent 8 }}
        {{- end }}
{{- end }}
{{- end }}

{{/* The trainer's Kubernetes Job settings (TANGO_TRAINER_EXECUTOR=kubernetes, TANGO_JOBS_*). */}}
{{- define "tango.trainerJobEnv" -}}
{{- $values := .root.Values.trainer -}}
{{- $jobs := $values.jobs -}}
{{- $selector := list -}}
{{- range $key, $value := $jobs.nodeSelector }}
{{- $selector = append $selector (printf "%s=%s" $key $value) -}}
{{- end }}
- name: TANGO_TRAINER_EXECUTOR
  value: kubernetes
- name: TANGO_JOBS_IMAGE
  value: {{ include "tango.image" (dict "root" .root "key" "trainer" "image" $jobs.image) | quote }}
- name: TANGO_JOBS_NAMESPACE
  value: {{ .root.Release.Namespace | quote }}
- name: TANGO_JOBS_SERVICE_ACCOUNT
  value: {{ include "tango.serviceAccountName" .root | quote }}
- name: TANGO_JOBS_NODE_SELECTOR
  value: {{ join "," $selector | quote }}
- name: TANGO_JOBS_TOLERATIONS
  value: {{ toJson $jobs.tolerations | quote }}
- name: TANGO_JOBS_CPU
  value: {{ $jobs.cpu | quote }}
- name: TANGO_JOBS_MEMORY
  value: {{ $jobs.memory | quote }}
- name: TANGO_JOBS_GPUS
  value: {{ $jobs.gpus | quote }}
- name: TANGO_JOBS_ACTIVE_DEADLINE_S
  value: {{ $jobs.activeDeadlineSeconds | quote }}
{{- if .root.Values.artifacts.persistence.enabled }}
- name: TANGO_JOBS_ARTIFACT_CLAIM
  value: {{ include "tango.artifactClaimName" .root | quote }}
{{- end }}
{{- if .root.Values.artifacts.s3.enabled }}
- name: TANGO_JOBS_S3_SECRET
  value: {{ .root.Values.artifacts.s3.existingSecret | quote }}
{{- end }}
{{- end }}

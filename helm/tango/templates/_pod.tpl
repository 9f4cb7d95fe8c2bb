{{/*
Pod pieces shared by every workload: security contexts, storage, environment, scheduling.
Context: (dict "root" $ "key" "<values key>").
*/}}

{{- define "tango.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .root.Values.securityContext.runAsUser }}
runAsGroup: {{ .root.Values.securityContext.runAsGroup }}
fsGroup: {{ .root.Values.securityContext.fsGroup }}
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "tango.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .root.Values.securityContext.runAsUser }}
runAsGroup: {{ .root.Values.securityContext.runAsGroup }}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: ["ALL"]
{{- end }}

{{/* Environment of every container: storage, writable cache locations, secrets. */}}
{{- define "tango.commonEnv" -}}
{{- $v := .root.Values -}}
- name: TANGO_DATA_URI
  value: {{ $v.artifacts.uri | quote }}
- name: TANGO_ALLOWED_ROOTS
  value: {{ $v.artifacts.allowedRoots | quote }}
- name: HOME
  value: /tmp
- name: TMPDIR
  value: /tmp
- name: XDG_CACHE_HOME
  value: /tmp/.cache
- name: NUMBA_CACHE_DIR
  value: /tmp/numba
- name: MPLCONFIGDIR
  value: /tmp/matplotlib
{{- if $v.artifacts.s3.enabled }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ required "artifacts.s3.existingSecret is required when artifacts.s3.enabled" $v.artifacts.s3.existingSecret }}
      key: AWS_ACCESS_KEY_ID
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $v.artifacts.s3.existingSecret }}
      key: AWS_SECRET_ACCESS_KEY
- name: AWS_DEFAULT_REGION
  value: {{ $v.artifacts.s3.region | quote }}
{{- with $v.artifacts.s3.endpoint }}
- name: AWS_ENDPOINT_URL
  value: {{ . | quote }}
{{- end }}
{{- end }}
{{- range $name, $value := (index $v .key).extraEnv }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- end }}

{{/* Volumes of every pod: /tmp, artifact storage, optional TLS. */}}
{{- define "tango.commonVolumes" -}}
{{- $v := .root.Values -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ $v.securityContext.tmpSizeLimit }}
{{- if $v.artifacts.persistence.enabled }}
- name: artifacts
  persistentVolumeClaim:
    claimName: {{ include "tango.artifactClaimName" .root }}
{{- end }}
{{- end }}

{{- define "tango.commonVolumeMounts" -}}
{{- $v := .root.Values -}}
- name: tmp
  mountPath: /tmp
{{- if $v.artifacts.persistence.enabled }}
- name: artifacts
  mountPath: {{ $v.artifacts.persistence.mountPath }}
{{- end }}
{{- end }}

{{/* nodeSelector / tolerations / spread of a component's pods. */}}
{{- define "tango.scheduling" -}}
{{- $values := index .root.Values .key -}}
{{- with $values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "tango.selectorLabels" . | nindent 8 }}
{{- end }}

{{/* Pod metadata + spec header shared by Python services and Triton. */}}
{{- define "tango.podMetadata" -}}
{{- $values := index .root.Values .key -}}
metadata:
  labels:
    {{- include "tango.labels" . | nindent 4 }}
  {{- with $values.podAnnotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}

{{- define "tango.podSpecHeader" -}}
{{- if and (eq .key "trainer") .root.Values.trainer.jobs.enabled }}
{{- /* the trainer launches and watches its training Jobs through the API server (templates/trainer/rbac.yaml) */}}
serviceAccountName: {{ include "tango.componentFullname" . }}
automountServiceAccountToken: true
{{- else }}
serviceAccountName: {{ include "tango.serviceAccountName" .root }}
automountServiceAccountToken: false
{{- end }}
enableServiceLinks: false
securityContext:
  {{- include "tango.podSecurityContext" . | nindent 2 }}
{{- with .root.Values.global.imagePullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ . }}
  {{- end }}
{{- end }}
{{- include "tango.scheduling" . }}
{{- end }}

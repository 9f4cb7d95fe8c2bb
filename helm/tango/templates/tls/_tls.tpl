{{/*
Mutual TLS between the components (tango.runtime.tls): one cert-manager Certificate per component, its Secret
mounted at /etc/tango/tls, the TANGO_TLS_* files pointing into it, and probes that can speak TLS.
Context of each helper: (dict "root" $ "key" "<values key>").
*/}}

{{- define "tango.tlsSecretName" -}}
{{- printf "%s-tls" (include "tango.componentFullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* A component's certificate: server and client use, for its Service names (plain and headless, short and
namespaced) and for loopback (its own probes, Triton's start-up check). */}}
{{- define "tango.certificate" -}}
{{- $values := index .root.Values .key -}}
{{- if $values.enabled }}
{{- $name := include "tango.componentFullname" . -}}
{{- $ns := .root.Release.Namespace -}}
{{- $tls := .root.Values.tls -}}
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: {{ $name }}
  labels:
    {{- include "tango.labels" . | nindent 4 }}
spec:
  secretName: {{ include "tango.tlsSecretName" . }}
  issuerRef:
    name: {{ required "tls.issuerRef.name is required when tls.enabled" $tls.issuerRef.name }}
    kind: {{ $tls.issuerRef.kind }}
    group: {{ $tls.issuerRef.group }}
  duration: {{ $tls.duration }}
  renewBefore: {{ $tls.renewBefore }}
  privateKey: {algorithm: ECDSA, size: 256, rotationPolicy: Always}
  usages: [digital signature, key encipherment, server auth, client auth]
  commonName: {{ $name }}
  dnsNames:
    - {{ $name }}
    - {{ $name }}-headless
    - {{ $name }}.{{ $ns }}.svc
    - {{ $name }}-headless.{{ $ns }}.svc
    - localhost
  ipAddresses: [127.0.0.1]
{{- end }}
{{- end }}

{{- define "tango.tlsEnv" -}}
- name: TANGO_TLS_CERT_FILE
  value: /etc/tango/tls/tls.crt
- name: TANGO_TLS_KEY_FILE
  value: /etc/tango/tls/tls.key
- name: TANGO_TLS_CA_FILE
  value: /etc/tango/tls/ca.crt
{{- end }}

{{- define "tango.tlsVolumeMount" -}}
- name: tls
  mountPath: /etc/tango/tls
  readOnly: true
{{- end }}

{{- define "tango.tlsVolume" -}}
- name: tls
  secret:
    secretName: {{ include "tango.tlsSecretName" . }}
{{- end }}

{{/* kubelet's gRPC probe speaks plaintext: with TLS the probe runs the health check with the certificate. */}}
{{- define "tango.grpcProbe" -}}
{{- $values := index .root.Values .key -}}
{{- if .root.Values.tls.enabled -}}
exec:
  command: [python, -m, tango.mesh.health, "127.0.0.1:{{ $values.service.grpcPort }}"]
timeoutSeconds: 5
{{- else -}}
grpc: {port: {{ $values.service.grpcPort }}}
{{- end }}
{{- end }}

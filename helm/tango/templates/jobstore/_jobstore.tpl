{{/*
The orchestrators' shared job store. With a PostgreSQL DSN (a Secret: existing, or the opt-in in-chart
PostgreSQL's) every orchestrator replica claims jobs from it; without one, the orchestrator keeps SQLite on
the artifact volume, which one replica only may use.
*/}}

{{- define "tango.jobStoreSecret" -}}
{{- if .Values.jobStore.postgresql.enabled -}}
{{- printf "%s-jobstore" (include "tango.fullname" .) -}}
{{- else -}}
{{- .Values.jobStore.existingSecret -}}
{{- end -}}
{{- end }}

{{/* Env of the orchestrator container (context: the root). Fails where replicas would share SQLite. */}}
{{- define "tango.jobStoreEnv" -}}
{{- $secret := include "tango.jobStoreSecret" . -}}
{{- $o := .Values.orchestrator -}}
{{- $most := ternary $o.autoscaling.maxReplicas $o.replicas $o.autoscaling.enabled -}}
{{- if and (not $secret) (gt (int $most) 1) -}}
{{- fail "orchestrator replicas > 1 need a PostgreSQL job store: set jobStore.existingSecret (or jobStore.postgresql.enabled for a trial)" -}}
{{- end -}}
- name: TANGO_ORCHESTRATOR_LEASE_S
  value: {{ .Values.jobStore.leaseSeconds | quote }}
{{- if $secret }}
- name: TANGO_ORCHESTRATOR_DATABASE
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ .Values.jobStore.dsnKey }}
{{- end }}
{{- end }}

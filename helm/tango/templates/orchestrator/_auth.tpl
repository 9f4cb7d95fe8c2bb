{{/*
Bearer tokens at the orchestrator's door (tango.runtime.tokens): API keys (hashed, from the Secret mounted at
/etc/tango/auth by the deployment) and/or JWTs verified against an identity provider's JWKS.
*/}}

{{/* Env of the orchestrator container (context: the root). Fails where auth is enabled with nothing to check. */}}
{{- define "tango.authEnv" -}}
{{- $auth := .Values.auth -}}
{{- if not (or $auth.existingSecret $auth.jwks) -}}
{{- fail "auth.enabled needs auth.existingSecret (hashed API keys) and/or auth.jwks (an identity provider)" -}}
{{- end -}}
{{- if $auth.existingSecret }}
- name: TANGO_ORCHESTRATOR_API_KEYS_FILE
  value: /etc/tango/auth/api_keys
{{- end }}
{{- if $auth.jwks }}
- name: TANGO_ORCHESTRATOR_JWKS
  value: {{ $auth.jwks | quote }}
- name: TANGO_ORCHESTRATOR_JWT_ISSUER
  value: {{ $auth.issuer | quote }}
- name: TANGO_ORCHESTRATOR_JWT_AUDIENCE
  value: {{ $auth.audience | quote }}
- name: TANGO_ORCHESTRATOR_JWT_TENANT_CLAIM
  value: {{ $auth.tenantClaim | quote }}
- name: TANGO_ORCHESTRATOR_JWT_SCOPE
  value: {{ $auth.scope | quote }}
{{- end }}
{{- end }}

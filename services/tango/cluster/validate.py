"""Offline validation of Kubernetes objects: built-in kinds against the Kubernetes OpenAPI schemas
(`kubernetes-validate`, strict: unknown fields are errors), CRD kinds by a field check of their own.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

KUBE_VERSION = "1.30"


def _check_service_monitor(body: Mapping[str, Any]) -> list[str]:
    """monitoring.coreos.com/v1 ServiceMonitor: the fields the Prometheus Operator needs."""
    errors = []
    spec = body.get("spec") or {}
    unknown = set(spec) - {"selector", "namespaceSelector", "endpoints", "jobLabel", "podTargetLabels",
                           "targetLabels", "sampleLimit", "attachMetadata"}
    if unknown:
        errors.append(f"spec has unknown fields {sorted(unknown)}")
    if not (spec.get("selector") or {}).get("matchLabels"):
        errors.append("spec.selector.matchLabels is empty")
    endpoints = spec.get("endpoints") or []
    if not endpoints:
        errors.append("spec.endpoints is empty")
    for index, endpoint in enumerate(endpoints):
        if not isinstance(endpoint.get("port"), str):
            errors.append(f"spec.endpoints[{index}].port must name a Service port")
        if not str(endpoint.get("path", "/metrics")).startswith("/"):
            errors.append(f"spec.endpoints[{index}].path must start with /")
    return errors


def _check_certificate(body: Mapping[str, Any]) -> list[str]:
    """cert-manager.io/v1 Certificate: the fields cert-manager needs, and the usages mutual TLS needs."""
    errors = []
    spec = body.get("spec") or {}
    unknown = set(spec) - {"secretName", "issuerRef", "duration", "renewBefore", "privateKey", "usages", "commonName",
                           "dnsNames", "ipAddresses", "uris", "emailAddresses", "subject", "secretTemplate",
                           "isCA", "revisionHistoryLimit"}
    if unknown:
        errors.append(f"spec has unknown fields {sorted(unknown)}")
    if not spec.get("secretName"):
        errors.append("spec.secretName is empty")
    issuer = spec.get("issuerRef") or {}
    if not issuer.get("name") or issuer.get("kind") not in ("Issuer", "ClusterIssuer"):
        errors.append("spec.issuerRef needs a name and kind Issuer or ClusterIssuer")
    if not {"server auth", "client auth"} <= set(spec.get("usages") or ()):
        errors.append("spec.usages must hold server auth and client auth (mutual TLS)")
    if not (spec.get("dnsNames") or spec.get("ipAddresses")):
        errors.append("spec has no dnsNames nor ipAddresses")
    return errors


CRD_CHECKS: dict[tuple[str, str], Callable[[Mapping[str, Any]], list[str]]] = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): _check_service_monitor,
    ("cert-manager.io/v1", "Certificate"): _check_certificate,
}


def validate_object(body: Mapping[str, Any], kube_version: str = KUBE_VERSION) -> list[str]:
    """Errors of one object (empty = valid). Unknown CRD kinds are errors: nothing may pass unchecked."""
    import kubernetes_validate

    key = (body.get("apiVersion", ""), body.get("kind", ""))
    name = f"{key[1]}/{(body.get('metadata') or {}).get('name', '?')}"
    if key in CRD_CHECKS:
        return [f"{name}: {message}" for message in CRD_CHECKS[key](body)]
    try:
        kubernetes_validate.validate(dict(body), kube_version, strict=True)
    except kubernetes_validate.ValidationError as error:
        path = ".".join(str(p) for p in error.path)
        return [f"{name}: {path}: {error.message}"]
    except kubernetes_validate.SchemaNotFoundError:
        return [f"{name}: no schema for {key[0]} {key[1]} in Kubernetes {kube_version}"]
    return []


def validate_objects(bodies: list[Mapping[str, Any]], kube_version: str = KUBE_VERSION) -> list[str]:
    errors: list[str] = []
    for body in bodies:
        errors.extend(validate_object(body, kube_version))
    return errors

"""What the tango stages look like in a cluster: desired/ready replicas and HPA targets vs current values.

`cluster_status(api_client, namespace)` reads the Deployments and HorizontalPodAutoscalers (autoscaling/v2)
labelled `app.kubernetes.io/part-of=tango` and returns a plain dict (JSON-serialisable), keyed by stage
(`app.kubernetes.io/component`).
"""
from __future__ import annotations

from typing import Any

PART_OF_SELECTOR = "app.kubernetes.io/part-of=tango"
COMPONENT_LABEL = "app.kubernetes.io/component"


def _metric_target(target) -> str | None:
    if target is None:
        return None
    if target.average_utilization is not None:
        return f"{target.average_utilization}%"
    return target.average_value or target.value


def _metric_current(current) -> str | None:
    if current is None:
        return None
    if current.average_utilization is not None:
        return f"{current.average_utilization}%"
    return current.average_value or current.value


def _metric_source(metric) -> tuple[str, Any]:
    """(name, source object) of a MetricSpec or MetricStatus, whatever its type."""
    if metric.type == "Resource":
        return metric.resource.name, metric.resource
    if metric.type == "Pods":
        return metric.pods.metric.name, metric.pods
    if metric.type == "Object":
        return metric.object.metric.name, metric.object
    if metric.type == "External":
        return metric.external.metric.name, metric.external
    if metric.type == "ContainerResource":
        return metric.container_resource.name, metric.container_resource
    return metric.type, None


def hpa_summary(hpa) -> dict[str, Any]:
    """Targets (spec) and current values (status) of one autoscaling/v2 HPA, metric by metric."""
    current_by_name = {}
    for metric_status in (hpa.status.current_metrics or []) if hpa.status else []:
        name, source = _metric_source(metric_status)
        current_by_name[(metric_status.type, name)] = _metric_current(getattr(source, "current", None))
    metrics = []
    for metric_spec in hpa.spec.metrics or []:
        name, source = _metric_source(metric_spec)
        metrics.append({
            "type": metric_spec.type,
            "name": name,
            "target": _metric_target(getattr(source, "target", None)),
            "current": current_by_name.get((metric_spec.type, name)),
        })
    status = hpa.status
    return {
        "name": hpa.metadata.name,
        "min_replicas": hpa.spec.min_replicas,
        "max_replicas": hpa.spec.max_replicas,
        "current_replicas": status.current_replicas if status else None,
        "desired_replicas": status.desired_replicas if status else None,
        "metrics": metrics,
    }


def deployment_summary(deployment) -> dict[str, Any]:
    status = deployment.status
    return {
        "deployment": deployment.metadata.name,
        "desired": deployment.spec.replicas if deployment.spec.replicas is not None else 1,
        "ready": (status.ready_replicas or 0) if status else 0,
        "updated": (status.updated_replicas or 0) if status else 0,
        "available": (status.available_replicas or 0) if status else 0,
        "hpa": None,
    }


def cluster_status(api_client, namespace: str) -> dict[str, Any]:
    """Per stage: desired/ready replicas and, when the stage is autoscaled, its HPA summary."""
    from kubernetes import client

    deployments = client.AppsV1Api(api_client).list_namespaced_deployment(
        namespace, label_selector=PART_OF_SELECTOR).items
    hpas = client.AutoscalingV2Api(api_client).list_namespaced_horizontal_pod_autoscaler(
        namespace, label_selector=PART_OF_SELECTOR).items
    stages: dict[str, dict[str, Any]] = {}
    for deployment in sorted(deployments, key=lambda d: d.metadata.name):
        labels = deployment.metadata.labels or {}
        stages[labels.get(COMPONENT_LABEL, deployment.metadata.name)] = deployment_summary(deployment)
    by_deployment = {s["deployment"]: s for s in stages.values()}
    for hpa in hpas:
        ref = hpa.spec.scale_target_ref
        if ref.kind == "Deployment" and ref.name in by_deployment:
            by_deployment[ref.name]["hpa"] = hpa_summary(hpa)
    ready = all(s["ready"] >= max(s["desired"], 1) for s in stages.values()) and bool(stages)
    return {"namespace": namespace, "ready": ready, "stages": stages}


def format_status(status: dict[str, Any]) -> str:
    """A fixed-width table of `cluster_status` for terminals."""
    lines = [f"namespace {status['namespace']}: {'ready' if status['ready'] else 'NOT ready'}",
             f"{'STAGE':<18}{'READY':>8}{'DESIRED':>9}  HPA (current/target)"]
    for stage, summary in status["stages"].items():
        hpa = summary["hpa"]
        if hpa is None:
            autoscaling = "-"
        else:
            parts = [f"{m['name']} {m['current'] or '?'}/{m['target']}" for m in hpa["metrics"]]
            autoscaling = f"{hpa['min_replicas']}..{hpa['max_replicas']} pods; " + ", ".join(parts)
        lines.append(f"{stage:<18}{summary['ready']:>8}{summary['desired']:>9}  {autoscaling}")
    return "\n".join(lines)

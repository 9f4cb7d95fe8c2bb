"""Kubernetes Jobs for long batch work (speaker ingest, AuMoCLIP fine-tuning) on a dedicated node pool.

`build_job(pool, request)` returns a `kubernetes.client.V1Job` that runs `tango <args>` in the tango
image with the pool's nodeSelector, tolerations and resources, the same hardening as the chart's pods
(non-root, read-only root filesystem, no capabilities) and the shared artifact storage. The Job name
derives from the request id, so submitting the same request twice is refused by the API server
(AlreadyExists) instead of running twice. `submit_job` creates it; `submit_if_configured` does so only
when a job image is configured (TANGO_JOBS_IMAGE).
"""
from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import os
import re
from typing import Any, Mapping

from tango.runtime.errors import AlreadyExists, InvalidArgument

JOB_LABEL_PART_OF = "tango"
TOLERATION_FIELDS = {"key", "operator", "value", "effect", "tolerationSeconds"}


class JobWorkload(str, enum.Enum):
    SPEAKER_INGEST = "speaker-ingest"
    AUMOCLIP_FINETUNE = "aumoclip-finetune"


@dataclasses.dataclass(frozen=True)
class JobPoolConfig:
    """Where and how batch Jobs run. Read from TANGO_JOBS_* by `from_env`."""

    image: str = ""  # empty = Jobs are not submitted (disabled)
    namespace: str = "tango"
    service_account: str = "tango"
    node_selector: Mapping[str, str] = dataclasses.field(default_factory=dict)
    tolerations: tuple[Mapping[str, Any], ...] = ()
    cpu: str = "4"
    memory: str = "16Gi"
    gpus: int = 0
    gpu_resource: str = "nvidia.com/gpu"
    data_uri: str = "file:///data"
    artifact_claim: str = ""  # ReadWriteMany claim mounted at /data; empty = none (s3 storage)
    s3_secret: str = ""  # Secret with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY; empty = none
    backoff_limit: int = 1
    active_deadline_s: int = 6 * 3600
    ttl_after_finished_s: int = 24 * 3600
    run_as_user: int = 10001
    shm_size: str = "2Gi"

    @property
    def enabled(self) -> bool:
        return bool(self.image)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "JobPoolConfig":
        env = os.environ if env is None else env
        get = lambda name, default: env.get(f"TANGO_JOBS_{name}", default)  # noqa: E731
        try:
            return cls(
                image=get("IMAGE", ""), namespace=get("NAMESPACE", "tango"),
                service_account=get("SERVICE_ACCOUNT", "tango"),
                node_selector=parse_node_selector(get("NODE_SELECTOR", "")),
                tolerations=parse_tolerations(get("TOLERATIONS", "[]")),
                cpu=get("CPU", "4"), memory=get("MEMORY", "16Gi"), gpus=int(get("GPUS", "0")),
                data_uri=env.get("TANGO_DATA_URI", "file:///data"),
                artifact_claim=get("ARTIFACT_CLAIM", ""), s3_secret=get("S3_SECRET", ""),
                active_deadline_s=int(get("ACTIVE_DEADLINE_S", str(6 * 3600))),
            )
        except ValueError as error:
            raise InvalidArgument(f"bad TANGO_JOBS_* setting: {error}", reason="BAD_CONFIG") from error


@dataclasses.dataclass(frozen=True)
class JobRequest:
    workload: JobWorkload
    args: tuple[str, ...]  # arguments of the `tango` console script, e.g. ("aumoclip", "train", ...)
    request_id: str  # idempotency key: same id -> same Job name
    gpus: int | None = None  # None = the pool's default


def parse_node_selector(text: str) -> dict[str, str]:
    """'pool=batch,gpu=a100' -> {'pool': 'batch', 'gpu': 'a100'}."""
    selector = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"node selector item {item!r} is not key=value")
        selector[key] = value
    return selector


def parse_tolerations(text: str) -> tuple[dict[str, Any], ...]:
    """A JSON list of Kubernetes tolerations (camelCase fields)."""
    loaded = json.loads(text or "[]")
    if not isinstance(loaded, list) or not all(isinstance(t, dict) for t in loaded):
        raise ValueError("tolerations must be a JSON list of objects")
    for toleration in loaded:
        unknown = set(toleration) - TOLERATION_FIELDS
        if unknown:
            raise ValueError(f"unknown toleration fields {sorted(unknown)}")
    return tuple(loaded)


def job_name(request: JobRequest) -> str:
    digest = hashlib.sha256(request.request_id.encode()).hexdigest()[:10]
    return f"tango-{request.workload.value}-{digest}"


def _resources(pool: JobPoolConfig, gpus: int):
    from kubernetes import client

    amounts: dict[str, str] = {"cpu": pool.cpu, "memory": pool.memory}
    if gpus > 0:
        amounts[pool.gpu_resource] = str(gpus)
    return client.V1ResourceRequirements(requests=dict(amounts), limits=dict(amounts))


def _env(pool: JobPoolConfig) -> list:
    from kubernetes import client

    env = [client.V1EnvVar(name=k, value=v) for k, v in (
        ("TANGO_DATA_URI", pool.data_uri), ("HOME", "/tmp"), ("TMPDIR", "/tmp"),
        ("XDG_CACHE_HOME", "/tmp/.cache"), ("NUMBA_CACHE_DIR", "/tmp/numba"), ("MPLCONFIGDIR", "/tmp/matplotlib"))]
    if pool.s3_secret:
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            selector = client.V1SecretKeySelector(name=pool.s3_secret, key=key)
            env.append(client.V1EnvVar(name=key, value_from=client.V1EnvVarSource(secret_key_ref=selector)))
    return env


def _volumes(pool: JobPoolConfig) -> tuple[list, list]:
    from kubernetes import client

    volumes = [client.V1Volume(name="tmp", empty_dir=client.V1EmptyDirVolumeSource(size_limit="20Gi")),
               client.V1Volume(name="dshm", empty_dir=client.V1EmptyDirVolumeSource(medium="Memory", size_limit=pool.shm_size))]
    mounts = [client.V1VolumeMount(name="tmp", mount_path="/tmp"), client.V1VolumeMount(name="dshm", mount_path="/dev/shm")]
    if pool.artifact_claim:
        claim = client.V1PersistentVolumeClaimVolumeSource(claim_name=pool.artifact_claim)
        volumes.append(client.V1Volume(name="artifacts", persistent_volume_claim=claim))
        mounts.append(client.V1VolumeMount(name="artifacts", mount_path="/data"))
    return volumes, mounts


def _container(pool: JobPoolConfig, request: JobRequest, mounts: list):
    from kubernetes import client

    gpus = pool.gpus if request.gpus is None else request.gpus
    security = client.V1SecurityContext(
        run_as_non_root=True, run_as_user=pool.run_as_user, run_as_group=pool.run_as_user,
        allow_privilege_escalation=False, read_only_root_filesystem=True, privileged=False,
        capabilities=client.V1Capabilities(drop=["ALL"]))
    return client.V1Container(
        name=request.workload.value, image=pool.image, command=["tango"], args=list(request.args),
        env=_env(pool), resources=_resources(pool, gpus), security_context=security, volume_mounts=mounts)


def build_job(pool: JobPoolConfig, request: JobRequest):
    """The V1Job of `request` on `pool` (not submitted)."""
    from kubernetes import client

    if not pool.image:
        raise InvalidArgument("no job image configured (TANGO_JOBS_IMAGE)", reason="JOBS_DISABLED")
    if not request.args or not re.fullmatch(r"[\x20-\x7e]+", request.request_id):
        raise InvalidArgument("a job needs tango arguments and a printable request id", reason="BAD_JOB_REQUEST")
    name = job_name(request)
    labels = {"app.kubernetes.io/part-of": JOB_LABEL_PART_OF, "app.kubernetes.io/component": request.workload.value,
              "app.kubernetes.io/managed-by": "tango"}
    volumes, mounts = _volumes(pool)
    pod_spec = client.V1PodSpec(
        restart_policy="Never", service_account_name=pool.service_account, automount_service_account_token=False,
        security_context=client.V1PodSecurityContext(
            run_as_non_root=True, run_as_user=pool.run_as_user, run_as_group=pool.run_as_user,
            fs_group=pool.run_as_user, seccomp_profile=client.V1SeccompProfile(type="RuntimeDefault")),
        node_selector=dict(pool.node_selector) or None,
        tolerations=[client.V1Toleration(**_snake_case(t)) for t in pool.tolerations] or None,
        containers=[_container(pool, request, mounts)], volumes=volumes)
    spec = client.V1JobSpec(
        backoff_limit=pool.backoff_limit, active_deadline_seconds=pool.active_deadline_s,
        ttl_seconds_after_finished=pool.ttl_after_finished_s,
        template=client.V1PodTemplateSpec(metadata=client.V1ObjectMeta(labels=labels), spec=pod_spec))
    metadata = client.V1ObjectMeta(name=name, namespace=pool.namespace, labels=labels,
                                   annotations={"tango.dev/request-id": request.request_id})
    return client.V1Job(api_version="batch/v1", kind="Job", metadata=metadata, spec=spec)


def _snake_case(toleration: Mapping[str, Any]) -> dict[str, Any]:
    return {re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower(): value for key, value in toleration.items()}


def job_manifest(job) -> dict[str, Any]:
    """The Job as the JSON/YAML body the API server receives (camelCase, no nulls)."""
    from kubernetes import client

    return client.ApiClient().sanitize_for_serialization(job)


def submit_job(api_client, job) -> str:
    """Create the Job; returns its name. A Job of the same request already there -> AlreadyExists."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    try:
        created = client.BatchV1Api(api_client).create_namespaced_job(job.metadata.namespace, job)
    except ApiException as error:
        if error.status == 409:
            raise AlreadyExists(f"job {job.metadata.name} already exists", reason="JOB_EXISTS") from error
        raise
    return created.metadata.name


def submit_if_configured(api_client, pool: JobPoolConfig, request: JobRequest) -> str | None:
    """Submit `request` as a Job when the pool is configured; None when Jobs are disabled."""
    if not pool.enabled:
        return None
    return submit_job(api_client, build_job(pool, request))


def job_phase(job) -> tuple[str, str]:
    """(phase, message) of a V1Job: "pending", "running", "succeeded" or "failed" (message: why it failed)."""
    status = job.status
    if status is None:
        return "pending", ""
    for condition in status.conditions or []:
        if condition.status != "True":
            continue
        if condition.type in ("Complete", "SuccessCriteriaMet"):
            return "succeeded", ""
        if condition.type in ("Failed", "FailureTarget"):
            return "failed", f"{condition.reason or 'Failed'}: {condition.message or ''}".rstrip(": ")
    if status.succeeded:
        return "succeeded", ""
    return ("running", "") if status.active else ("pending", "")


def read_job(api_client, namespace: str, name: str):
    """The Job's current object (with status); None when it does not exist."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    try:
        return client.BatchV1Api(api_client).read_namespaced_job_status(name, namespace)
    except ApiException as error:
        if error.status == 404:
            return None
        raise


def delete_job(api_client, namespace: str, name: str) -> None:
    """Deletes the Job and (in the background) its pods; a Job already gone is fine."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    try:
        client.BatchV1Api(api_client).delete_namespaced_job(name, namespace, propagation_policy="Background")
    except ApiException as error:
        if error.status != 404:
            raise

"""Batch Jobs (speaker ingest, AuMoCLIP fine-tuning): the objects built are valid Kubernetes 1.30 Jobs
on the configured node pool; submission goes through the real client against a local fake API server."""
from __future__ import annotations

import pytest

from tango.cluster.jobs import (JobPoolConfig, JobRequest, JobWorkload, build_job, job_manifest, job_name,
                                parse_node_selector, submit_if_configured)
from tango.cluster.validate import validate_object
from tango.runtime.errors import InvalidArgument

GPU_POOL = JobPoolConfig(
    image="ghcr.io/tango-reenact/tango-orchestrator:0.1.0", namespace="batch",
    node_selector={"tango.dev/pool": "gpu-train"},
    tolerations=({"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},),
    cpu="8", memory="32Gi", gpus=1, artifact_claim="tango-artifacts", s3_secret="tango-s3")


def finetune_request(request_id="req-42") -> JobRequest:
    return JobRequest(JobWorkload.AUMOCLIP_FINETUNE, ("aumoclip", "train", "--speaker", "oliver"), request_id)


def test_finetune_job_is_valid_for_kubernetes_1_30_and_lands_on_the_gpu_pool():
    body = job_manifest(build_job(GPU_POOL, finetune_request()))
    assert validate_object(body, "1.30") == []
    pod = body["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"tango.dev/pool": "gpu-train"}
    assert pod["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    container = pod["containers"][0]
    assert container["command"] == ["tango"] and container["args"] == ["aumoclip", "train", "--speaker", "oliver"]
    assert container["resources"]["limits"] == {"cpu": "8", "memory": "32Gi", "nvidia.com/gpu": "1"}
    assert container["securityContext"]["runAsNonRoot"] and container["securityContext"]["readOnlyRootFilesystem"]
    assert pod["restartPolicy"] == "Never" and body["metadata"]["namespace"] == "batch"
    assert {"name": "artifacts", "mountPath": "/data"} in container["volumeMounts"]
    secret_env = [e for e in container["env"] if "valueFrom" in e]
    assert {e["valueFrom"]["secretKeyRef"]["name"] for e in secret_env} == {"tango-s3"}


def test_speaker_ingest_job_without_gpu_and_idempotent_name():
    request = JobRequest(JobWorkload.SPEAKER_INGEST, ("ingest", "s3://bucket/oliver.mp4"), "speaker-oliver", gpus=0)
    body = job_manifest(build_job(GPU_POOL, request))
    assert validate_object(body, "1.30") == []
    assert "nvidia.com/gpu" not in body["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert body["metadata"]["name"] == job_name(request) == build_job(GPU_POOL, request).metadata.name
    assert body["metadata"]["name"].startswith("tango-speaker-ingest-") and len(body["metadata"]["name"]) <= 63
    assert job_name(request) != job_name(finetune_request())


def test_pool_from_env_and_disabled_without_image():
    pool = JobPoolConfig.from_env({
        "TANGO_JOBS_IMAGE": "img:1", "TANGO_JOBS_NODE_SELECTOR": "pool=batch, gpu=a100",
        "TANGO_JOBS_TOLERATIONS": '[{"key": "pool", "operator": "Equal", "value": "batch", "effect": "NoSchedule"}]',
        "TANGO_JOBS_GPUS": "2", "TANGO_DATA_URI": "s3://b/p"})
    assert pool.enabled and pool.node_selector == {"pool": "batch", "gpu": "a100"} and pool.gpus == 2
    body = job_manifest(build_job(pool, finetune_request()))
    assert validate_object(body, "1.30") == []
    assert body["spec"]["template"]["spec"]["tolerations"][0]["value"] == "batch"
    assert not JobPoolConfig.from_env({}).enabled
    assert submit_if_configured(None, JobPoolConfig(), finetune_request()) is None
    with pytest.raises(InvalidArgument):
        build_job(JobPoolConfig(), finetune_request())
    with pytest.raises(InvalidArgument):
        JobPoolConfig.from_env({"TANGO_JOBS_GPUS": "two"})
    with pytest.raises(InvalidArgument):
        JobPoolConfig.from_env({"TANGO_JOBS_TOLERATIONS": '[{"keey": "x"}]'})
    with pytest.raises(ValueError):
        parse_node_selector("novalue")

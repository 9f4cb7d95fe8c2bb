"""Training as a Kubernetes Job on the training node pool, launched and watched through the API server.

The Job runs `tango trainer train --perception URI... --max-minutes M` in the trainer image (built by
`tango.cluster.jobs.build_job` with the pool's nodeSelector, tolerations, resources and the shared
artifact storage); it writes the `checkpoint` artifact to the store, where the trainer finds it when the
Job has completed. The Job name derives from the checkpoint id, so a retried request (or a second trainer
replica asked the same) adopts the running Job instead of starting another. Cancelling deletes the Job.
"""
from __future__ import annotations

import logging
import time
from typing import Callable

from tango.cluster.jobs import (JobPoolConfig, JobRequest, JobWorkload, build_job, delete_job, job_phase,
                                read_job, submit_job)
from tango.runtime.errors import AlreadyExists, Cancelled, FailedPrecondition, Unavailable
from tango.runtime.progress import ProgressFn, StopFn
from tango.trainer.training import TrainingPlan

log = logging.getLogger(__name__)
PHASE_STEPS = {"pending": 0, "running": 1, "succeeded": 2}  # progress of a Job: (step, 2)
REPLACE_WAIT_S = 60.0


def training_job_request(plan: TrainingPlan, gpus: int = 0) -> JobRequest:
    """A Job given GPUs trains on one (`--device cuda`: it fails rather than train on its CPU when it sees none)."""
    args = ["trainer", "train", "--device", "cuda" if gpus > 0 else "cpu", "--max-minutes", repr(plan.minutes),
            "--perception", *plan.perception_uris]
    return JobRequest(JobWorkload.AUMOCLIP_FINETUNE, tuple(args), request_id=f"speaker-model/{plan.key}")


class KubernetesJobExecutor:
    """`run(plan, on_progress, should_stop) -> job name`: the plan trained by a Job, watched until it ends."""

    name = "kubernetes"

    def __init__(self, pool: JobPoolConfig, api_client_factory: Callable[[], object], poll_s: float = 5.0,
                 sleep: Callable[[float], None] = time.sleep):
        self.pool = pool
        self.api_client_factory = api_client_factory
        self.poll_s = poll_s
        self.sleep = sleep

    def run(self, plan: TrainingPlan, on_progress: ProgressFn, should_stop: StopFn) -> str:
        api = self.api_client_factory()
        job = build_job(self.pool, training_job_request(plan, self.pool.gpus))
        name, namespace = job.metadata.name, job.metadata.namespace
        try:
            self._submit(api, job)
            return self._watch(api, namespace, name, on_progress, should_stop)
        except Exception as error:  # noqa: BLE001 - API errors become a retryable UNAVAILABLE
            if _is_api_error(error):
                raise Unavailable(f"Kubernetes API: {error}", reason="KUBERNETES_API_UNAVAILABLE",
                                  metadata={"job": name}) from error
            raise

    def _submit(self, api, job) -> None:
        name, namespace = job.metadata.name, job.metadata.namespace
        try:
            submit_job(api, job)
            log.info("training job submitted", extra={"job": name, "namespace": namespace})
            return
        except AlreadyExists:
            existing = read_job(api, namespace, name)
        if existing is None or job_phase(existing)[0] != "failed":
            log.info("adopting training job", extra={"job": name})
            return  # running, pending or done: watch it
        log.warning("replacing failed training job", extra={"job": name, "why": job_phase(existing)[1]})
        delete_job(api, namespace, name)
        deadline = time.monotonic() + REPLACE_WAIT_S
        while read_job(api, namespace, name) is not None:
            if time.monotonic() > deadline:
                raise Unavailable(f"the failed job {name} is still being deleted", reason="TRAINING_JOB_DELETING")
            self.sleep(min(self.poll_s, 1.0))
        submit_job(api, job)

    def _watch(self, api, namespace: str, name: str, on_progress: ProgressFn, should_stop: StopFn) -> str:
        while True:
            if should_stop():
                delete_job(api, namespace, name)
                raise Cancelled(f"training cancelled; job {name} deleted", reason="JOB_CANCELLED")
            job = read_job(api, namespace, name)
            if job is None:
                raise Unavailable(f"training job {name} disappeared", reason="TRAINING_JOB_GONE",
                                  metadata={"job": name})
            phase, why = job_phase(job)
            if phase == "failed":
                raise FailedPrecondition(f"training job {name} failed: {why}", reason="TRAINING_JOB_FAILED",
                                         metadata={"job": name})
            on_progress(f"job_{phase}", PHASE_STEPS[phase], 2)
            if phase == "succeeded":
                return name
            self.sleep(self.poll_s)


def _is_api_error(error: Exception) -> bool:
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    return isinstance(error, (ApiException, HTTPError))


def kubernetes_api_client(kubeconfig: str = ""):
    """An ApiClient from the pod's service account (in a cluster) or from a kubeconfig file."""
    from kubernetes import client, config

    if kubeconfig:
        return config.new_client_from_config(config_file=kubeconfig)
    config.load_incluster_config()
    return client.ApiClient()

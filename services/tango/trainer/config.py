from __future__ import annotations

import dataclasses

from tango.runtime.config import ServiceConfig

EXECUTORS = ("local", "kubernetes")


@dataclasses.dataclass(frozen=True)
class TrainerConfig(ServiceConfig):
    train_minutes: float = 10.0  # cap on one training when the request gives none (its budget: 150 steps, ~1.5 min)
    work_dir: str = ""  # training state until done (an interrupted training resumes); empty = <store cache>/training
    # where a training runs: "local" (this process) or "kubernetes" (a Job on the TANGO_JOBS_* node pool,
    # running `tango trainer train`, launched and watched through the Kubernetes API)
    executor: str = "local"
    job_poll_s: float = 5.0  # how often a Kubernetes Job's status is read
    kubeconfig: str = ""  # empty = the pod's in-cluster service account
    # where a local training's steps run: "cpu", "cuda", "cuda:N", or "auto" (a GPU where torch sees one);
    # a Kubernetes training Job trains on "cuda" when its pool gives it GPUs (TANGO_JOBS_GPUS), else on "cpu"
    device: str = "auto"

"""The trainer room's logic: perception artifacts -> the speaker's AuMoCLIP checkpoint id. No gRPC here.

The checkpoint is content-addressed (`training.plan_training`): a stored one is returned at once.
Otherwise the configured executor trains it: `LocalExecutor` in this process, or
`job_executor.KubernetesJobExecutor` as a Job on the training node pool. Requests for the same
checkpoint wait for one training instead of running it twice.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from tango.artifacts.store import ArtifactInfo, ArtifactStore
from tango.runtime.errors import FailedPrecondition
from tango.runtime.progress import ProgressFn, StopFn
from tango.trainer.config import TrainerConfig
from tango.trainer.metrics import TrainerMetrics
from tango.trainer.training import KIND, TrainingPlan, plan_training, train_locally


class Executor(Protocol):
    name: str

    def run(self, plan: TrainingPlan, on_progress: ProgressFn, should_stop: StopFn) -> str:
        """Trains the plan's model into the store; returns the Kubernetes Job name, or ""."""


class LocalExecutor:
    name = "local"

    def __init__(self, store: ArtifactStore, work_root: Path, device: str = "auto"):
        self.store = store
        self.work_root = work_root
        self.device = device

    def run(self, plan: TrainingPlan, on_progress: ProgressFn, should_stop: StopFn) -> str:
        train_locally(self.store, plan, self.work_root, on_progress, should_stop, self.device)
        return ""


@dataclass(frozen=True)
class TrainingOutcome:
    checkpoint: str
    artifact: ArtifactInfo
    cache_hit: bool
    seconds: float
    executor: str  # "local" | "kubernetes"; the executor configured, also for a cache hit
    job_name: str = ""


class TrainerCore:
    def __init__(self, config: TrainerConfig, store: ArtifactStore, executor: Executor, metrics: TrainerMetrics):
        self.config = config
        self.store = store
        self.executor = executor
        self.metrics = metrics
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def train(self, perception_uris: list[str], max_minutes: float, on_progress: ProgressFn,
              should_stop: StopFn) -> TrainingOutcome:
        started = time.perf_counter()
        plan = plan_training(self.store, perception_uris, max_minutes or self.config.train_minutes)
        job_name, cache_hit = "", True
        with self._lock_for(plan.key):
            if not self.store.exists(KIND, plan.key):
                cache_hit = False
                job_name = self.executor.run(plan, on_progress, should_stop)
        if not self.store.exists(KIND, plan.key):
            raise FailedPrecondition(f"the training ended but checkpoint {plan.key} is not in the store "
                                     f"({self.store.root_uri})", reason="CHECKPOINT_MISSING",
                                     metadata={"checkpoint": plan.key, "job": job_name})
        seconds = time.perf_counter() - started
        labels = (self.executor.name, "hit" if cache_hit else "miss")
        self.metrics.trainings.labels(*labels).inc()
        self.metrics.training_seconds.labels(*labels).observe(seconds)
        return TrainingOutcome(plan.key, self.store.parse(self.store.uri(KIND, plan.key)), cache_hit, seconds,
                               self.executor.name, job_name)

    def _lock_for(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

"""Speaker ingest of a long reference on several perception replicas at once.

Perception plans frame ranges (aligned to the boundaries where its trackers restart), the orchestrator
analyses the ranges in parallel (the stage channel spreads the calls round robin over the replicas) and
asks perception to merge the parts into the artifact one whole analysis makes (tango.perception.merge).
A reference shorter than two ranges, or a single replica, takes the plain single call.
"""
from __future__ import annotations

import contextvars
import threading
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

from tango.orchestrator.config import OrchestratorConfig
from tango.orchestrator.stage_clients import PerceptionOutput, ProgressFn, StageClients, StopFn, listed_replicas


class _SummedProgress:
    """One progress for all ranges: the sum of their done / total frames (parts report from threads)."""

    def __init__(self, ranges: list[tuple[int, int]], on_progress: ProgressFn):
        self._done = [0] * len(ranges)
        self._total = sum(end - start for start, end in ranges)
        self._on_progress = on_progress
        self._lock = threading.Lock()

    def of(self, part: int) -> ProgressFn:
        def report(done: int, _total: int) -> None:
            with self._lock:
                self._done[part] = done
                self._on_progress(sum(self._done), self._total)
        return report


class ParallelIngest:
    def __init__(self, clients: StageClients, max_ranges: int, min_range_s: float):
        self.clients = clients
        self.max_ranges = max_ranges
        self.min_range_s = min_range_s

    @classmethod
    def from_config(cls, clients: StageClients, config: OrchestratorConfig) -> "ParallelIngest":
        ranges = config.ingest_ranges or listed_replicas(config.perception_addr)
        return cls(clients, ranges, config.ingest_chunk_s)

    def analyze(self, uri: str, max_seconds: float, on_progress: ProgressFn, should_stop: StopFn) -> PerceptionOutput:
        """The reference's perception artifact: one call, or planned ranges in parallel and a merge."""
        ranges = [] if self.max_ranges <= 1 else self.clients.plan_analysis(
            uri, max_seconds, self.max_ranges, self.min_range_s, should_stop)
        if len(ranges) <= 1:
            return self.clients.analyze_video(uri, max_seconds, on_progress, should_stop)
        parts = self._analyze_ranges(uri, max_seconds, ranges, on_progress, should_stop)
        return self.clients.merge_analyses(uri, max_seconds, parts, should_stop)

    def _analyze_ranges(self, uri: str, max_seconds: float, ranges: list[tuple[int, int]], on_progress: ProgressFn,
                        should_stop: StopFn) -> list[PerceptionOutput]:
        """Every range at once; the first failure cancels the others and is raised."""
        failed = threading.Event()
        progress = _SummedProgress(ranges, on_progress)

        def stop() -> bool:
            return failed.is_set() or should_stop()

        with ThreadPoolExecutor(max_workers=len(ranges), thread_name_prefix="ingest-range") as pool:
            futures = [pool.submit(contextvars.copy_context().run, self.clients.analyze_video, uri, max_seconds,
                                   progress.of(i), stop, frame_range)  # in the job's tenant scope
                       for i, frame_range in enumerate(ranges)]
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            if any(f.exception() is not None for f in done):
                failed.set()
            errors = [f.exception() for f in futures if f.exception() is not None]  # waits for the others
        if errors:
            raise next((e for e in errors if not _is_cancel(e)), errors[0])
        return [f.result() for f in futures]


def _is_cancel(error: BaseException) -> bool:
    return getattr(error, "reason", "") == "JOB_CANCELLED"

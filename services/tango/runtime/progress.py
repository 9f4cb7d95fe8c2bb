"""Runs a long core call in a worker thread and streams its progress to a server-streaming RPC."""
from __future__ import annotations

import contextvars
import queue
import threading
from dataclasses import dataclass
from typing import Callable, Generic, Iterator, TypeVar

R = TypeVar("R")

ProgressFn = Callable[[str, int, int], None]  # (stage, done, total)
StopFn = Callable[[], bool]


@dataclass(frozen=True)
class ProgressEvent:
    stage: str
    done: int
    total: int


@dataclass(frozen=True)
class Finished(Generic[R]):
    value: R


def run_with_progress(
    work: Callable[[ProgressFn, StopFn], R], should_stop: StopFn, min_interval: int = 1
) -> Iterator[ProgressEvent | Finished[R]]:
    """Yields ProgressEvents while `work` runs, then one Finished(result); re-raises its exception.

    `should_stop` (client gone, deadline passed) is handed to `work`, which is expected to raise
    `tango.runtime.errors.Cancelled` when it turns true.
    """
    events: queue.Queue = queue.Queue(maxsize=256)
    outcome: dict = {}

    def report(stage: str, done: int, total: int) -> None:
        if done % max(min_interval, 1) == 0 or done == total:
            try:
                events.put_nowait(ProgressEvent(stage, done, total))
            except queue.Full:  # the client reads slowly: drop intermediate progress, never block work
                pass

    def target() -> None:
        try:
            outcome["value"] = work(report, should_stop)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            outcome["error"] = exc
        finally:
            events.put(None)

    # the work runs in the caller's context (e.g. the tenant whose artifacts it makes)
    worker = threading.Thread(target=contextvars.copy_context().run, args=(target,), name="long-work", daemon=True)
    worker.start()
    while (event := events.get()) is not None:
        yield event
    worker.join()
    if "error" in outcome:
        raise outcome["error"]
    yield Finished(outcome["value"])

"""Per-stage retries with exponential backoff on transient failures (UNAVAILABLE, DEADLINE_EXCEEDED).

A stage that stays unreachable (gRPC's own UNAVAILABLE, which carries no ErrorInfo) fails the job with
reason STAGE_UNREACHABLE and a sentence naming the stage, the transport's words kept in the metadata."""
from __future__ import annotations

import logging
import time
from typing import Callable, TypeVar

from tango.runtime.errors import Cancelled, DeadlineExceeded, Unavailable

T = TypeVar("T")
TRANSIENT = (Unavailable, DeadlineExceeded)
log = logging.getLogger(__name__)


def with_retries(call: Callable[[], T], *, stage: str, attempts: int, base_s: float,
                 should_stop: Callable[[], bool], on_attempt: Callable[[int], None] | None = None) -> T:
    for attempt in range(1, attempts + 1):
        if should_stop():
            raise Cancelled(f"cancelled before {stage}", reason="JOB_CANCELLED")
        if on_attempt is not None:
            on_attempt(attempt)
        try:
            return call()
        except TRANSIENT as error:
            if attempt == attempts and error.reason == "UNAVAILABLE":
                raise Unavailable(f"the {stage} stage could not be reached ({attempts} attempts)",
                                  reason="STAGE_UNREACHABLE", metadata={"transport": error.message[:200]}) from None
            if attempt == attempts:
                raise
            delay = min(base_s * 2 ** (attempt - 1), 30.0)
            log.warning("stage failed, retrying", extra={"stage": stage, "attempt": attempt, "reason": error.reason,
                                                         "delay_s": delay})
            _sleep_unless_stopped(delay, should_stop)
    raise AssertionError("unreachable")


def _sleep_unless_stopped(seconds: float, should_stop: Callable[[], bool]) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if should_stop():
            raise Cancelled("cancelled while waiting to retry", reason="JOB_CANCELLED")
        time.sleep(min(0.2, seconds))

"""Stop signals (SIGTERM, SIGINT) that a handler only records.

A handler runs in the main thread between two of its bytecodes: an `Event.set()` there takes the Event's lock, which
the interrupted main thread may hold inside `Event.wait` (a mesh supervisor hung so, in its own handler, for good:
py-spy showed it). So the handler appends to a list, and the main thread looks at it between short sleeps.
"""
from __future__ import annotations

import signal
import time
from typing import Callable


def stop_signals() -> Callable[[], bool]:
    """Installs the handlers for SIGTERM and SIGINT; returns whether one has arrived since."""
    received: list[int] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda number, _frame: received.append(number))
    return lambda: bool(received)


def sleep_until(stopped: Callable[[], bool], seconds: float | None = None, step_s: float = 0.1) -> bool:
    """Sleeps `seconds` (None: for good) in steps of `step_s`, returning early once `stopped()`; returns `stopped()`."""
    deadline = None if seconds is None else time.monotonic() + seconds
    while not stopped():
        left = step_s if deadline is None else min(step_s, deadline - time.monotonic())
        if left <= 0:
            break
        time.sleep(left)
    return stopped()

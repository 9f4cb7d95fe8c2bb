"""A bound on concurrent work that refuses instead of queueing: beyond `slots`, RESOURCE_EXHAUSTED with a reason.

Used where a call holds a server thread or a real-time resource for long (operation waiters, live streams): a
caller refused at once can poll or go elsewhere; one queued would hold a thread while it waits.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

from tango.runtime.errors import ResourceExhausted


class Slots:
    def __init__(self, slots: int, refusal: str, reason: str):
        self.slots = slots
        self.refusal = refusal  # the message of a refusal
        self.reason = reason
        self._free = threading.BoundedSemaphore(max(slots, 1))

    @contextmanager
    def taken(self) -> Iterator[None]:
        if self.slots <= 0 or not self._free.acquire(blocking=False):
            raise ResourceExhausted(self.refusal, reason=self.reason, metadata={"slots": self.slots})
        try:
            yield
        finally:
            self._free.release()

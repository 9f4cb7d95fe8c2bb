"""Small helpers shared by the servicers (the only place besides servicers that touches grpc)."""
from __future__ import annotations

import grpc

from tango.runtime.progress import ProgressEvent, StopFn
from tango.type.v1 import types_pb2


def should_stop_for(context: grpc.ServicerContext) -> StopFn:
    """True once the client has gone away, cancelled, or its deadline has passed."""

    def should_stop() -> bool:
        remaining = context.time_remaining()
        return (not context.is_active()) or (remaining is not None and remaining <= 0)

    return should_stop


def progress_message(event: ProgressEvent) -> types_pb2.Progress:
    return types_pb2.Progress(stage=event.stage, done=event.done, total=event.total)

"""Small helpers shared by the servicers (the only place besides servicers that touches grpc)."""
from __future__ import annotations

import queue
import threading
import time
from typing import Iterator, NamedTuple, TypeVar

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from tango.runtime import errors
from tango.runtime.errors import TangoError
from tango.runtime.progress import ProgressEvent, StopFn
from tango.type.v1 import types_pb2

T = TypeVar("T")
_END = object()  # a client stream's end, as `paced`'s reader passes it on


def should_stop_for(context: grpc.ServicerContext) -> StopFn:
    """True once the client has gone away, cancelled, or its deadline has passed."""

    def should_stop() -> bool:
        remaining = context.time_remaining()
        return (not context.is_active()) or (remaining is not None and remaining <= 0)

    return should_stop


def received(request_iterator: Iterator) -> Iterator:
    """A client stream's messages until it ends or the peer goes away (grpc raises then: the stream just ends)."""
    try:
        yield from request_iterator
    except grpc.RpcError:
        return


def paced(messages: Iterator[T], idle_s: float, total_s: float, what: str) -> Iterator[T]:
    """A client stream's messages, ended by DEADLINE_EXCEEDED when the client sends nothing for `idle_s` (reason
    `<WHAT>_IDLE`) or is still sending after `total_s` (`<WHAT>_TOO_SLOW`): a caller that trickles bytes, or
    opens a stream and says nothing, gives its server thread back instead of holding it for ever. A reader
    thread does the blocking reads (it ends with the RPC); what it fails with (a malformed message) is raised
    here, at once."""
    box: queue.Queue = queue.Queue(maxsize=8)
    done = threading.Event()

    def offer(item) -> bool:
        while not done.is_set():
            try:
                box.put(item, timeout=0.5)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for message in received(messages):
                if not offer(message):
                    return
        except Exception as failure:  # noqa: BLE001 - handed to the consumer, which raises it
            offer(_Failure(failure))
            return
        offer(_END)

    threading.Thread(target=read, daemon=True, name=f"{what.lower()}-reader").start()
    deadline = time.monotonic() + total_s
    try:
        while True:
            wait = min(idle_s, deadline - time.monotonic())
            try:
                message = box.get(timeout=max(wait, 0.0))
            except queue.Empty:
                if time.monotonic() >= deadline:
                    raise errors.DeadlineExceeded(f"still sending after {total_s:g} s", reason=f"{what}_TOO_SLOW")
                raise errors.DeadlineExceeded(f"nothing sent for {idle_s:g} s", reason=f"{what}_IDLE") from None
            if message is _END:
                return
            if isinstance(message, _Failure):
                raise message.error
            yield message
    finally:
        done.set()


class _Failure(NamedTuple):
    error: Exception


def progress_message(event: ProgressEvent) -> types_pb2.Progress:
    return types_pb2.Progress(stage=event.stage, done=event.done, total=event.total)


def error_from_rpc(error: grpc.RpcError) -> TangoError:
    """The domain error a failed RPC carries (code + ErrorInfo reason), so callers handle one type."""
    status = rpc_status.from_call(error)
    reason = error.code().name
    metadata: dict[str, str] = {}
    for detail in status.details if status else []:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            reason, metadata = info.reason, dict(info.metadata)
    cls = _ERROR_BY_CODE.get(error.code().name, TangoError)
    failure = cls(error.details() or error.code().name, reason=reason, metadata=metadata)
    failure.code = error.code().name
    return failure


_ERROR_BY_CODE = {
    cls.code: cls
    for cls in (errors.InvalidArgument, errors.NotFound, errors.AlreadyExists, errors.FailedPrecondition,
                errors.PermissionDenied, errors.Unauthenticated, errors.ResourceExhausted, errors.Unavailable, errors.Cancelled,
                errors.DeadlineExceeded)
}

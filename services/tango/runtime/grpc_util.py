"""Small helpers shared by the servicers (the only place besides servicers that touches grpc)."""
from __future__ import annotations

from typing import Iterator

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from tango.runtime import errors
from tango.runtime.errors import TangoError
from tango.runtime.progress import ProgressEvent, StopFn
from tango.type.v1 import types_pb2


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

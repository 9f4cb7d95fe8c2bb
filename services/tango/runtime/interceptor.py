"""The one server interceptor: domain errors -> canonical gRPC status with ErrorInfo, plus RPC metrics.

Every handler kind (unary/streaming, either side) is wrapped, so a `TangoError` raised anywhere in a
servicer or the core it calls reaches the client as its code with
`google.rpc.ErrorInfo(reason=..., domain=ERROR_DOMAIN, metadata=...)`. Anything else becomes INTERNAL
with an opaque incident id; the traceback goes to the log only. Bytes that are not the method's request
message (bad wire format, invalid UTF-8 in a string) are INVALID_ARGUMENT with reason MALFORMED_REQUEST,
not gRPC's own INTERNAL "Exception deserializing request!": each handler's deserializer is made tolerant and
the undecodable request is refused where the servicer would have received it.
"""
from __future__ import annotations

import logging
import time
import uuid
from typing import Any, Callable, Iterator

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from tango.runtime.errors import ERROR_DOMAIN, InvalidArgument, TangoError
from tango.runtime.metrics import ServiceMetrics

log = logging.getLogger(__name__)


# A status travels in the trailers, which a client refuses beyond 8 KB (gRPC's default): a 5 000-character name
# echoed in the message and the ErrorInfo once arrived as RESOURCE_EXHAUSTED without a reason. Clipped here, once.
MAX_MESSAGE_CHARS = 1000
MAX_METADATA_CHARS = 200


def _clipped(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def status_for(error: TangoError) -> grpc.Status:
    metadata = {key[:64]: _clipped(value, MAX_METADATA_CHARS) for key, value in list(error.metadata.items())[:16]}
    info = error_details_pb2.ErrorInfo(reason=error.reason, domain=ERROR_DOMAIN, metadata=metadata)
    detail = any_pb2.Any()
    detail.Pack(info)
    code = grpc.StatusCode[error.code]
    message = _clipped(error.message, MAX_MESSAGE_CHARS)
    return rpc_status.to_status(status_pb2.Status(code=code.value[0], message=message, details=[detail]))


def _internal_status(method: str, exc: BaseException) -> grpc.Status:
    incident = uuid.uuid4().hex[:12]
    log.error("unhandled error", exc_info=exc, extra={"method": method, "incident": incident})
    error = TangoError(f"internal error (incident {incident})", reason="INTERNAL", metadata={"incident": incident})
    return status_for(error)


_KINDS = {"unary_unary": (False, False), "stream_unary": (True, False), "unary_stream": (False, True),
          "stream_stream": (True, True)}  # handler attribute -> (requests streamed, replies streamed)


def with_behaviour(handler: grpc.RpcMethodHandler,
                   wrap: Callable[[Callable, bool, bool], Callable]) -> grpc.RpcMethodHandler:
    """The handler with its behaviour replaced by `wrap(behaviour, requests_streamed, replies_streamed)`: the one
    place the server interceptors tell the four kinds of RPC apart."""
    for kind, (requests_stream, replies_stream) in _KINDS.items():
        behaviour = getattr(handler, kind)
        if behaviour is not None:
            return handler._replace(**{kind: wrap(behaviour, requests_stream, replies_stream)})
    return handler


class ErrorMappingInterceptor(grpc.ServerInterceptor):
    def __init__(self, metrics: ServiceMetrics):
        self.metrics = metrics

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method.rsplit("/", 1)[-1]
        handler = handler._replace(request_deserializer=_tolerant(handler.request_deserializer))
        return with_behaviour(handler, lambda behaviour, requests_stream, replies_stream: (
            self._wrap_stream if replies_stream else self._wrap_unary)(
                method, (_decoded_stream if requests_stream else _decoded)(behaviour)))

    def _wrap_unary(self, method: str, behaviour: Callable) -> Callable:
        def wrapped(request: Any, context: grpc.ServicerContext):
            with _Observed(self.metrics, method) as observed:
                try:
                    return behaviour(request, context)
                except Exception as exc:  # noqa: BLE001 - the one place errors are mapped
                    failure = exc
                observed.fail(context, failure)

        return wrapped

    def _wrap_stream(self, method: str, behaviour: Callable) -> Callable:
        def wrapped(request: Any, context: grpc.ServicerContext) -> Iterator:
            with _Observed(self.metrics, method) as observed:
                try:
                    yield from behaviour(request, context)
                    return
                except Exception as exc:  # noqa: BLE001
                    failure = exc
                observed.fail(context, failure)

        return wrapped


_UNDECODABLE = object()  # what a request that is not the method's message decodes to


def _tolerant(deserializer: Callable | None) -> Callable | None:
    if deserializer is None:
        return None

    def decode(raw: bytes):
        try:
            return deserializer(raw)
        except Exception:  # noqa: BLE001 - protobuf's DecodeError, UnicodeDecodeError, ...: refused below
            return _UNDECODABLE

    return decode


def _malformed() -> InvalidArgument:
    return InvalidArgument("the request is not a valid message of this method", reason="MALFORMED_REQUEST")


def _decoded(behaviour: Callable) -> Callable:
    def checked(request, context):
        if request is _UNDECODABLE:
            raise _malformed()
        return behaviour(request, context)

    return checked


def _decoded_stream(behaviour: Callable) -> Callable:
    def checked(requests, context):
        def messages():
            for request in requests:
                if request is _UNDECODABLE:
                    raise _malformed()
                yield request

        return behaviour(messages(), context)

    return checked


class _Observed:
    """Times one RPC, counts it by final code, and aborts the call for a failure."""

    def __init__(self, metrics: ServiceMetrics, method: str):
        self.metrics, self.method, self.code = metrics, method, "OK"

    def __enter__(self):
        self.start = time.perf_counter()
        self.metrics.inflight.inc()
        return self

    def fail(self, context: grpc.ServicerContext, exc: BaseException) -> None:
        if isinstance(exc, TangoError):
            status = status_for(exc)
            log.info("rpc failed", extra={"method": self.method, "code": exc.code, "reason": exc.reason})
        elif context.code() not in (None, grpc.StatusCode.OK):  # the servicer already aborted
            self.code = context.code().name
            raise exc
        else:
            status = _internal_status(self.method, exc)
        self.code = status.code.name
        context.abort_with_status(status)

    def __exit__(self, exc_type, exc, tb):
        self.metrics.inflight.dec()
        if exc_type is not None and self.code == "OK":
            self.code = "ABORTED_BY_CLIENT" if exc_type is GeneratorExit else "UNKNOWN"
        self.metrics.requests.labels(self.method, self.code).inc()
        self.metrics.latency.labels(self.method, self.code).observe(time.perf_counter() - self.start)
        return False

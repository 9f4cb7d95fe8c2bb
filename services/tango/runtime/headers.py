"""Headers a client channel adds to every call, whatever its kind: the caller's bearer token (`auth`), the
job's tenant on the orchestrator's stage calls (`tenant_header`)."""
from __future__ import annotations

import collections
from typing import Callable

import grpc

Headers = Callable[[], list[tuple[str, str]]]  # asked at each call: (name, value) pairs to set


class _CallDetails(collections.namedtuple("_CallDetails", "method timeout metadata credentials wait_for_ready compression"),
                   grpc.ClientCallDetails):
    pass


class _WithHeaders(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor,
                   grpc.StreamUnaryClientInterceptor, grpc.StreamStreamClientInterceptor):
    def __init__(self, headers: Headers):
        self.headers = headers

    def _details(self, details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        headers = self.headers()
        if not headers:
            return details
        names = {name for name, _ in headers}
        metadata = [m for m in details.metadata or () if m[0] not in names] + headers
        return _CallDetails(details.method, details.timeout, metadata, details.credentials,
                            details.wait_for_ready, details.compression)

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation, details, request):
        return continuation(self._details(details), request)

    def intercept_stream_unary(self, continuation, details, request_iterator):
        return continuation(self._details(details), request_iterator)

    def intercept_stream_stream(self, continuation, details, request_iterator):
        return continuation(self._details(details), request_iterator)


def with_headers(channel: grpc.Channel, headers: Headers) -> grpc.Channel:
    """`channel` setting the headers `headers()` returns at each call (replacing any of the same name)."""
    return grpc.intercept_channel(channel, _WithHeaders(headers))

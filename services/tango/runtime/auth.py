"""Bearer tokens on the wire: the server interceptor that admits callers, and the client side that sends a token.

Server: `AuthInterceptor` sits inside `ErrorMappingInterceptor`, so a refused call reaches the client as
UNAUTHENTICATED / PERMISSION_DENIED with its ErrorInfo reason and is counted like any other failure. The
token is checked in the RPC's worker thread (a JWKS fetch never blocks gRPC's polling thread), before the
servicer runs; the servicer reads the caller with `tokens.current_caller()`. Health and reflection stay open.

Client: `bearer_channel(channel, token)` adds `authorization: Bearer <token>` to every call of a channel.
`client_token(home)` finds the token a CLI or the Python client sends: `TANGO_TOKEN`, else the file named by
`TANGO_TOKEN_FILE`, else the local mesh's development token `<home>/auth/token` (written by `tango mesh up`).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import grpc

from tango.runtime.headers import with_headers
from tango.runtime.interceptor import with_behaviour
from tango.runtime.tokens import Authenticator, acting_as

OPEN_SERVICES = ("/grpc.health.v1.Health/", "/grpc.reflection.v1alpha.ServerReflection/",
                 "/grpc.reflection.v1.ServerReflection/")
TOKEN_FILE = Path("auth") / "token"  # under a mesh's home


class AuthInterceptor(grpc.ServerInterceptor):
    def __init__(self, authenticator: Authenticator):
        self.authenticator = authenticator

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None or handler_call_details.method.startswith(OPEN_SERVICES):
            return handler
        metadata = handler_call_details.invocation_metadata
        return with_behaviour(handler, lambda behaviour, _requests_stream, replies_stream: (
            self._streaming if replies_stream else self._unary)(metadata, behaviour))

    def _unary(self, metadata, behaviour: Callable) -> Callable:
        def admitted(request, context):
            with acting_as(self.authenticator.authenticate(metadata)):
                return behaviour(request, context)

        return admitted

    def _streaming(self, metadata, behaviour: Callable) -> Callable:
        def admitted(request, context):
            with acting_as(self.authenticator.authenticate(metadata)):
                yield from behaviour(request, context)

        return admitted


def client_token(home: Path | None = None) -> str | None:
    if token := os.environ.get("TANGO_TOKEN", "").strip():
        return token
    if path := os.environ.get("TANGO_TOKEN_FILE"):
        return Path(path).read_text().strip()
    if home is not None and (home / TOKEN_FILE).exists():
        return (home / TOKEN_FILE).read_text().strip()
    return None


def bearer_channel(channel: grpc.Channel, token: str | None) -> grpc.Channel:
    """`channel` sending `token` with every call (the channel itself when there is no token)."""
    header = [("authorization", f"Bearer {token}")]
    return with_headers(channel, lambda: header) if token else channel

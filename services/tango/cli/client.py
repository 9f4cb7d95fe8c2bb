"""How CLI commands reach the services: an explicit endpoint, or the local mesh (started on demand), with
the caller's bearer token (`tango.runtime.auth.client_token`: `TANGO_TOKEN`, `TANGO_TOKEN_FILE`, else the
local mesh's development token), over mutual TLS with `TANGO_TLS_{CERT,KEY,CA}_FILE` or the local mesh's
certificates when it was started with `--tls`."""
from __future__ import annotations

import os
import sys
from typing import Iterator

import grpc

from tango.mesh.mesh import LocalMesh, default_home
from tango.runtime.auth import bearer_channel, client_token
from tango.runtime.grpc_util import error_from_rpc
from tango.runtime.tls import TlsFiles, open_channel

DEFAULT_DEADLINE_S = 3600.0


def endpoint(service: str) -> str:
    """`TANGO_<SERVICE>_ENDPOINT`, else `TANGO_ENDPOINT`, else the local mesh (started when not running)."""
    explicit = os.environ.get(f"TANGO_{service.upper()}_ENDPOINT") or os.environ.get("TANGO_ENDPOINT")
    if explicit:
        return explicit
    mesh = LocalMesh(default_home())
    running = {m["name"]: m for m in mesh.status()}
    if not running.get(service, {}).get("ready"):
        print("starting the local mesh (stop it with `tango mesh down`)", file=sys.stderr)
        mesh.up(log=lambda line: print(line, file=sys.stderr))
    return mesh.endpoint(service)


def channel(service: str) -> grpc.Channel:
    limit = 64 * 1024 * 1024
    target = endpoint(service)
    tls = TlsFiles.from_env() or LocalMesh(default_home()).tls_files()
    return bearer_channel(open_channel(target, tls, [("grpc.max_receive_message_length", limit),
                                                     ("grpc.max_send_message_length", limit)]),
                          client_token(default_home()))


def call(method, request, timeout_s: float = DEFAULT_DEADLINE_S):
    try:
        return method(request, timeout=timeout_s)
    except grpc.RpcError as error:
        raise error_from_rpc(error) from None


def stream(method, request, timeout_s: float = DEFAULT_DEADLINE_S) -> Iterator:
    try:
        yield from method(request, timeout=timeout_s)
    except grpc.RpcError as error:
        raise error_from_rpc(error) from None


def last_event(method, request, reporter, timeout_s: float = DEFAULT_DEADLINE_S):
    """Streams a long RPC whose replies are `oneof event {progress, <result>}`: draws the progress and
    returns the final result message."""
    result = None
    for reply in stream(method, request, timeout_s):
        event = reply.WhichOneof("event")
        if event == "progress":
            reporter.update(reply.progress.stage, reply.progress.done, reply.progress.total)
        else:
            result = getattr(reply, event)
    reporter.close()
    return result

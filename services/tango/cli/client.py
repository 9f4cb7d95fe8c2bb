"""How CLI commands reach the services: an explicit endpoint, or the local mesh (started on demand)."""
from __future__ import annotations

import os
import sys
from typing import Iterator

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from tango.mesh.mesh import LocalMesh, default_home
from tango.runtime import errors

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
    return grpc.insecure_channel(endpoint(service), options=[("grpc.max_receive_message_length", limit),
                                                             ("grpc.max_send_message_length", limit)])


def domain_error(error: grpc.RpcError) -> errors.TangoError:
    """The TangoError a failed RPC carries (its ErrorInfo reason), for uniform CLI reporting."""
    status = rpc_status.from_call(error)
    reason = error.code().name
    for detail in status.details if status else []:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            reason = info.reason
    failure = errors.TangoError(error.details() or error.code().name, reason=reason)
    failure.code = error.code().name
    return failure


def call(method, request, timeout_s: float = DEFAULT_DEADLINE_S):
    try:
        return method(request, timeout=timeout_s)
    except grpc.RpcError as error:
        raise domain_error(error) from None


def stream(method, request, timeout_s: float = DEFAULT_DEADLINE_S) -> Iterator:
    try:
        yield from method(request, timeout=timeout_s)
    except grpc.RpcError as error:
        raise domain_error(error) from None

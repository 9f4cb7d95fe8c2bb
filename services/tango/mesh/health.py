"""Readiness probes of mesh members (grpc.health.v1 for our services, Triton's own readiness), and the
probe command of a TLS-only port in Kubernetes."""
from __future__ import annotations

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tango.runtime.tls import TlsFiles, open_channel


def grpc_serving(address: str, timeout_s: float = 1.0, tls: TlsFiles | None = None) -> bool:
    try:
        with open_channel(address, tls) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout_s)
            return reply.status == health_pb2.HealthCheckResponse.SERVING
    except grpc.RpcError:
        return False


def triton_ready(address: str, timeout_s: float = 1.0, tls: TlsFiles | None = None) -> bool:
    from tango.triton.client import triton_grpc_client

    client = None
    try:
        client = triton_grpc_client(address, tls)
        return bool(client.is_server_ready(client_timeout=timeout_s))
    except Exception:  # noqa: BLE001 - any failure means "not ready yet"
        return False
    finally:
        if client is not None:
            client.close()


def main(argv: list[str] | None = None) -> int:
    """`python -m tango.mesh.health HOST:PORT`: exit 0 when the service there is SERVING, over mutual TLS when
    TANGO_TLS_* are set: the Kubernetes probe of a TLS-only port (kubelet's own gRPC probe speaks plaintext)."""
    import sys

    address = (argv if argv is not None else sys.argv[1:])[0]
    return 0 if grpc_serving(address, timeout_s=3.0, tls=TlsFiles.from_env()) else 1


if __name__ == "__main__":
    raise SystemExit(main())

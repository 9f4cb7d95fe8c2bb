"""Readiness probes of mesh members: grpc.health.v1 for our services, Triton's own readiness."""
from __future__ import annotations

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def grpc_serving(address: str, timeout_s: float = 1.0) -> bool:
    try:
        with grpc.insecure_channel(address) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout_s)
            return reply.status == health_pb2.HealthCheckResponse.SERVING
    except grpc.RpcError:
        return False


def triton_ready(address: str, timeout_s: float = 1.0) -> bool:
    import tritonclient.grpc as triton_grpc

    try:
        client = triton_grpc.InferenceServerClient(address)
        return bool(client.is_server_ready(client_timeout=timeout_s))
    except Exception:  # noqa: BLE001 - any failure means "not ready yet"
        return False

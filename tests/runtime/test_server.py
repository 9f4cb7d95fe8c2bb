"""The shared service runtime: health, reflection, the error interceptor, metrics, shutdown, config."""
from __future__ import annotations

import urllib.request

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
from grpc_status import rpc_status

from tango.runtime import errors
from tango.runtime.config import ServiceConfig
from tango.runtime.metrics import ServiceMetrics
from tango.runtime.server import GrpcService, ServiceBinding

PROBE = "tango.test.v1.ProbeService"


def _probe_binding() -> ServiceBinding:
    """A generic byte-level service whose methods raise what the test asks for."""

    def fail(request: bytes, context):
        kind = request.decode()
        if kind == "not_found":
            raise errors.ArtifactNotFound("no such artifact", metadata={"uri": "x"})
        if kind == "crash":
            raise RuntimeError("secret internal detail")
        return b"ok:" + request

    def fail_stream(request: bytes, context):
        yield b"first"
        raise errors.CorruptMedia("broken in the middle")

    def count(requests, context) -> health_pb2.HealthCheckResponse:
        return health_pb2.HealthCheckResponse(status=len(list(requests)))

    identity = lambda b: b  # noqa: E731
    typed = health_pb2.HealthCheckRequest.FromString, health_pb2.HealthCheckResponse.SerializeToString
    handlers = {
        "Fail": grpc.unary_unary_rpc_method_handler(fail, identity, identity),
        "FailStream": grpc.unary_stream_rpc_method_handler(fail_stream, identity, identity),
        "Typed": grpc.unary_unary_rpc_method_handler(lambda request, context: health_pb2.HealthCheckResponse(), *typed),
        "Count": grpc.stream_unary_rpc_method_handler(count, *typed),
    }
    generic = grpc.method_handlers_generic_handler(PROBE, handlers)
    return ServiceBinding(PROBE, lambda server: server.add_generic_rpc_handlers((generic,)))


@pytest.fixture()
def probe_service():
    config = ServiceConfig(service="probe", port=0, metrics_port=0, grace_s=1)
    service = GrpcService(config, [_probe_binding()], ServiceMetrics("probe"))
    service.start()
    yield service
    service.stop()


def _channel(service):
    return grpc.insecure_channel(f"127.0.0.1:{service.port}")


def _error_info(error: grpc.RpcError) -> error_details_pb2.ErrorInfo:
    info = error_details_pb2.ErrorInfo()
    assert rpc_status.from_call(error).details[0].Unpack(info)
    return info


def test_health_is_not_serving_until_ready(probe_service):
    stub = health_pb2_grpc.HealthStub(_channel(probe_service))
    request = health_pb2.HealthCheckRequest(service=PROBE)
    assert stub.Check(request, timeout=5).status == health_pb2.HealthCheckResponse.NOT_SERVING
    probe_service.mark_ready()
    assert stub.Check(request, timeout=5).status == health_pb2.HealthCheckResponse.SERVING


def test_reflection_lists_services(probe_service):
    database = ProtoReflectionDescriptorDatabase(_channel(probe_service))
    names = set(database.get_services())
    assert {PROBE, "grpc.health.v1.Health"} <= names


def test_domain_error_maps_to_code_and_error_info(probe_service):
    call = _channel(probe_service).unary_unary(f"/{PROBE}/Fail")
    with pytest.raises(grpc.RpcError) as caught:
        call(b"not_found", timeout=5)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    info = _error_info(caught.value)
    assert (info.reason, info.domain, info.metadata["uri"]) == ("ARTIFACT_NOT_FOUND", errors.ERROR_DOMAIN, "x")


GARBAGE = b"\x0a\x03\xff\xfe\xfd"  # field 1 (a string) holding invalid UTF-8


def test_bytes_that_are_not_the_request_message_are_invalid_argument(probe_service):
    channel = _channel(probe_service)
    assert channel.unary_unary(f"/{PROBE}/Typed")(b"\x0a\x02ok", timeout=5) == b""  # a valid request
    for call, request in ((channel.unary_unary(f"/{PROBE}/Typed"), GARBAGE),
                          (channel.stream_unary(f"/{PROBE}/Count"), iter([b"", GARBAGE])),
                          (channel.unary_unary(f"/{PROBE}/Typed"), b"\xff\xff\xff\xff")):
        with pytest.raises(grpc.RpcError) as caught:
            call(request, timeout=5)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert _error_info(caught.value).reason == "MALFORMED_REQUEST"
    assert channel.stream_unary(f"/{PROBE}/Count")(iter([b"", b""]), timeout=5) == b"\x08\x02"  # still serving


def test_unknown_error_is_internal_without_traceback(probe_service):
    call = _channel(probe_service).unary_unary(f"/{PROBE}/Fail")
    with pytest.raises(grpc.RpcError) as caught:
        call(b"crash", timeout=5)
    assert caught.value.code() == grpc.StatusCode.INTERNAL
    assert "secret" not in caught.value.details() and "Traceback" not in caught.value.details()
    assert _error_info(caught.value).reason == "INTERNAL"
    assert call(b"fine", timeout=5) == b"ok:fine"  # the service stays up


def test_streaming_error_after_messages(probe_service):
    call = _channel(probe_service).unary_stream(f"/{PROBE}/FailStream")
    received = []
    with pytest.raises(grpc.RpcError) as caught:
        for message in call(b"", timeout=5):
            received.append(message)
    assert received == [b"first"]
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert _error_info(caught.value).reason == "CORRUPT_MEDIA"


def test_metrics_endpoint_counts_rpcs_by_code(probe_service):
    call = _channel(probe_service).unary_unary(f"/{PROBE}/Fail")
    call(b"fine", timeout=5)
    with pytest.raises(grpc.RpcError):
        call(b"not_found", timeout=5)
    body = urllib.request.urlopen(f"http://127.0.0.1:{probe_service.metrics_port}/metrics", timeout=5).read().decode()
    assert 'tango_probe_requests_total{code="OK",method="Fail"} 1.0' in body
    assert 'tango_probe_requests_total{code="NOT_FOUND",method="Fail"} 1.0' in body
    assert "tango_probe_inflight_requests 0.0" in body


def test_stop_refuses_new_calls(probe_service):
    probe_service.stop(grace_s=0.5)
    with pytest.raises(grpc.RpcError) as caught:
        _channel(probe_service).unary_unary(f"/{PROBE}/Fail")(b"x", timeout=2)
    assert caught.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


def test_config_from_env_with_service_and_global_fallback():
    env = {"TANGO_PROBE_PORT": "1234", "TANGO_MAX_WORKERS": "3", "TANGO_DATA_URI": "file:///tmp/x"}
    config = ServiceConfig.from_env("probe", env)
    assert (config.port, config.max_workers, config.data_uri) == (1234, 3, "file:///tmp/x")
    with pytest.raises(errors.InvalidArgument) as caught:
        ServiceConfig.from_env("probe", {"TANGO_PROBE_PORT": "eighty"})
    assert caught.value.reason == "BAD_CONFIG"

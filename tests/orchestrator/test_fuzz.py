"""The orchestrator's public protos fuzzed with hypothesis: random messages of each request type (every field
kind, extreme numbers, NaN, control characters, unknown enum values, nested and repeated fields) and random bytes
sent as each method's request. Every answer is OK or a status with an ErrorInfo reason, never INTERNAL or
UNKNOWN; the health check answers after each call. A short run is part of `make test`; `TANGO_FUZZ_EXAMPLES`
sets a longer one (the slow test runs 180 000, about 10 minutes on 2 cores)."""
from __future__ import annotations

import math
import os

import grpc
import pytest
from google.longrunning import operations_pb2
from google.protobuf.descriptor import FieldDescriptor
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tango.orchestrator.v1 import orchestrator_service_pb2 as pb

UNARY = {  # method path -> request type (responses are not decoded: bytes in, bytes out)
    "/tango.orchestrator.v1.OrchestratorService/CreateSpeaker": pb.CreateSpeakerRequest,
    "/tango.orchestrator.v1.OrchestratorService/GetSpeaker": pb.GetSpeakerRequest,
    "/tango.orchestrator.v1.OrchestratorService/ListSpeakers": pb.ListSpeakersRequest,
    "/tango.orchestrator.v1.OrchestratorService/CreateReenactment": pb.CreateReenactmentRequest,
    "/google.longrunning.Operations/GetOperation": operations_pb2.GetOperationRequest,
    "/google.longrunning.Operations/ListOperations": operations_pb2.ListOperationsRequest,
    "/google.longrunning.Operations/CancelOperation": operations_pb2.CancelOperationRequest,
    "/google.longrunning.Operations/DeleteOperation": operations_pb2.DeleteOperationRequest,
    "/google.longrunning.Operations/WaitOperation": operations_pb2.WaitOperationRequest,
}
SERVER_STREAMING = {
    "/tango.orchestrator.v1.OrchestratorService/WatchOperation": pb.WatchOperationRequest,
    "/tango.orchestrator.v1.OrchestratorService/DownloadMedia": pb.DownloadMediaRequest,
}
CLIENT_STREAMING = {
    "/tango.orchestrator.v1.OrchestratorService/UploadMedia": pb.UploadMediaRequest,
}
BIDI = {
    "/tango.orchestrator.v1.OrchestratorService/StreamReenactment": pb.StreamReenactmentRequest,
}
EXAMPLES = int(os.environ.get("TANGO_FUZZ_EXAMPLES", "150"))

TEXT = st.one_of(st.text(max_size=40), st.sampled_from(["", "/etc/passwd", "../../x", "operations/", "speakers/",
                                                         "speakers/" + "0" * 64, "file:///etc/shadow", "a\x00b",
                                                         "x" * 5000, "http://169.254.169.254/"]))
NUMBERS = {
    FieldDescriptor.TYPE_DOUBLE: st.floats(allow_nan=True, allow_infinity=True),
    FieldDescriptor.TYPE_FLOAT: st.floats(width=32, allow_nan=True, allow_infinity=True),
    FieldDescriptor.TYPE_INT32: st.integers(-2**31, 2**31 - 1),
    FieldDescriptor.TYPE_SINT32: st.integers(-2**31, 2**31 - 1),
    FieldDescriptor.TYPE_INT64: st.integers(-2**63, 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: st.integers(-2**63, 2**63 - 1),
    FieldDescriptor.TYPE_UINT32: st.integers(0, 2**32 - 1),
    FieldDescriptor.TYPE_UINT64: st.integers(0, 2**64 - 1),
    FieldDescriptor.TYPE_BOOL: st.booleans(),
    FieldDescriptor.TYPE_STRING: TEXT,
    FieldDescriptor.TYPE_BYTES: st.binary(max_size=64),
}


def _value(field: FieldDescriptor, depth: int):
    if field.type == FieldDescriptor.TYPE_ENUM:
        return st.integers(-3, 120)  # known values and unknown ones
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return messages(field.message_type._concrete_class, depth + 1)
    return NUMBERS.get(field.type, st.none())


def messages(cls, depth: int = 0):
    """Messages of `cls` with a random subset of fields set (nested messages down to depth 3)."""
    fields = [f for f in cls.DESCRIPTOR.fields
              if depth < 3 or f.type != FieldDescriptor.TYPE_MESSAGE]
    if not fields:
        return st.just(cls())
    per_field = {f.name: (st.lists(_value(f, depth), max_size=3) if f.label == FieldDescriptor.LABEL_REPEATED
                          else _value(f, depth)) for f in fields}
    return st.fixed_dictionaries({}, optional=per_field).map(lambda values: _build(cls, values))


def _build(cls, values: dict):
    message = cls()
    for name, value in values.items():
        field = cls.DESCRIPTOR.fields_by_name[name]
        try:
            if field.label == FieldDescriptor.LABEL_REPEATED:
                target = getattr(message, name)
                if field.type == FieldDescriptor.TYPE_MESSAGE:
                    for item in value:
                        target.add().CopyFrom(item)
                else:
                    target.extend(value)
            elif field.type == FieldDescriptor.TYPE_MESSAGE:
                getattr(message, name).CopyFrom(value)
            else:
                setattr(message, name, value)
        except (ValueError, TypeError):
            continue  # a value the field cannot hold (e.g. an enum of a closed proto2 set): leave it unset
    return message


def _call(door, method: str, payload) -> None:
    """One call; a failure must be a clear status (a reason in ErrorInfo), and the service keeps serving."""
    channel = door["channel"]
    identity = lambda b: b  # noqa: E731
    try:
        if method in UNARY:
            channel.unary_unary(method, identity, identity)(payload, timeout=10)
        elif method in SERVER_STREAMING:
            list(channel.unary_stream(method, identity, identity)(payload, timeout=10))
        elif method in CLIENT_STREAMING:
            channel.stream_unary(method, identity, identity)(iter(payload), timeout=10)
        else:
            list(channel.stream_stream(method, identity, identity)(iter(payload), timeout=10))
    except grpc.RpcError as error:
        assert error.code() not in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN), (method, error.details())
        if error.code() != grpc.StatusCode.DEADLINE_EXCEEDED:  # a wait that ran to its deadline is an answer
            info, status = error_details_pb2.ErrorInfo(), rpc_status.from_call(error)
            assert status is not None and status.details and status.details[0].Unpack(info) and info.reason, \
                (method, error.code(), error.details())
    health = health_pb2_grpc.HealthStub(door["raw"]).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert health.status == health_pb2.HealthCheckResponse.SERVING


def _serialized(message) -> bytes:
    return message.SerializeToString()


REQUESTS = st.one_of(
    *[st.tuples(st.just(m), messages(cls).map(_serialized)) for m, cls in {**UNARY, **SERVER_STREAMING}.items()],
    *[st.tuples(st.just(m), st.lists(messages(cls).map(_serialized), max_size=4))
      for m, cls in {**CLIENT_STREAMING, **BIDI}.items()],
    st.tuples(st.sampled_from(sorted({**UNARY, **SERVER_STREAMING})), st.binary(max_size=200)),  # garbage bytes
    st.tuples(st.sampled_from(sorted({**CLIENT_STREAMING, **BIDI})), st.lists(st.binary(max_size=100), max_size=4)),
)
FUZZ_SETTINGS = dict(deadline=None, derandomize=False, suppress_health_check=list(HealthCheck))


@settings(max_examples=EXAMPLES, **FUZZ_SETTINGS)
@given(request=REQUESTS)
def test_fuzzed_requests_get_clear_statuses(door, request):
    _call(door, *request)


@pytest.mark.slow
@settings(max_examples=180_000, **FUZZ_SETTINGS)  # about 10 minutes here
@given(request=REQUESTS)
def test_fuzzed_requests_long_run(door, request):
    _call(door, *request)


def test_the_strategies_reach_extremes():
    """The fuzzer can produce what broke the orchestrator before: NaN options and NUL bytes in a URI."""
    from hypothesis import find

    nan = find(messages(pb.CreateReenactmentRequest), lambda m: math.isnan(m.options.jump_penalty))
    assert math.isnan(nan.options.jump_penalty)
    nul = find(messages(pb.CreateReenactmentRequest), lambda m: "\x00" in m.audio_uri)
    assert "\x00" in nul.audio_uri

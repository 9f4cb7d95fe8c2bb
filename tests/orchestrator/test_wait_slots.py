"""Callers waiting on operations cannot freeze the orchestrator: beyond its wait slots a waiter is told to
poll (RESOURCE_EXHAUSTED, TOO_MANY_WAITERS) while GetOperation and the health check keep answering."""
from __future__ import annotations

import threading
import time

import grpc
import pytest
from google.longrunning import operations_pb2, operations_pb2_grpc
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from support import allowed_roots
from tango.orchestrator.config import OrchestratorConfig
from tango.orchestrator.server import build
from tango.orchestrator.v1 import orchestrator_service_pb2 as pb
from tango.orchestrator.v1 import orchestrator_service_pb2_grpc as pb_grpc

UNREACHABLE = "127.0.0.1:9"  # nothing listens: the job retries its first stage for a minute


@pytest.fixture
def orchestrator(tmp_path, inputs_root):
    config = OrchestratorConfig(service="orchestrator", port=0, metrics_port=-1, data_uri=tmp_path.as_uri(),
                                allowed_roots=allowed_roots(inputs_root), max_workers=4, grace_s=1,
                                perception_addr=UNREACHABLE, graph_addr=UNREACHABLE, retrieval_addr=UNREACHABLE,
                                render_addr=UNREACHABLE, trainer_addr=UNREACHABLE, live_streams=0)
    service = build(config)
    service.start()
    service.warm_up()
    service.mark_ready()
    yield service
    service.stop(grace_s=1)


def reason_of(error: grpc.RpcError) -> str:
    status = next(v for k, v in error.trailing_metadata() if k == "grpc-status-details-bin")
    info = error_details_pb2.ErrorInfo()
    status_pb2.Status.FromString(status).details[0].Unpack(info)
    return info.reason


def in_flight(service) -> float:
    return service.metrics.inflight._value.get()


def test_waiters_beyond_the_slots_are_refused_and_the_orchestrator_keeps_answering(orchestrator, female_video):
    service, orchestrator = orchestrator, grpc.insecure_channel(f"127.0.0.1:{orchestrator.port}")
    operations = operations_pb2_grpc.OperationsStub(orchestrator)
    request = pb.CreateSpeakerRequest(reference_uris=[str(female_video)])
    name = pb_grpc.OrchestratorServiceStub(orchestrator).CreateSpeaker(request, timeout=10).name
    wait = operations_pb2.WaitOperationRequest(name=name)
    waiting = [threading.Thread(target=operations.WaitOperation, args=(wait,), kwargs={"timeout": 60})
               for _ in range(2)]  # 4 workers - 2 kept free (and none for live streams)
    for thread in waiting:
        thread.start()
    deadline = time.monotonic() + 30
    while in_flight(service) < 2 and time.monotonic() < deadline:  # both waiters hold their slots
        time.sleep(0.02)
    with pytest.raises(grpc.RpcError) as refused:
        operations.WaitOperation(wait, timeout=5)
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and reason_of(refused.value) == "TOO_MANY_WAITERS"
    watch = pb_grpc.OrchestratorServiceStub(orchestrator).WatchOperation(pb.WatchOperationRequest(name=name), timeout=5)
    with pytest.raises(grpc.RpcError) as watched:
        list(watch)
    assert watched.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    health = health_pb2_grpc.HealthStub(orchestrator).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    assert not operations.GetOperation(operations_pb2.GetOperationRequest(name=name), timeout=5).done
    operations.CancelOperation(operations_pb2.CancelOperationRequest(name=name), timeout=5)
    for thread in waiting:  # the cancel ends the job (at its next retry) and frees the waiters
        thread.join(timeout=30)
        assert not thread.is_alive()


def test_64_concurrent_waiters_leave_health_and_get_operation_answering(orchestrator, female_video):
    """The probe's case: 64 callers wait at once. Those beyond the slots are refused at once; the health check
    and GetOperation answer within their deadline meanwhile (the latencies are printed, not asserted)."""
    channel = grpc.insecure_channel(f"127.0.0.1:{orchestrator.port}")
    operations = operations_pb2_grpc.OperationsStub(channel)
    name = pb_grpc.OrchestratorServiceStub(channel).CreateSpeaker(
        pb.CreateSpeakerRequest(reference_uris=[str(female_video)]), timeout=10).name
    outcomes: list[str] = []

    def wait_once() -> None:
        try:
            operations.WaitOperation(operations_pb2.WaitOperationRequest(name=name), timeout=60)
            outcomes.append("done")
        except grpc.RpcError as error:
            outcomes.append(error.code().name)

    waiters = [threading.Thread(target=wait_once) for _ in range(64)]
    for thread in waiters:
        thread.start()
    started = time.perf_counter()
    health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1)
    health_s = time.perf_counter() - started
    started = time.perf_counter()
    assert not operations.GetOperation(operations_pb2.GetOperationRequest(name=name), timeout=1).done
    print(f"\nwith 64 waiters: health {health_s * 1000:.0f} ms, GetOperation {(time.perf_counter() - started) * 1000:.0f} ms")
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    operations.CancelOperation(operations_pb2.CancelOperationRequest(name=name), timeout=5)
    for thread in waiters:
        thread.join(timeout=60)
        assert not thread.is_alive()
    assert outcomes.count("RESOURCE_EXHAUSTED") >= 62 and set(outcomes) <= {"RESOURCE_EXHAUSTED", "done"}

"""End-to-end benchmark on a private local mesh: wall time per second of output, split by stage,
for a new speaker (cold) and for the same speaker again with other speech (warm)."""
from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path

import grpc
from google.longrunning import operations_pb2, operations_pb2_grpc

from tango.mesh.mesh import LocalMesh
from tango.orchestrator.v1 import orchestrator_service_pb2 as pb
from tango.orchestrator.v1 import orchestrator_service_pb2_grpc as pb_grpc

BENCH_BASE_PORT = 51050


def reenact_and_wait(address: str, request: pb.CreateReenactmentRequest, timeout_s: float = 3600) -> tuple[pb.Reenactment, pb.OperationMetadata, float]:
    channel = grpc.insecure_channel(address)
    started = time.perf_counter()
    operation = pb_grpc.OrchestratorServiceStub(channel).CreateReenactment(request, timeout=60)
    operation = operations_pb2_grpc.OperationsStub(channel).WaitOperation(
        operations_pb2.WaitOperationRequest(name=operation.name), timeout=timeout_s)
    while not operation.done:
        operation = operations_pb2_grpc.OperationsStub(channel).WaitOperation(
            operations_pb2.WaitOperationRequest(name=operation.name), timeout=timeout_s)
    seconds = time.perf_counter() - started
    metadata = pb.OperationMetadata()
    operation.metadata.Unpack(metadata)
    if operation.HasField("error"):
        raise RuntimeError(f"reenactment failed: {operation.error.message}")
    result = pb.Reenactment()
    operation.response.Unpack(result)
    return result, metadata, seconds


def end_to_end_benchmark(reference: Path, audio: Path, warm_audio: Path | None = None) -> dict:
    warm_audio = warm_audio or audio.with_name("s2g_002.wav")
    with tempfile.TemporaryDirectory(prefix="tango-bench-mesh-") as home:
        mesh = LocalMesh(Path(home), base_port=BENCH_BASE_PORT, allowed_roots=f"{reference.parent}:{audio.parent}")
        started = time.perf_counter()
        mesh.up(log=lambda _line: None)
        figures = {"mesh_up_seconds": round(time.perf_counter() - started, 1)}
        try:
            address = mesh.endpoint("orchestrator")
            for label, speech in (("cold", audio), ("warm", warm_audio)):
                request = pb.CreateReenactmentRequest(request_id=uuid.uuid4().hex, reference_uris=[str(reference)],
                                                      audio_uri=str(speech))
                result, metadata, seconds = reenact_and_wait(address, request)
                figures[label] = {
                    "audio": speech.name, "output_seconds": round(result.duration_s, 2),
                    "wall_seconds": round(seconds, 1),
                    "wall_seconds_per_output_second": round(seconds / result.duration_s, 2),
                    "stages": {t.stage: t.seconds for t in metadata.timings}, "jumps": result.jumps,
                }
        finally:
            mesh.down()
    return figures

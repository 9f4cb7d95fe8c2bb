"""End-to-end benchmark on a private local mesh: wall time per second of output, split by stage,
for a new speaker (cold) and for the same speaker again with other speech (warm)."""
from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path

import grpc
import soundfile as sf
from google.longrunning import operations_pb2, operations_pb2_grpc

from tango.mesh.mesh import LocalMesh
from tango.orchestrator.v1 import orchestrator_service_pb2 as pb
from tango.orchestrator.v1 import orchestrator_service_pb2_grpc as pb_grpc

BENCH_BASE_PORT = 51050
LIVE_BENCH_SECONDS = 60.0


def reenact_and_wait(channel: grpc.Channel, request: pb.CreateReenactmentRequest, timeout_s: float = 3600) -> tuple[pb.Reenactment, pb.OperationMetadata, float]:
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


def live_benchmark(channel: grpc.Channel, speaker: str, audios: list[Path], seconds: float) -> dict:
    """`tango live bench` on the bench mesh: one real-time stream of the audios looped to `seconds`."""
    from tango.cli.live_client import play, summary
    from tango.cli.live_cmd import speech_pcm
    from tango.type.v1 import types_pb2

    header = pb.StreamReenactmentHeader(speaker=speaker,
                                        audio_format=types_pb2.AudioFormat(sample_rate_hz=16000, channels=1))
    stub = pb_grpc.OrchestratorServiceStub(channel)
    play(stub, header, speech_pcm(audios, 2.0), realtime=False)  # builds the frame bank: not part of the figures
    return summary([play(stub, header, speech_pcm(audios, seconds), realtime=True)])


def end_to_end_benchmark(reference: Path, audio: Path, warm_audio: Path | None = None) -> dict:
    warm_audio = warm_audio or audio.with_name("s2g_002.wav")
    with tempfile.TemporaryDirectory(prefix="tango-bench-mesh-") as home:
        mesh = LocalMesh(Path(home), base_port=BENCH_BASE_PORT, allowed_roots=f"{reference.parent}:{audio.parent}")
        started = time.perf_counter()
        mesh.up(log=lambda _line: None)
        figures = {"mesh_up_seconds": round(time.perf_counter() - started, 1)}
        try:
            orchestrator = mesh.channel("orchestrator")
            for label, speech in (("cold", audio), ("warm", warm_audio)):
                request = pb.CreateReenactmentRequest(request_id=uuid.uuid4().hex, reference_uris=[str(reference)],
                                                      audio_uri=str(speech))
                result, metadata, seconds = reenact_and_wait(orchestrator, request)
                figures[label] = {
                    "audio": speech.name, "output_seconds": round(result.duration_s, 2),
                    "wall_seconds": round(seconds, 1),
                    "wall_seconds_per_output_second": round(seconds / result.duration_s, 2),
                    "stages": {t.stage: t.seconds for t in metadata.timings}, "jumps": result.jumps,
                }
            figures["live"] = live_benchmark(orchestrator, result.speaker, [audio, warm_audio], LIVE_BENCH_SECONDS)
        finally:
            mesh.down()
    return figures


def ingest_replicas_benchmark(reference: Path, replica_counts: tuple[int, ...] = (1, 2)) -> dict:
    """Speaker ingest's perception stage (plan, ranges in parallel, merge: ParallelIngest) of `reference` on a
    private mesh of N perception processes, each N on a fresh store; the merged artifacts compared."""
    from tango.orchestrator.parallel_ingest import ParallelIngest
    from tango.orchestrator.stage_clients import StageAddresses, StageClients
    from tango.perception.artifact_io import PerceptionArtifact

    figures: dict = {"video": reference.name}
    artifacts = []
    for count in replica_counts:
        with tempfile.TemporaryDirectory(prefix="tango-bench-ingest-") as home:
            mesh = LocalMesh(Path(home), base_port=BENCH_BASE_PORT, allowed_roots=str(reference.parent),
                             only={"perception"}, replicas={"perception": count})
            mesh.up(log=lambda _line: None)
            try:
                target, unused = mesh.endpoint("perception"), "127.0.0.1:9"
                clients = StageClients(StageAddresses(target, unused, unused, unused, unused), deadline_s=3600)
                ingest = ParallelIngest(clients, max_ranges=count, min_range_s=10.0)
                ranges = clients.plan_analysis(str(reference), 0.0, count, 10.0, lambda: False)
                started = time.perf_counter()
                output = ingest.analyze(str(reference), 0.0, lambda *_: None, lambda: False)
                seconds = time.perf_counter() - started
                clients.close()
                artifacts.append(PerceptionArtifact.load(Path(home) / "data" / "perception" / output.sha256))
            finally:
                mesh.down()
        figures[f"replicas_{count}"] = {"seconds": round(seconds, 1), "ranges": len(ranges) if count > 1 else 1,
                                        "frames": artifacts[-1].frames}
    first = artifacts[0]
    figures["speedup"] = round(figures["replicas_1"]["seconds"] / figures[f"replicas_{replica_counts[-1]}"]["seconds"], 2)
    figures["arrays_identical"] = all(
        sorted(a.arrays) == sorted(first.arrays) and all(a.arrays[k].tobytes() == first.arrays[k].tobytes() for k in a.arrays)
        for a in artifacts[1:])
    return figures


def render_replicas_benchmark(reference: Path, audios: list[Path], replica_counts: tuple[int, ...] = (1, 2),
                              job_workers: int = 2, max_height: int = 540) -> dict:
    """Reenactment jobs per minute on the local mesh with N render processes (same run, one shared store).

    Every run renders the same work: one job per audio, all at once, to an orchestrator running
    `job_workers` jobs at a time. Untimed first, each audio once at half height: that makes the speaker and
    caches what precedes rendering (audio embedding, retrieval), so the timed runs differ in their render
    stage only; each timed run asks for its own output height (540, 538, ...), so none is a cache hit.
    """
    import os
    from concurrent.futures import ThreadPoolExecutor

    jobs = len(audios)
    figures: dict = {"video": reference.name, "jobs": jobs, "job_workers": job_workers, "max_height": max_height,
                     "audio_seconds": round(sum(sf.info(str(a)).duration for a in audios), 1)}
    roots = ":".join(sorted({str(reference.parent)} | {str(a.parent) for a in audios}))
    saved = {k: os.environ.get(k) for k in ("TANGO_ORCHESTRATOR_JOB_WORKERS", "TANGO_ORCHESTRATOR_MAX_JOBS_IN_FLIGHT")}
    os.environ.update({"TANGO_ORCHESTRATOR_JOB_WORKERS": str(job_workers),
                       "TANGO_ORCHESTRATOR_MAX_JOBS_IN_FLIGHT": str(jobs + 1)})

    def all_at_once(orchestrator: grpc.Channel, height: int) -> float:
        requests = [_reenactment(reference, audio, 1.0, height) for audio in audios]
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            list(pool.map(lambda r: reenact_and_wait(orchestrator, r), requests))
        return time.perf_counter() - started

    try:
        with tempfile.TemporaryDirectory(prefix="tango-bench-render-data-") as data:
            for run, count in enumerate(replica_counts):
                with tempfile.TemporaryDirectory(prefix="tango-bench-render-") as home:
                    mesh = LocalMesh(Path(home), base_port=BENCH_BASE_PORT, data_uri=Path(data).as_uri(),
                                     allowed_roots=roots, replicas={"render": count})
                    mesh.up(log=lambda _line: None)
                    try:
                        orchestrator = mesh.channel("orchestrator")
                        if run == 0:
                            all_at_once(orchestrator, max_height // 2)
                        seconds = all_at_once(orchestrator, max_height - 2 * run)
                    finally:
                        mesh.down()
                figures[f"render_replicas_{count}"] = {"seconds": round(seconds, 1),
                                                       "jobs_per_minute": round(jobs / seconds * 60, 2)}
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    last = figures[f"render_replicas_{replica_counts[-1]}"]["jobs_per_minute"]
    figures["ratio"] = round(last / figures[f"render_replicas_{replica_counts[0]}"]["jobs_per_minute"], 2)
    return figures


def _reenactment(reference: Path, audio: Path, jump_penalty: float, max_height: int) -> pb.CreateReenactmentRequest:
    return pb.CreateReenactmentRequest(
        request_id=uuid.uuid4().hex, reference_uris=[str(reference)], audio_uri=str(audio),
        options=pb.ReenactmentOptions(jump_penalty=jump_penalty, max_height=max_height))

"""Two orchestrator replicas on one real PostgreSQL job store, over one local mesh: jobs accepted by either
run on whichever has room; `kill -9` of the replica rendering a job hands the job to the other once its
lease expires, and it completes exactly once; a cancel sent to the replica that does not run a job stops
it; both replicas answer GetOperation alike."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import grpc
import psycopg
import pytest
from google.longrunning import operations_pb2, operations_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from support import allowed_roots
from tango.mesh.health import grpc_serving
from tango.mesh.mesh import LocalMesh
from tango.orchestrator.v1 import orchestrator_service_pb2 as pb
from tango.orchestrator.v1 import orchestrator_service_pb2_grpc as pb_grpc
from tango.runtime.auth import bearer_channel, client_token

BASE_PORT = 53050
SECOND_PORT, SECOND_METRICS_PORT = BASE_PORT + 90, BASE_PORT + 190
LEASE_S = 8.0
JOBS = 6


@pytest.fixture(scope="module")
def job_store(postgres):
    name = f"takeover_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    return postgres.replace("/postgres?", f"/{name}?")


@pytest.fixture(scope="module")
def replicas(tmp_path_factory, media_dir, inputs_root, job_store, monkeypatch_module):
    """The mesh's orchestrator (replica A) and a second orchestrator process (replica B) on the same store."""
    for key, value in {"DATABASE": job_store, "LEASE_S": str(LEASE_S), "JOB_WORKERS": "1",
                       "MAX_JOBS_IN_FLIGHT": "20"}.items():
        monkeypatch_module.setenv(f"TANGO_ORCHESTRATOR_{key}", value)
    home = tmp_path_factory.mktemp("takeover-mesh")
    mesh = LocalMesh(home, base_port=BASE_PORT, allowed_roots=allowed_roots(inputs_root))
    mesh.up(log=lambda _line: None)
    second = SecondReplica(mesh, home)
    second.start()
    monkeypatch_module.setenv("TANGO_TOKEN", mesh.token())  # how a caller outside the mesh's home is admitted
    yield {"mesh": mesh, "a": mesh.endpoint("orchestrator"), "b": second.address, "second": second}
    second.stop()
    mesh.down()


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


class SecondReplica:
    def __init__(self, mesh: LocalMesh, home: Path):
        self.address = f"127.0.0.1:{SECOND_PORT}"
        self.env = {**os.environ, **mesh.environment(),
                    "TANGO_ORCHESTRATOR_PORT": str(SECOND_PORT),
                    "TANGO_ORCHESTRATOR_METRICS_PORT": str(SECOND_METRICS_PORT)}
        self.log = home / "logs" / "orchestrator-b.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "tango.cli.main", "serve", "orchestrator"],
                                            env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 120
        while not grpc_serving(self.address):
            assert self.process.poll() is None and time.monotonic() < deadline, self.log.read_text()[-3000:]
            time.sleep(0.25)

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=60)


def stubs(address: str):
    channel = bearer_channel(grpc.insecure_channel(address), client_token())
    return pb_grpc.OrchestratorServiceStub(channel), operations_pb2_grpc.OperationsStub(channel)


def get(address: str, name: str) -> operations_pb2.Operation:
    return stubs(address)[1].GetOperation(operations_pb2.GetOperationRequest(name=name), timeout=10)


def metadata(operation) -> pb.OperationMetadata:
    meta = pb.OperationMetadata()
    operation.metadata.Unpack(meta)
    return meta


def owner_of(job_store: str, name: str) -> str | None:
    with psycopg.connect(job_store) as connection:
        row = connection.execute("SELECT owner FROM jobs WHERE id=%s", (name.removeprefix("operations/"),)).fetchone()
    return row[0]


def wait_until(condition, timeout_s: float, what: str, poll_s: float = 0.1):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(poll_s)
    raise AssertionError(f"timed out waiting for {what}")


def wait_done(address: str, name: str, timeout_s: float = 600) -> operations_pb2.Operation:
    return wait_until(lambda: (op := get(address, name)).done and op, timeout_s, f"{name} to end", poll_s=0.5)


@pytest.fixture(scope="module")
def speaker(replicas, female_video):
    request = pb.CreateSpeakerRequest(request_id="takeover-speaker", reference_uris=[str(female_video)],
                                      options=pb.SpeakerOptions(max_seconds=10.0, train_minutes=0.25))
    operation = stubs(replicas["b"])[0].CreateSpeaker(request, timeout=30)
    done = wait_done(replicas["a"], operation.name, timeout_s=900)  # asked of B, answered alike by A
    assert not done.HasField("error"), done.error.message
    result = pb.Speaker()
    done.response.Unpack(result)
    return result.name


def reenact(address: str, speaker: str, audio: Path, transition_frames: int) -> str:
    request = pb.CreateReenactmentRequest(request_id=uuid.uuid4().hex, speaker=speaker, audio_uri=str(audio),
                                          options=pb.ReenactmentOptions(max_height=288,
                                                                        transition_frames=transition_frames))
    return stubs(address)[0].CreateReenactment(request, timeout=30).name


def in_render(address: str, name: str) -> bool:
    meta = metadata(get(address, name))
    return meta.stage == "render" and meta.stage_progress.done > 0


def test_takeover_after_kill_cancel_across_replicas_and_one_view(replicas, speaker, media_dir, job_store):
    a, b, mesh = replicas["a"], replicas["b"], replicas["mesh"]
    audio = media_dir / "audio" / "sadtalker_RD_Radio31_000.wav"

    # a cancel sent to the replica that does not run the job stops it
    doomed = reenact(a, speaker, audio, transition_frames=4 + 2 * JOBS)
    wait_until(lambda: metadata(get(a, doomed)).stage, 120, "the cancel target to start", poll_s=0.1)
    cancel_via = b if _is_mesh_replica(owner_of(job_store, doomed), mesh) else a
    stubs(cancel_via)[1].CancelOperation(operations_pb2.CancelOperationRequest(name=doomed), timeout=10)
    assert metadata(wait_done(a, doomed, timeout_s=60)).state == pb.JOB_STATE_CANCELLED

    names = [reenact((a, b)[i % 2], speaker, audio, transition_frames=4 + 2 * i) for i in range(JOBS)]
    # kill -9 the replica rendering a job; the other takes the job over once the lease runs out
    victim = wait_until(lambda: next((n for n in names if in_render(a, n)), None), 600,
                        "a job in the middle of render", poll_s=0.1)
    victim_owner = owner_of(job_store, victim)
    killed_mesh_replica = _is_mesh_replica(victim_owner, mesh)
    killed_at = time.monotonic()
    if killed_mesh_replica:
        mesh.kill("orchestrator")
    else:
        replicas["second"].kill()
    survivor = b if killed_mesh_replica else a
    wait_until(lambda: owner_of(job_store, victim) not in (None, victim_owner), LEASE_S + 30,
               "the take-over", poll_s=0.1)
    takeover_s = time.monotonic() - killed_at
    print(f"\ntake-over {takeover_s:.1f} s after kill -9 with a {LEASE_S:.0f} s lease")
    assert takeover_s >= LEASE_S * 0.5  # by lease expiry, not by anything faster that would be unsafe

    finished = [wait_done(survivor, n) for n in names]
    for operation in finished:
        assert not operation.HasField("error"), operation.error.message
        assert metadata(operation).state == pb.JOB_STATE_SUCCEEDED
    with psycopg.connect(job_store) as connection:
        resumes = dict(connection.execute("SELECT id, resumes FROM jobs WHERE kind='reenactment'").fetchall())
    assert resumes[victim.removeprefix("operations/")] == 1

    # every job completed once: one render artifact per job, six distinct videos
    videos = set()
    for operation in finished:
        result = pb.Reenactment()
        operation.response.Unpack(result)
        videos.add(result.video_uri)
    renders = [p for p in (Path(mesh.data_uri.removeprefix("file://")) / "render").iterdir() if not p.name.startswith(".")]
    assert len(videos) == JOBS and len(renders) == JOBS, (videos, renders)
    assert render_count(mesh, "miss") == JOBS  # the render stage drew each video once

    # the killed replica comes back and answers exactly as the survivor does
    if killed_mesh_replica:
        mesh.up(log=lambda _line: None)
    else:
        replicas["second"].start()
    for name in [*names, doomed]:
        assert get(a, name).SerializeToString(deterministic=True) == get(b, name).SerializeToString(deterministic=True)


def render_count(mesh: LocalMesh, cache: str) -> float:
    """Render requests the render stage answered with this cache outcome (its Prometheus counter)."""
    port = next(m.metrics_port for m in mesh.members() if m.name == "render")
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    return sum(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
               if sample.name == "tango_render_videos_total" and sample.labels.get("cache") == cache)


def _is_mesh_replica(owner: str, mesh: LocalMesh) -> bool:
    """Whether a lease owner (host:pid:nonce) is the mesh's orchestrator process."""
    pid = int(owner.split(":")[1])
    return any(m.name == "orchestrator" and m.pid == pid for m in mesh.members())

"""Chaos on the local mesh: reenactment jobs submitted while random members (every stage, Triton and the
orchestrator) are killed with SIGKILL at random moments; `tango mesh chaos --json` prints what became of them.

1. `jobs` reenactments of one speaker are submitted, a few seconds apart, each with its own request id (a
   submission the dead orchestrator missed is sent again with the same id: creation is idempotent; one the
   orchestrator refuses for its bound on jobs in flight is sent again once there is room).
2. Meanwhile a killer picks a random member every `interval_s` (± half) and kills its process group; the
   mesh's supervisor restarts it. Each kill's recovery time runs from the kill to the member being ready.
3. Every job is followed until it ends (polled through whichever orchestrator is up). A job ends succeeded, or
   failed with a status (code and reason); one that never ends within `timeout_s` is lost.
4. The artifact store is checked: every published artifact holds its completion marker (a killed writer
   leaves at most a hidden staging folder, never a half-written artifact).
"""
from __future__ import annotations

import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from google.longrunning import operations_pb2, operations_pb2_grpc
from google.rpc import error_details_pb2

from tango.artifacts.store import COMPLETE_MARKER
from tango.mesh.mesh import LocalMesh
from tango.orchestrator.v1 import orchestrator_service_pb2 as pb
from tango.orchestrator.v1 import orchestrator_service_pb2_grpc as pb_grpc

TRANSIENT = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
FULL = (grpc.StatusCode.RESOURCE_EXHAUSTED,)  # jobs in flight at the bound: submit again later


@dataclass
class ChaosReport:
    jobs: int
    succeeded: int = 0
    failed: dict[str, int] = field(default_factory=dict)  # "CODE/REASON" -> jobs
    lost: int = 0
    kills: list[dict] = field(default_factory=list)  # {"member", "at_s", "recovered_s"}
    incomplete_artifacts: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def figures(self) -> dict:
        recoveries = sorted(k["recovered_s"] for k in self.kills if k["recovered_s"] is not None)
        return {"jobs": self.jobs, "succeeded": self.succeeded, "failed_with_status": self.failed,
                "lost": self.lost, "kills": len(self.kills),
                "killed": sorted({k["member"] for k in self.kills}),
                "unrecovered_kills": sum(k["recovered_s"] is None for k in self.kills),
                "recovery_s": {"median": recoveries[len(recoveries) // 2] if recoveries else None,
                               "max": recoveries[-1] if recoveries else None},
                "incomplete_artifacts": self.incomplete_artifacts, "seconds": round(self.seconds, 1)}


class Chaos:
    def __init__(self, mesh: LocalMesh, speaker: str, audios: list[Path], jobs: int = 20, interval_s: float = 20.0,
                 max_height: int = 240, timeout_s: float = 3600.0, seed: int | None = None):
        self.mesh, self.speaker, self.audios = mesh, speaker, audios
        self.jobs, self.interval_s, self.max_height, self.timeout_s = jobs, interval_s, max_height, timeout_s
        self.random = random.Random(seed)
        self._done = threading.Event()

    def run(self) -> ChaosReport:
        report, started = ChaosReport(self.jobs), time.monotonic()
        killer = threading.Thread(target=self._kill_until_done, args=(report, started), daemon=True)
        killer.start()
        try:
            names = [self._submit(i) for i in range(self.jobs)]
            for name in names:
                self._follow(name, report, started)
        finally:
            self._done.set()
            killer.join()
        self._wait_recovered(report)
        report.incomplete_artifacts = incomplete_artifacts(Path(self.mesh.data_uri.removeprefix("file://")))
        report.seconds = time.monotonic() - started
        return report

    # ---- jobs -----------------------------------------------------------------------------------
    def _submit(self, index: int) -> str:
        request = pb.CreateReenactmentRequest(
            request_id=f"chaos-{uuid.uuid4().hex}", speaker=self.speaker, audio_uri=str(self.audios[index % len(self.audios)]),
            options=pb.ReenactmentOptions(max_height=self.max_height))
        time.sleep(self.random.uniform(1.0, 4.0))
        return self._retrying(lambda ch: pb_grpc.OrchestratorServiceStub(ch).CreateReenactment(request, timeout=30),
                              also=FULL).name

    def _follow(self, name: str, report: ChaosReport, started: float) -> None:
        request = operations_pb2.WaitOperationRequest(name=name)
        while time.monotonic() - started < self.timeout_s:
            operation = self._retrying(lambda ch: operations_pb2_grpc.OperationsStub(ch).WaitOperation(request, timeout=60))
            if not operation.done:
                continue
            if operation.HasField("error"):
                info = error_details_pb2.ErrorInfo()
                reason = info.reason if operation.error.details and operation.error.details[0].Unpack(info) else "?"
                key = f"{_code_name(operation.error.code)}/{reason}"
                report.failed[key] = report.failed.get(key, 0) + 1
            else:
                report.succeeded += 1
            return
        report.lost += 1

    def _retrying(self, call, also: tuple = ()):
        """`call(channel)` through the orchestrator, waiting out its restarts (and `also` these codes)."""
        deadline = time.monotonic() + self.timeout_s
        while True:
            try:
                with self.mesh.channel("orchestrator") as channel:
                    return call(channel)
            except grpc.RpcError as error:
                if error.code() not in TRANSIENT + also or time.monotonic() > deadline:
                    raise
            except Exception:  # noqa: BLE001 - the orchestrator is not running right now (no endpoint): wait
                if time.monotonic() > deadline:
                    raise
            time.sleep(1.0)

    # ---- kills ----------------------------------------------------------------------------------
    def _kill_until_done(self, report: ChaosReport, started: float) -> None:
        next_kill = time.monotonic() + self.random.uniform(0.5, 1.5) * self.interval_s
        while not self._done.wait(0.5):
            self._note_recoveries(report)
            alive = [m for m in self.mesh.members() if self.mesh.alive(m)]
            if time.monotonic() < next_kill or not alive:
                continue
            victim = self.random.choice(alive)
            self.mesh.kill(victim.name)
            report.kills.append({"member": victim.name, "at_s": round(time.monotonic() - started, 1),
                                 "recovered_s": None, "_killed": time.monotonic(), "_pid": victim.pid})
            next_kill = time.monotonic() + self.random.uniform(0.5, 1.5) * self.interval_s

    def _note_recoveries(self, report: ChaosReport) -> None:
        ready = {m["name"]: m for m in self.mesh.status() if m["ready"]}
        for kill in report.kills:
            member = ready.get(kill["member"])
            if kill["recovered_s"] is None and member is not None and member["pid"] != kill["_pid"]:
                kill["recovered_s"] = round(time.monotonic() - kill["_killed"], 1)

    def _wait_recovered(self, report: ChaosReport, timeout_s: float = 300.0) -> None:
        deadline = time.monotonic() + timeout_s
        while any(k["recovered_s"] is None for k in report.kills) and time.monotonic() < deadline:
            self._note_recoveries(report)
            time.sleep(0.5)
        for kill in report.kills:
            kill.pop("_killed"), kill.pop("_pid")


def incomplete_artifacts(root: Path) -> list[str]:
    """Published artifact folders (<root>/<kind>/<sha256>) without their completion marker."""
    return sorted(str(folder.relative_to(root)) for kind in root.iterdir() if kind.is_dir()
                  for folder in kind.iterdir()
                  if folder.is_dir() and not folder.name.startswith(".") and not (folder / COMPLETE_MARKER).exists())


def _code_name(value: int) -> str:
    return next((code.name for code in grpc.StatusCode if code.value[0] == value), str(value))

"""Chaos on a real local mesh (slow: `make test-all`): reenactments while random members, Triton and the
orchestrator included, are killed; every job ends succeeded or failed with a status, none is lost, no
artifact is half-written, and every killed member comes back."""
from __future__ import annotations

import pytest
from google.longrunning import operations_pb2, operations_pb2_grpc

from support import allowed_roots
from tango.mesh.chaos import Chaos
from tango.mesh.mesh import LocalMesh
from tango.orchestrator.v1 import orchestrator_service_pb2 as pb
from tango.orchestrator.v1 import orchestrator_service_pb2_grpc as pb_grpc

BASE_PORT = 57650


@pytest.mark.slow
def test_jobs_survive_random_kills(tmp_path, media_dir, female_video, inputs_root):
    mesh = LocalMesh(tmp_path, base_port=BASE_PORT, allowed_roots=allowed_roots(inputs_root))
    mesh.up(log=lambda _line: None)
    try:
        with mesh.channel("orchestrator") as channel:
            request = pb.CreateSpeakerRequest(reference_uris=[str(female_video)],
                                              options=pb.SpeakerOptions(max_seconds=10.0, train_minutes=0.25))
            operation = pb_grpc.OrchestratorServiceStub(channel).CreateSpeaker(request, timeout=60)
            while not operation.done:
                operation = operations_pb2_grpc.OperationsStub(channel).WaitOperation(
                    operations_pb2.WaitOperationRequest(name=operation.name), timeout=900)
        speaker = pb.Speaker()
        operation.response.Unpack(speaker)
        audios = [media_dir / "audio" / "sadtalker_RD_Radio31_000.wav"]
        figures = Chaos(mesh, speaker.name, audios, jobs=4, interval_s=8.0, max_height=160, seed=3).run().figures()
        print(f"\nchaos: {figures}")
    finally:
        mesh.down()
    assert figures["lost"] == 0 and figures["incomplete_artifacts"] == []
    assert figures["succeeded"] + sum(figures["failed_with_status"].values()) == 4
    assert figures["kills"] >= 1 and figures["unrecovered_kills"] == 0

"""The orchestrator's calls to the render and trainer stages over real gRPC (stub servicers in-process on
port 0): progress reaches the job, a cancelled job cancels the stream at once (also while the stage is
silent), and a stage that is down is UNAVAILABLE, which the stage retries wait out."""
from __future__ import annotations

import socket
import threading
import time

import pytest

from tango.orchestrator.retry import with_retries
from tango.orchestrator.stage_clients import StageAddresses, StageClients
from tango.render.v1 import render_service_pb2 as render_pb
from tango.render.v1 import render_service_pb2_grpc as render_grpc
from tango.runtime.config import ServiceConfig
from tango.runtime.errors import Cancelled, Unavailable
from tango.runtime.metrics import ServiceMetrics
from tango.runtime.server import GrpcService, ServiceBinding
from tango.trainer.v1 import trainer_service_pb2 as trainer_pb
from tango.trainer.v1 import trainer_service_pb2_grpc as trainer_grpc
from tango.type.v1 import types_pb2


class SlowRender(render_grpc.RenderServiceServicer):
    def __init__(self):
        self.cancelled = threading.Event()
        self.silent_s = 0.0

    def RenderVideo(self, request, context):
        context.add_callback(self.cancelled.set)
        for done in range(0, 61, 20):
            yield render_pb.RenderVideoResponse(progress=types_pb2.Progress(stage="render", done=done, total=60))
            time.sleep(self.silent_s)
        yield render_pb.RenderVideoResponse(result=render_pb.RenderResult(
            render=types_pb2.ArtifactRef(uri="file:///r/render/" + "e" * 64, sha256="e" * 64, kind="render"),
            video_uri="/r/video.mp4", sidecar_uri="/r/video.json", duration_s=2.0))


class Trainer(trainer_grpc.TrainerServiceServicer):
    def TrainSpeakerModel(self, request, context):
        yield trainer_pb.TrainSpeakerModelResponse(progress=types_pb2.Progress(stage="train", done=1, total=2))
        yield trainer_pb.TrainSpeakerModelResponse(result=trainer_pb.TrainingResult(
            checkpoint=str(len(request.perceptions)) * 64))


@pytest.fixture()
def stages():
    render, trainer = SlowRender(), Trainer()
    service = GrpcService(ServiceConfig(port=0, metrics_port=-1, grace_s=0), [
        ServiceBinding("tango.render.v1.RenderService",
                       lambda s: render_grpc.add_RenderServiceServicer_to_server(render, s)),
        ServiceBinding("tango.trainer.v1.TrainerService",
                       lambda s: trainer_grpc.add_TrainerServiceServicer_to_server(trainer, s))], ServiceMetrics("stub"))
    service.start()
    address = f"127.0.0.1:{service.port}"
    clients = StageClients(StageAddresses(address, address, address, address, address), deadline_s=30)
    yield clients, render
    clients.close()
    service.stop()


def test_render_and_training_progress_reach_the_job(stages):
    clients, _render = stages
    progress = []
    outcome = clients.render_video(render_pb.RenderVideoRequest(), lambda d, t: progress.append((d, t)), lambda: False)
    assert progress == [(0, 60), (20, 60), (40, 60), (60, 60)]
    assert outcome.artifact.sha256 == "e" * 64 and outcome.video_uri == "/r/video.mp4" and outcome.duration_s == 2.0
    refs = [types_pb2.ArtifactRef(uri="a"), types_pb2.ArtifactRef(uri="b")]
    assert clients.train_speaker_model(refs, 3.0, lambda d, t: None, lambda: False) == "2" * 64


def test_a_cancelled_job_cancels_a_silent_render_at_once(stages):
    clients, render = stages
    render.silent_s = 5.0  # no message for 5 s after each progress report
    cancel_at = time.monotonic() + 0.5
    started = time.monotonic()
    with pytest.raises(Cancelled):
        clients.render_video(render_pb.RenderVideoRequest(), lambda d, t: None, lambda: time.monotonic() > cancel_at)
    assert time.monotonic() - started < 3.0
    assert render.cancelled.wait(5.0)  # the render stage saw the cancellation (its should_stop turns true)


def test_a_stage_that_is_down_is_unavailable_and_retried():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = f"127.0.0.1:{port}"
    clients = StageClients(StageAddresses(address, address, address, address, address), deadline_s=5)
    attempts = []
    with pytest.raises(Unavailable) as caught:
        with_retries(lambda: clients.render_video(render_pb.RenderVideoRequest(), lambda d, t: None, lambda: False),
                     stage="render", attempts=3, base_s=0.01, should_stop=lambda: False, on_attempt=attempts.append)
    assert attempts == [1, 2, 3]
    assert caught.value.reason == "STAGE_UNREACHABLE" and caught.value.message.startswith("the render stage")
    clients.close()

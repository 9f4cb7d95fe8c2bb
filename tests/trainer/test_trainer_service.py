"""TrainerService over gRPC, training in its own process on a real reference: progress, the checkpoint
artifact, the cache, cancellation, and bad input answered with a status and an ErrorInfo reason."""
from __future__ import annotations

import threading
import time

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from support import allowed_roots
from tango.artifacts.store import ArtifactStore
from tango.cluster.jobs import JobPoolConfig
from tango.perception.config import PerceptionConfig
from tango.perception.server import build as build_perception_service
from tango.perception.v1 import perception_service_pb2 as perception_pb
from tango.perception.v1 import perception_service_pb2_grpc as perception_grpc
from tango.runtime.errors import InvalidArgument
from tango.trainer.config import TrainerConfig
from tango.trainer.server import build as build_trainer_service
from tango.trainer.server import make_executor
from tango.trainer.v1 import trainer_service_pb2 as pb
from tango.trainer.v1 import trainer_service_pb2_grpc as pb_grpc
from tango.type.v1 import types_pb2

MINUTES = 0.1  # a 6 s cap: a short, real training


@pytest.fixture(scope="module")
def mesh(store_root, inputs_root, female_video, tmp_path_factory):
    common = dict(port=0, metrics_port=-1, data_uri=store_root.as_uri(), allowed_roots=allowed_roots(inputs_root),
                  grace_s=1)
    work = tmp_path_factory.mktemp("training")
    services = [build_perception_service(PerceptionConfig(service="perception", **common)),
                build_trainer_service(TrainerConfig(service="trainer", work_dir=str(work), **common))]
    for service in services:
        service.start()
        service.mark_ready()
    channels = [grpc.insecure_channel(f"127.0.0.1:{s.port}") for s in services]
    request = perception_pb.AnalyzeVideoRequest(video_uri=str(female_video),
                                                options=perception_pb.AnalysisOptions(max_seconds=6.0))
    perceived = list(perception_grpc.PerceptionServiceStub(channels[0]).AnalyzeVideo(request, timeout=600))[-1]
    yield {"stub": pb_grpc.TrainerServiceStub(channels[1]), "perception": perceived.result.artifact,
           "store": ArtifactStore(store_root.as_uri()), "work": work}
    for service in services:
        service.stop()


def train(stub, perceptions, minutes=MINUTES) -> tuple[list, pb.TrainingResult]:
    replies = list(stub.TrainSpeakerModel(pb.TrainSpeakerModelRequest(perceptions=perceptions, max_minutes=minutes),
                                          timeout=600))
    return [r.progress for r in replies if r.HasField("progress")], replies[-1].result


def failure(stub, request) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as caught:
        list(stub.TrainSpeakerModel(request, timeout=60))
    info = error_details_pb2.ErrorInfo()
    rpc_status.from_call(caught.value).details[0].Unpack(info)
    return caught.value.code(), info.reason


def test_training_streams_progress_and_stores_the_checkpoint_once(mesh):
    progress, result = train(mesh["stub"], [mesh["perception"]])
    assert progress and {p.stage for p in progress} == {"train"}
    assert len(result.checkpoint) == 64 and result.artifact.kind == "checkpoint"
    assert result.artifact.sha256 == result.checkpoint and result.executor == pb.EXECUTOR_LOCAL
    directory = mesh["store"].local_dir(result.artifact.uri, "checkpoint")
    assert any(p.suffix == ".safetensors" for p in directory.iterdir())
    assert not (mesh["work"] / result.checkpoint).exists()  # training state is gone once stored
    progress, again = train(mesh["stub"], [mesh["perception"]])
    assert again.cache_hit and again.checkpoint == result.checkpoint and not progress


def test_cancelling_the_stream_stops_the_training(mesh):
    minutes = 0.5  # another budget, so another checkpoint
    before = {a.sha256 for a in mesh["store"].list("checkpoint")}
    call = mesh["stub"].TrainSpeakerModel(
        pb.TrainSpeakerModelRequest(perceptions=[mesh["perception"]], max_minutes=minutes), timeout=120)
    first = next(call)  # training has started
    assert first.HasField("progress")
    threading.Timer(0.2, call.cancel).start()
    with pytest.raises(grpc.RpcError) as caught:
        list(call)
    assert caught.value.code() == grpc.StatusCode.CANCELLED
    deadline = time.monotonic() + 30
    while any(t.name == "long-work" for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.1)  # the training notices should_stop at its next step, saves its state and unwinds
    assert not any(t.name == "long-work" for t in threading.enumerate())
    assert {a.sha256 for a in mesh["store"].list("checkpoint")} == before


def test_bad_requests_get_a_status_and_a_reason(mesh):
    stub, perception = mesh["stub"], mesh["perception"]
    assert failure(stub, pb.TrainSpeakerModelRequest()) == (grpc.StatusCode.INVALID_ARGUMENT, "NO_PERCEPTIONS")
    negative = pb.TrainSpeakerModelRequest(perceptions=[perception], max_minutes=-1)
    assert failure(stub, negative) == (grpc.StatusCode.INVALID_ARGUMENT, "BAD_TRAIN_MINUTES")
    unknown = types_pb2.ArtifactRef(uri=perception.uri[:-64] + "0" * 64, kind="perception")
    assert failure(stub, pb.TrainSpeakerModelRequest(perceptions=[unknown])) == (
        grpc.StatusCode.NOT_FOUND, "ARTIFACT_NOT_FOUND")
    wrong_kind = types_pb2.ArtifactRef(uri=perception.uri.replace("/perception/", "/graph/"))
    code, _reason = failure(stub, pb.TrainSpeakerModelRequest(perceptions=[wrong_kind]))
    assert code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND)


def test_executor_configuration_is_checked(tmp_path):
    store = ArtifactStore(tmp_path.as_uri())
    with pytest.raises(InvalidArgument) as caught:
        make_executor(TrainerConfig(executor="slurm"), store)
    assert caught.value.reason == "BAD_CONFIG"
    with pytest.raises(InvalidArgument, match="TANGO_JOBS_IMAGE"):
        make_executor(TrainerConfig(executor="kubernetes"), store, pool=JobPoolConfig())  # no image: no Jobs
    executor = make_executor(TrainerConfig(executor="kubernetes", job_poll_s=0.5), store, pool=JobPoolConfig(image="i:1"))
    assert executor.name == "kubernetes" and executor.poll_s == 0.5

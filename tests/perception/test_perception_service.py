"""PerceptionService end to end over gRPC on real media: results, caching, and bad input."""
from __future__ import annotations

import shutil

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from support import allowed_roots
from tango.perception.config import PerceptionConfig
from tango.perception.server import build
from tango.perception.v1 import perception_service_pb2 as pb
from tango.perception.v1 import perception_service_pb2_grpc as pb_grpc


@pytest.fixture(scope="module")
def stub(store_root, inputs_root):
    config = PerceptionConfig(service="perception", port=0, metrics_port=-1, data_uri=store_root.as_uri(),
                              allowed_roots=allowed_roots(inputs_root), grace_s=1)
    service = build(config)
    service.start()
    service.mark_ready()
    yield pb_grpc.PerceptionServiceStub(grpc.insecure_channel(f"127.0.0.1:{service.port}"))
    service.stop()


def analyze(stub, uri: str, seconds: float = 2.0, **options) -> tuple[list, pb.PerceptionResult]:
    request = pb.AnalyzeVideoRequest(video_uri=str(uri), options=pb.AnalysisOptions(max_seconds=seconds, **options))
    progress, result = [], None
    for reply in stub.AnalyzeVideo(request, timeout=300):
        if reply.HasField("progress"):
            progress.append(reply.progress)
        else:
            result = reply.result
    return progress, result


def reason_of(error: grpc.RpcError) -> str:
    info = error_details_pb2.ErrorInfo()
    rpc_status.from_call(error).details[0].Unpack(info)
    return info.reason


def test_analyze_female_speaker_then_cache_hit(stub, female_video):
    progress, result = analyze(stub, female_video)
    assert progress and progress[-1].done == progress[-1].total == result.summary.frames
    assert result.summary.frames == 60 and 29.9 < result.summary.fps < 30.0
    assert result.summary.pose_ratio >= 0.9 and result.summary.hands_ratio > 0
    assert result.video.width == 1280 and result.representation == "mediapipe"
    assert {"pose_world", "mask_bits", "hand_boxes", "hand_clarity"} <= set(result.fields)
    assert not result.cache_hit
    _, again = analyze(stub, female_video)
    assert again.cache_hit and again.artifact.uri == result.artifact.uri
    looked_up = stub.GetArtifact(pb.GetArtifactRequest(artifact_uri=result.artifact.uri), timeout=30).result
    assert looked_up.summary.frames == 60


def test_talking_head_has_no_hands(stub, media_dir):
    _, result = analyze(stub, media_dir / "video" / "mimictalk_German_20s.mp4")
    assert result.summary.pose_ratio > 0.9 and result.summary.hands_ratio < 0.05


def test_import_beat2_motion(stub, media_dir):
    motion = media_dir / "motion" / "2_scott_0_1_1"
    reply = stub.ImportMotion(pb.ImportMotionRequest(motion_uri=f"{motion}.npz", audio_uri=f"{motion}.wav"), timeout=120)
    assert reply.result.representation == "smplx" and reply.result.summary.frames == 1906
    assert "smplx_poses" in reply.result.fields and reply.result.video.has_audio


@pytest.mark.parametrize("name, content, code, reason", [
    ("empty.mp4", b"", grpc.StatusCode.INVALID_ARGUMENT, "EMPTY_MEDIA"),
    ("garbage.mp4", bytes(range(256)) * 64, grpc.StatusCode.INVALID_ARGUMENT, "CORRUPT_MEDIA"),
])
def test_bad_files(stub, inputs_root, name, content, code, reason):
    path = inputs_root / name
    path.write_bytes(content)
    with pytest.raises(grpc.RpcError) as caught:
        analyze(stub, path)
    assert caught.value.code() == code and reason_of(caught.value) == reason


def test_audio_given_as_video_and_truncated_video(stub, inputs_root, media_dir, female_video):
    wav = inputs_root / "speech.wav"
    shutil.copy(media_dir / "audio" / "sadtalker_RD_Radio31_000.wav", wav)
    with pytest.raises(grpc.RpcError) as caught:
        analyze(stub, wav)
    assert reason_of(caught.value) == "NOT_A_VIDEO"
    truncated = inputs_root / "truncated.mp4"
    data = female_video.read_bytes()
    truncated.write_bytes(data[: len(data) // 3])
    with pytest.raises(grpc.RpcError) as caught:
        analyze(stub, truncated)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_paths_outside_roots_and_unknown_artifacts(stub, inputs_root):
    for uri in ("/etc/passwd", str(inputs_root / ".." / ".." / "etc" / "hosts")):
        with pytest.raises(grpc.RpcError) as caught:
            analyze(stub, uri)
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED and reason_of(caught.value) == "URI_NOT_ALLOWED"
    with pytest.raises(grpc.RpcError) as caught:
        analyze(stub, inputs_root / "missing.mp4")
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetArtifact(pb.GetArtifactRequest(artifact_uri="file:///nowhere/perception/" + "0" * 64), timeout=10)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND and reason_of(caught.value) == "ARTIFACT_NOT_FOUND"


def test_service_survives_bad_requests(stub, female_video):
    _, result = analyze(stub, female_video)
    assert result.summary.frames == 60

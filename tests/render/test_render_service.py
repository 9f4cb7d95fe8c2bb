"""RenderService over gRPC on real footage: a path with a jump rendered through an injected interpolation
client (Triton's place; the mesh tests use the real one), the content-addressed cache, cancellation, and
bad input answered with a status and an ErrorInfo reason."""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import grpc
import numpy as np
import pytest
import soundfile as sf
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from support import allowed_roots
from tango.artifacts.store import ArtifactStore
from tango.graph.artifact_io import GraphArtifact
from tango.graph.config import GraphConfig
from tango.graph.server import build as build_graph_service
from tango.graph.v1 import graph_service_pb2 as graph_pb
from tango.graph.v1 import graph_service_pb2_grpc as graph_grpc
from tango.media.encode import probe_output
from tango.perception.config import PerceptionConfig
from tango.perception.server import build as build_perception_service
from tango.perception.v1 import perception_service_pb2 as perception_pb
from tango.perception.v1 import perception_service_pb2_grpc as perception_grpc
from tango.render.config import RenderConfig
from tango.render.server import build as build_render_service
from tango.render.v1 import render_service_pb2 as pb
from tango.render.v1 import render_service_pb2_grpc as pb_grpc
from tango.type.v1 import types_pb2


class CrossfadeInterp:
    """Stands in for the Triton client: every model is ready; windows are crossfades, optionally slow."""

    def __init__(self):
        self.calls = 0
        self.delay_s = 0.0

    def is_model_ready(self, model: str) -> bool:
        return True

    def model_state(self, model: str):
        return "READY", ""

    def interpolate(self, before, after, count, method="flow", model="interp_flow", layers=None):
        self.calls += 1
        time.sleep(self.delay_s)
        weights = np.linspace(0, 1, count + 2)[1:-1, None, None, None]  # (n, 1, 1, 1)
        mixed = (1 - weights) * before[-1].astype(np.float32) + weights * after[0].astype(np.float32)
        return mixed.astype(np.uint8)  # (n, H, W, 3)


@pytest.fixture(scope="module")
def mesh(store_root, inputs_root, female_video):
    common = dict(port=0, metrics_port=-1, data_uri=store_root.as_uri(), allowed_roots=allowed_roots(inputs_root),
                  grace_s=1)
    interp = CrossfadeInterp()
    services = [build_perception_service(PerceptionConfig(service="perception", **common)),
                build_graph_service(GraphConfig(service="graph", **common)),
                build_render_service(RenderConfig(service="render", transition_method="flow", **common), interp)]
    for service in services:
        service.start()
        service.mark_ready()
    channels = [grpc.insecure_channel(f"127.0.0.1:{s.port}") for s in services]
    perception = perception_grpc.PerceptionServiceStub(channels[0])
    request = perception_pb.AnalyzeVideoRequest(video_uri=str(female_video),
                                                options=perception_pb.AnalysisOptions(max_seconds=4.0))
    perceived = list(perception.AnalyzeVideo(request, timeout=600))[-1].result.artifact
    graph_request = graph_pb.BuildGraphRequest(perception_uris=[perceived.uri])
    graph = list(graph_grpc.MotionGraphServiceStub(channels[1]).BuildGraph(graph_request, timeout=600))[-1].graph.artifact
    audio = inputs_root / "render_speech.wav"
    speech, rate = sf.read(str(Path(female_video).parents[1] / "audio" / "s2g_001.wav"), dtype="float32")
    sf.write(str(audio), speech[: 2 * rate], rate)
    yield {"stub": pb_grpc.RenderServiceStub(channels[2]), "interp": interp, "audio": audio, "graph": graph,
           "footage": pb.SpeakerFootage(name="speakers/" + "a" * 64, reference_uris=[str(female_video)],
                                        perceptions=[perceived], graph=graph),
           "store": ArtifactStore(store_root.as_uri())}
    for service in services:
        service.stop()


def request_of(mesh, nodes=None, jump_steps=(8,), **options) -> pb.RenderVideoRequest:
    nodes = list(range(8)) + list(range(2, 9)) if nodes is None else nodes  # 15 steps = 2 s; a jump 7 -> 2
    options = {"max_height": 240, "lip_sync": types_pb2.LIP_SYNC_OFF, **options}
    return pb.RenderVideoRequest(speaker=mesh["footage"], path=pb.MotionPath(nodes=nodes, jump_steps=jump_steps),
                                 audio_uri=str(mesh["audio"]), options=pb.RenderOptions(**options))


def render(stub, request) -> tuple[list, pb.RenderResult]:
    replies = list(stub.RenderVideo(request, timeout=300))
    return [r.progress for r in replies if r.HasField("progress")], replies[-1].result


def failure(stub, request) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as caught:
        list(stub.RenderVideo(request, timeout=60))
    info = error_details_pb2.ErrorInfo()
    rpc_status.from_call(caught.value).details[0].Unpack(info)
    return caught.value.code(), info.reason


def test_render_streams_progress_and_writes_the_video(mesh):
    progress, result = render(mesh["stub"], request_of(mesh))
    assert progress and progress[-1].done == progress[-1].total == 60
    assert result.render.kind == "render" and not result.cache_hit and result.duration_s == pytest.approx(2.0)
    probe = probe_output(result.video_uri)
    assert (probe["video_codec"], probe["audio_codec"], probe["frames"]) == ("h264", "aac", 60)
    assert probe["height"] <= 240
    sidecar = json.loads(Path(result.sidecar_uri).read_text())
    assert sidecar["path"] == list(range(8)) + list(range(2, 9)) and len(sidecar["jumps"]) == 1
    assert sidecar["transitions"]["windows"] == 1 and sidecar["transitions"]["fallback_windows"] == 0
    assert sidecar["lipsync"]["status"] == "skipped" and mesh["interp"].calls == 1
    heard = sidecar["speech"]  # the synthetic sound holds no words: no captions, and the sidecar says why
    assert heard["captions"] is None and heard["transcript"]["status"] != "ok" and result.captions_uri == ""


def test_the_same_render_comes_from_the_cache(mesh):
    _, first = render(mesh["stub"], request_of(mesh))
    calls = mesh["interp"].calls
    _, again = render(mesh["stub"], request_of(mesh))
    assert again.cache_hit and again.render.uri == first.render.uri and again.video_uri == first.video_uri
    assert mesh["interp"].calls == calls  # nothing drawn again
    _, other = render(mesh["stub"], request_of(mesh, transition_frames=4))
    assert not other.cache_hit and other.render.sha256 != first.render.sha256


def test_cancelling_the_stream_stops_the_render(mesh):
    store, interp = mesh["store"], mesh["interp"]
    before = {a.sha256 for a in store.list("render")}
    interp.delay_s = 1.0  # the window takes a second: the cancel arrives mid-render
    calls = interp.calls
    try:
        call = mesh["stub"].RenderVideo(request_of(mesh, transition_frames=6), timeout=120)
        threading.Timer(0.5, call.cancel).start()
        with pytest.raises(grpc.RpcError) as caught:
            list(call)
        assert caught.value.code() == grpc.StatusCode.CANCELLED
        time.sleep(2.5)  # the render thread notices should_stop at its next frame and unwinds
    finally:
        interp.delay_s = 0.0
    assert {a.sha256 for a in store.list("render")} == before  # nothing published
    render_dir = Path(store.root_path) / "render"
    assert not [p for p in render_dir.iterdir() if p.name.startswith(".")]  # no staging left behind
    assert interp.calls <= calls + 1


def test_bad_requests_get_a_status_and_a_reason(mesh, tmp_path):
    stub = mesh["stub"]
    missing = pb.RenderVideoRequest(speaker=mesh["footage"], path=pb.MotionPath(nodes=[0, 1]))
    assert failure(stub, missing) == (grpc.StatusCode.INVALID_ARGUMENT, "MISSING_AUDIO")
    assert failure(stub, request_of(mesh, nodes=[], jump_steps=())) == (grpc.StatusCode.INVALID_ARGUMENT, "EMPTY_PATH")
    assert failure(stub, request_of(mesh, jump_steps=(40,))) == (grpc.StatusCode.INVALID_ARGUMENT, "BAD_JUMP_STEPS")
    outside = GraphArtifact.load(mesh["store"].local_dir(mesh["graph"].uri, "graph")).nodes
    assert failure(stub, request_of(mesh, nodes=[0, outside], jump_steps=(1,))) == (
        grpc.StatusCode.INVALID_ARGUMENT, "PATH_OUTSIDE_GRAPH")
    assert failure(stub, request_of(mesh, lip_sync=42)) == (grpc.StatusCode.INVALID_ARGUMENT, "BAD_LIPSYNC_MODE")
    no_footage = request_of(mesh)
    no_footage.speaker.ClearField("perceptions")
    assert failure(stub, no_footage) == (grpc.StatusCode.INVALID_ARGUMENT, "MISSING_FOOTAGE")
    unknown = request_of(mesh)
    unknown.speaker.name = "speakers/" + "b" * 64  # (the cache key names the speaker, not its artifacts)
    unknown.speaker.perceptions[0].uri = mesh["footage"].perceptions[0].uri[:-64] + "0" * 64
    assert failure(stub, unknown) == (grpc.StatusCode.NOT_FOUND, "ARTIFACT_NOT_FOUND")
    elsewhere = tmp_path / "speech.wav"  # tmp_path is outside the allowed roots
    elsewhere.write_bytes(mesh["audio"].read_bytes())
    request = request_of(mesh)
    request.audio_uri = str(elsewhere)
    assert failure(stub, request) == (grpc.StatusCode.PERMISSION_DENIED, "URI_NOT_ALLOWED")


def test_a_transcript_that_cannot_be_the_speech_is_refused_before_any_frame(mesh):
    stub, calls = mesh["stub"], mesh["interp"].calls
    for name, text, reason in (("long.txt", "word " * 200, "TRANSCRIPT_TOO_LONG"),
                               ("empty.txt", "  \n", "EMPTY_TRANSCRIPT")):
        transcript = mesh["audio"].with_name(name)  # inside the allowed roots, beside the 2 s of speech
        transcript.write_text(text)
        request = request_of(mesh)
        request.transcript_uri = str(transcript)
        assert failure(stub, request) == (grpc.StatusCode.INVALID_ARGUMENT, reason)
    assert mesh["interp"].calls == calls  # no window was drawn

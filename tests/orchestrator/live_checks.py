"""Live mode on the real local mesh (called by test_mesh_jobs.py, which owns the mesh and the speaker): a stream
end to end with its LL-HLS, RTMP and SRT outputs, the picture against an offline render of the same path, bad
input, capacity, a silent caller and a caller that hangs up (its SRT relay process ended with it)."""
from __future__ import annotations

import io
import json
import threading
import time
import urllib.request
from pathlib import Path

import av
import grpc
import numpy as np
import pytest
from google.rpc import error_details_pb2, status_pb2

from live_servers import SrtServer, child_pids, ffprobe, hidden_files
from tango.cli.live_client import LiveRun, play
from tango.graph.artifact_io import GraphArtifact
from tango.media.audio import load_audio
from tango.media.encode import probe_output
from tango.mesh.mesh import LocalMesh
from tango.orchestrator.v1 import orchestrator_service_pb2 as pb
from tango.orchestrator.v1 import orchestrator_service_pb2_grpc as pb_grpc
from tango.perception.artifact_io import PerceptionArtifact
from tango.render.live import LiveOptions, LiveTimeline, Step
from tango.render.v1 import render_service_pb2 as render_pb
from tango.render.v1 import render_service_pb2_grpc as render_grpc
from tango.retrieval.v1 import retrieval_service_pb2 as retrieval_pb
from tango.retrieval.v1 import retrieval_service_pb2_grpc as retrieval_grpc
from tango.runtime.errors import TangoError
from tango.type.v1 import types_pb2

SPEECH = "audio/s2g_001.wav"


def _stub(mesh: LocalMesh) -> pb_grpc.OrchestratorServiceStub:
    return pb_grpc.OrchestratorServiceStub(mesh.channel("orchestrator"))


def _pcm(media_dir: Path, rate: int, seconds: float) -> np.ndarray:
    speech = load_audio(media_dir / SPEECH, rate)[: int(rate * seconds)]
    return (np.clip(speech, -1, 1) * 32767).astype(np.int16)


def _header(speaker: str, rate: int = 16000, **options) -> pb.StreamReenactmentHeader:
    return pb.StreamReenactmentHeader(speaker=speaker, audio_format=types_pb2.AudioFormat(sample_rate_hz=rate, channels=1),
                                      options=pb.LiveOptions(**options))


def _reason(error: grpc.RpcError) -> str:
    status = status_pb2.Status.FromString(dict(error.trailing_metadata())["grpc-status-details-bin"])
    info = error_details_pb2.ErrorInfo()
    status.details[0].Unpack(info)
    return info.reason


def check_live_stream(mesh: LocalMesh, speaker: str, media_dir: Path, inputs_root: Path, rtmp_server) -> None:
    """8 s of 48 kHz speech, sent as fast as the stream takes it: contiguous segments, one playable fragmented MP4
    as long as the audio, an HLS playlist written and an RTMP stream pushed by the render stage, metrics."""
    pcm = _pcm(media_dir, 48000, 8.0)
    header = _header(speaker, rate=48000)
    header.outputs.hls_dir = str(inputs_root / "live-hls")
    header.outputs.hls_low_latency = True
    header.outputs.rtmp_url = rtmp_server.url("mesh")
    srt_server = SrtServer().start()
    try:
        header.outputs.srt_url = srt_server.url
        run = play(_stub(mesh), header, pcm, chunk_s=0.2, realtime=False, timeout_s=600)
        srt_received = ffprobe(str(srt_server.wait_recorded()))  # what the SRT listener received (MPEG-TS)
    finally:
        srt_server.stop()
    assert {s["codec_name"] for s in srt_received["streams"]} == {"h264", "aac"}
    assert float(srt_received["format"]["duration"]) == pytest.approx(8.0, abs=0.2)
    assert run.started.height in (720, 480, 360) and run.started.width % 2 == 0  # a rung of the ladder
    assert [s.index for s in run.segments] == list(range(len(run.segments)))
    starts = np.array([s.start_s for s in run.segments])
    durations = np.array([s.duration_s for s in run.segments])
    assert np.allclose(starts[1:], (starts + durations)[:-1], atol=1e-6)
    assert abs(run.media_s - 8.0) <= 1.5 / run.started.fps
    assert run.segments[-1].audio.end_s == pytest.approx(8.0, abs=1e-3)
    assert run.finished.steps * 4 >= round(8.0 * run.started.fps) and run.finished.segments == len(run.segments)
    assert sum(s.lip_synced_frames for s in run.segments) > 0.5 * sum(s.frames for s in run.segments)
    output = inputs_root / "live.mp4"
    run.write(output)
    probe = probe_output(output)
    assert (probe["video_codec"], probe["audio_codec"]) == ("h264", "aac")
    assert abs(probe["video_duration_s"] - 8.0) <= 1.5 / probe["fps"]
    playlist = (inputs_root / "live-hls" / "index.m3u8").read_text()
    extinf = [float(line[len("#EXTINF:"):].rstrip(",")) for line in playlist.splitlines() if line.startswith("#EXTINF:")]
    assert "#EXT-X-ENDLIST" in playlist and sum(extinf) == pytest.approx(8.0, abs=0.1)
    assert len(extinf) < len(run.segments)  # LL-HLS: the live segments were parts, grouped into longer segments
    assert list((inputs_root / "live-hls").glob("segment_00000.*.m4s"))  # the parts written as they came
    assert hidden_files(inputs_root / "live-hls") == []
    with av.open(str(inputs_root / "live-hls" / "index.m3u8")) as hls:
        assert hls.streams.video[0].codec_context.name == "h264"
    assert float(ffprobe(str(inputs_root / "live-hls" / "index.m3u8"))["format"]["duration"]) == pytest.approx(8.0, abs=0.2)
    received = ffprobe(str(rtmp_server.wait_recorded("mesh")))  # what the RTMP ingest recorded
    assert {s["codec_name"] for s in received["streams"]} == {"h264", "aac"}
    assert float(received["format"]["duration"]) == pytest.approx(8.0, abs=0.2)
    metrics = {m.name: m.metrics_port for m in mesh.members()}
    scraped = urllib.request.urlopen(f"http://127.0.0.1:{metrics['orchestrator']}/metrics", timeout=10).read().decode()
    assert "tango_orchestrator_live_streams 0.0" in scraped


def check_live_matches_offline_render(mesh: LocalMesh, name: str, media_dir: Path) -> None:
    """The live render stage fed an offline path shows the same real frames as the offline render of that path:
    frames outside every transition window of both are the same reference frames (PSNR of the two encodes)."""
    speaker = _stub(mesh).GetSpeaker(pb.GetSpeakerRequest(name=name), timeout=10)
    audio = media_dir / SPEECH
    retrieval = retrieval_grpc.RetrievalServiceStub(mesh.channel("retrieval"))
    path = retrieval.SearchPath(retrieval_pb.SearchPathRequest(graph_uri=speaker.graph.uri, audio_uri=str(audio),
                                                               checkpoint=speaker.checkpoint), timeout=300)
    render = render_grpc.RenderServiceStub(mesh.channel("render"))
    footage = render_pb.SpeakerFootage(name=speaker.name, reference_uris=speaker.reference_uris,
                                       perceptions=speaker.perceptions, graph=speaker.graph)
    offline = [r for r in render.RenderVideo(render_pb.RenderVideoRequest(
        speaker=footage, audio_uri=str(audio), path=render_pb.MotionPath(
            nodes=path.path, jump_steps=path.jump_steps, jump_difficulties=path.jump_difficulties,
            typical_jump_difficulty=path.typical_jump_difficulty),
        options=render_pb.RenderOptions(max_height=360, lip_sync=types_pb2.LIP_SYNC_OFF)), timeout=600)][-1].result
    jumps = dict(zip(path.jump_steps, path.jump_difficulties))
    steps = [types_pb2.PathStep(step=t, node=n, jump=t in jumps, difficulty=jumps.get(t, 0.0))
             for t, n in enumerate(path.path)]
    pcm = _pcm(media_dir, 16000, 1e9)

    def requests():
        yield render_pb.StreamRenderRequest(header=render_pb.StreamRenderHeader(
            speaker=footage, audio_format=types_pb2.AudioFormat(sample_rate_hz=16000, channels=1),
            options=render_pb.LiveRenderOptions(height=360, lip_sync=types_pb2.LIP_SYNC_OFF)))
        for k in range(0, len(steps), 6):  # audio a little ahead of the steps, as in a live stream
            yield render_pb.StreamRenderRequest(audio=pcm[k * 4 * 16000 // 30: (k + 6) * 4 * 16000 // 30].tobytes())
            yield render_pb.StreamRenderRequest(steps=render_pb.StepBatch(
                steps=steps[k:k + 6], typical_jump_difficulty=path.typical_jump_difficulty))
        yield render_pb.StreamRenderRequest(end_of_stream=True)

    replies = list(render.StreamRender(requests(), timeout=600))
    live = replies[0].started.init_segment + b"".join(r.segment.data for r in replies[1:])
    live_frames = _decode(live)
    offline_frames = _decode(Path(offline.video_uri).read_bytes())
    assert len(live_frames) == len(offline_frames)
    schedule = _live_schedule(speaker, steps, path.typical_jump_difficulty, len(live_frames))
    windows = json.loads(Path(offline.sidecar_uri).read_text())["windows"]
    drawn = schedule.generated.copy()
    for start, end in windows:
        drawn[start:end] = True
    compared = np.flatnonzero(~drawn)
    assert compared.size > 0.5 * len(live_frames)
    mse = np.mean([(live_frames[n].astype(float) - offline_frames[n].astype(float)) ** 2 for n in compared])
    assert 10 * np.log10(255 ** 2 / mse) > 33.0


def _decode(data: bytes) -> list[np.ndarray]:
    with av.open(io.BytesIO(data)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def _live_schedule(speaker: pb.Speaker, steps: list, typical: float, frames: int):
    """The schedule the live render stage follows for these steps (which frames it draws)."""
    graph = GraphArtifact.load(Path(speaker.graph.uri.removeprefix("file://")))
    perceptions = [PerceptionArtifact.load(Path(p.uri.removeprefix("file://"))) for p in speaker.perceptions]
    timeline = LiveTimeline(graph.arrays["node_video"], graph.arrays["node_start_frame"],
                            tuple(p.arrays["source_frame"] for p in perceptions), LiveOptions())
    timeline.commit([Step(s.node, s.jump, s.difficulty) for s in steps], typical)
    return timeline.schedule(frames)


def check_live_bad_input(mesh: LocalMesh, speaker: str, media_dir: Path) -> None:
    stub = _stub(mesh)
    audio = pb.StreamReenactmentRequest(audio=_pcm(media_dir, 16000, 0.1).tobytes())
    cases = [
        ([audio], grpc.StatusCode.INVALID_ARGUMENT, "LIVE_WITHOUT_HEADER"),
        ([pb.StreamReenactmentRequest(header=_header(speaker, rate=44100))], grpc.StatusCode.INVALID_ARGUMENT,
         "UNSUPPORTED_AUDIO_FORMAT"),
        ([pb.StreamReenactmentRequest(header=_header("speakers/" + "0" * 64))], grpc.StatusCode.NOT_FOUND,
         "SPEAKER_NOT_FOUND"),
        ([pb.StreamReenactmentRequest(header=_header(speaker, lookahead_s=float("nan")))],
         grpc.StatusCode.INVALID_ARGUMENT, "BAD_LIVE_OPTION"),
        ([pb.StreamReenactmentRequest(header=_header(speaker)), pb.StreamReenactmentRequest(audio=b"\x01\x02\x03")],
         grpc.StatusCode.INVALID_ARGUMENT, "BAD_AUDIO_CHUNK"),
        ([pb.StreamReenactmentRequest(header=_header(speaker)), pb.StreamReenactmentRequest(header=_header(speaker))],
         grpc.StatusCode.INVALID_ARGUMENT, "UNEXPECTED_LIVE_MESSAGE"),
    ]
    for messages, code, reason in cases:
        with pytest.raises(grpc.RpcError) as caught:
            list(stub.StreamReenactment(iter(messages), timeout=120))
        assert (caught.value.code(), _reason(caught.value)) == (code, reason), messages[-1]


def check_live_capacity_idle_and_close(mesh: LocalMesh, speaker: str, media_dir: Path) -> None:
    """Two streams are the mesh's capacity: a third is refused; a caller silent for 3 s (the mesh's live_idle_s)
    is ended with LIVE_INPUT_IDLE; a caller that hangs up frees its slot for the next stream."""
    stub = _stub(mesh)
    quiet, release = threading.Event(), threading.Event()
    opened = [threading.Event(), threading.Event()]
    outcomes: dict[int, object] = {}
    silence = pb.StreamReenactmentRequest(audio=np.zeros(1600, "<i2").tobytes())

    def held_stream(k: int) -> None:
        def requests():
            yield pb.StreamReenactmentRequest(header=_header(speaker))
            while not quiet.wait(1.0):  # 0.1 s of silence a second keeps the stream alive ...
                yield silence
            release.wait(60)  # ... until the caller falls silent without closing its side
        call = stub.StreamReenactment(requests(), timeout=120)
        try:
            for reply in call:
                if reply.WhichOneof("event") == "started":
                    opened[k].set()
        except grpc.RpcError as error:
            outcomes[k] = (error.code(), _reason(error) if error.code() != grpc.StatusCode.CANCELLED else "")

    threads = [threading.Thread(target=held_stream, args=(k,)) for k in range(2)]
    for thread in threads:
        thread.start()
    assert all(event.wait(120) for event in opened)
    with pytest.raises(grpc.RpcError) as caught:
        list(stub.StreamReenactment(iter([pb.StreamReenactmentRequest(header=_header(speaker))]), timeout=60))
    assert (caught.value.code(), _reason(caught.value)) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "LIVE_CAPACITY")
    quiet.set()
    for thread in threads:
        thread.join(60)
    release.set()
    assert outcomes == {k: (grpc.StatusCode.DEADLINE_EXCEEDED, "LIVE_INPUT_IDLE") for k in range(2)}
    # a caller that hangs up mid-stream: its slot is free again at once, and its SRT relay (an ffmpeg child of the
    # render service) is ended with it
    srt_server = SrtServer().start()
    try:
        header = _header(speaker)
        header.outputs.srt_url = srt_server.url
        with pytest.raises(HangUp):
            play(stub, header, _pcm(media_dir, 16000, 6.0), chunk_s=0.1, realtime=True, on_segment=_hang_up)
        srt_server.wait_recorded(timeout_s=30)  # the relay ended the SRT connection
    finally:
        srt_server.stop()
    _assert_no_relay_left(mesh, timeout_s=15)
    deadline = time.monotonic() + 10
    while True:
        try:
            run = play(stub, _header(speaker), _pcm(media_dir, 16000, 2.0), chunk_s=0.1, realtime=False)
            break
        except TangoError as error:
            assert error.reason == "LIVE_CAPACITY" and time.monotonic() < deadline
            time.sleep(0.5)
    assert abs(run.media_s - 2.0) <= 1.5 / run.started.fps


def _assert_no_relay_left(mesh: LocalMesh, timeout_s: float) -> None:
    """No process left under the render service besides what it had before live streams (no ffmpeg relay)."""
    renders = [m.pid for m in mesh.members() if m.of == "render"]
    deadline = time.monotonic() + timeout_s
    while True:
        below = {pid for render in renders for pid in child_pids(render)}
        below |= {pid for parent in below for pid in child_pids(parent)}
        left = [pid for pid in below if _comm(pid) == "ffmpeg"]
        if not left:
            return
        assert time.monotonic() < deadline, f"ffmpeg relay(s) {left} left under the render service"
        time.sleep(0.5)


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""  # ended meanwhile


class HangUp(Exception):
    """A viewer closing the player: the client stops reading and cancels the call."""


def _hang_up(_run: LiveRun, _segment) -> None:
    raise HangUp

"""The render room's live side: opens a live session over a speaker's footage (no gRPC here).

A session needs the speaker's graph (node -> clip), perceptions (perception frame -> decoded frame), the
frame bank at the live height (built on the speaker's first live stream, then reused), the Triton
interpolator and the broadcast outputs. Live streams are bounded per replica (`live_streams`): each holds
an encoder and draws frames in real time, and a replica that took more would let all of them fall behind.
"""
from __future__ import annotations

from dataclasses import dataclass

from tango.artifacts.inputs import InputResolver
from tango.graph.artifact_io import GraphArtifact
from tango.lipsync.live_mouths import LiveMouths
from tango.media.pcm import PcmFormat
from tango.perception.artifact_io import PerceptionArtifact
from tango.render.frame_bank import FrameBank
from tango.render.live import FrameDrawer, LiveOptions, LiveRenderSession, LiveTimeline, SegmentSink
from tango.render.live_outputs import HlsWriter, RtmpPusher
from tango.render.live_srt import SrtPusher
from tango.render.transitions import TransitionModel
from tango.runtime.errors import InvalidArgument
from tango.runtime.progress import StopFn


LL_HLS_SEGMENT_S = 2.0  # low-latency HLS: live segments (its parts) grouped into HLS segments of about this length


@dataclass(frozen=True)
class LiveRequest:
    """What a caller may choose of a live stream (0 / "" = the service's default)."""

    height: int = 0
    segment_s: float = 0.0
    transition_frames: int = 0
    interpolator: str = ""
    lip_sync: str = "auto"  # auto / mouths (own mouths where the footage shows a face) or off


@dataclass(frozen=True)
class LiveOutputSpec:
    rtmp_url: str = ""
    hls_dir: str = ""
    srt_url: str = ""
    hls_low_latency: bool = False


def open_session(core, footage, pcm: PcmFormat, request: LiveRequest, outputs: LiveOutputSpec,
                 should_stop: StopFn) -> LiveRenderSession:
    """A live session of `footage` (a `tango.render.core.Footage`) through `core`'s store, inputs and Triton."""
    perceptions = [PerceptionArtifact.load(core.store.local_dir(uri, "perception")) for uri in footage.perception_uris]
    fps = float(perceptions[0].meta["fps"])
    config = core.config
    if request.lip_sync not in ("auto", "mouths", "off"):
        raise InvalidArgument(f"lip sync {request.lip_sync!r} does not run live (auto, mouths or off)",
                              reason="LIVE_LIPSYNC_UNSUPPORTED")
    segment_s = request.segment_s or config.live_segment_s
    if not 0 < segment_s <= 10:
        raise InvalidArgument(f"segment length must lie in (0, 10] s, got {segment_s}", reason="BAD_LIVE_OPTION")
    height, load = core.live_ladder.open(int(perceptions[0].meta["height"]), int(perceptions[0].meta["width"]),
                                         request.height)
    sinks: list[SegmentSink] = []
    try:
        options = LiveOptions(height=height, segment_frames=max(1, round(segment_s * fps)),
                              transition_frames=request.transition_frames or config.live_transition_frames)
        graph = GraphArtifact.load(core.store.local_dir(footage.graph_uri, "graph"))
        videos = [core.inputs.resolve(uri) for uri in footage.reference_uris]
        bank = FrameBank.open(core.store, core.hashes, videos, options.height, should_stop)
        timeline = LiveTimeline(graph.arrays["node_video"], graph.arrays["node_start_frame"],
                                tuple(p.arrays["source_frame"] for p in perceptions), options)
        transitions = TransitionModel(core.interp, request.interpolator or config.interpolator,
                                      config.interpolator_fallback, config.live_transition_method)
        mouths = None if request.lip_sync == "off" else LiveMouths.open(perceptions, bank.frames, fps,
                                                                         pad=options.longest_window + 1)
        _open_sinks(sinks, outputs, options, fps, core.inputs)
        return LiveRenderSession(timeline, FrameDrawer(bank, transitions), pcm, fps, options, sinks, load, mouths)
    except BaseException:
        load.close()
        close_quietly(sinks)
        raise


def close_quietly(sinks: list[SegmentSink]) -> None:
    """Closes every output after a failure (an output that fails to close too must not hide the first error)."""
    for sink in sinks:
        try:
            sink.close()
        except Exception:  # noqa: BLE001 - the error being raised is the one that matters
            pass


def _open_sinks(sinks: list[SegmentSink], outputs: LiveOutputSpec, options: LiveOptions, fps: float,
                inputs: InputResolver) -> None:
    """Appends the broadcast outputs asked for to `sinks` as each opens (the caller closes them if a later one
    fails): an HLS directory inside the allowed roots (created), an RTMP ingest, an SRT listener."""
    if outputs.hls_low_latency and not outputs.hls_dir:
        raise InvalidArgument("hls_low_latency asks for partial segments of an HLS output, and hls_dir is empty",
                              reason="BAD_LIVE_OUTPUT")
    if outputs.hls_dir:
        if len(outputs.hls_dir) > 4096:
            raise InvalidArgument("the HLS directory's path is longer than 4096 characters", reason="URI_TOO_LONG")
        directory = inputs.inside_roots(outputs.hls_dir)
        directory.mkdir(parents=True, exist_ok=True)
        segment_s = options.segment_frames / fps
        parts = max(1, round(LL_HLS_SEGMENT_S / segment_s)) if outputs.hls_low_latency else 0
        sinks.append(HlsWriter(directory, target_duration_s=segment_s, parts_per_segment=parts))
    if outputs.rtmp_url:
        sinks.append(RtmpPusher(outputs.rtmp_url))
    if outputs.srt_url:
        sinks.append(SrtPusher(outputs.srt_url))

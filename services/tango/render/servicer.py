"""gRPC translation for RenderService: messages in, core calls, messages out. Nothing else."""
from __future__ import annotations

import grpc

from tango.media.pcm import PcmFormat
from tango.render.core import Footage, PathSpec, RenderCore, RenderOutcome, RenderRequestOptions
from tango.render.live import RenderedSegment, Step
from tango.render.live_core import LiveOutputSpec, LiveRequest
from tango.render.v1 import render_service_pb2 as pb
from tango.render.v1 import render_service_pb2_grpc as pb_grpc
from tango.runtime.errors import InvalidArgument
from tango.runtime.grpc_util import progress_message, received, should_stop_for
from tango.runtime.progress import Finished, run_with_progress
from tango.type.v1 import types_pb2

LIP_SYNC_MODES = {types_pb2.LIP_SYNC_UNSPECIFIED: "auto", types_pb2.LIP_SYNC_OFF: "off",
                  types_pb2.LIP_SYNC_MOUTHS: "mouths", types_pb2.LIP_SYNC_WAV2LIP: "wav2lip"}
LIP_SYNC_SOURCES = {types_pb2.LIP_SYNC_SOURCE_UNSPECIFIED: "", types_pb2.LIP_SYNC_SOURCE_MODEL: "model",
                    types_pb2.LIP_SYNC_SOURCE_PHONES: "phones", types_pb2.LIP_SYNC_SOURCE_BOTH: "both"}


class RenderServicer(pb_grpc.RenderServiceServicer):
    def __init__(self, core: RenderCore):
        self.core = core

    def RenderVideo(self, request: pb.RenderVideoRequest, context: grpc.ServicerContext):
        footage, path, options = footage_of(request.speaker), path_of(request.path, request.cues), options_of(request.options)

        def work(on_progress, should_stop):
            return self.core.render(footage, path, request.audio_uri, options, on_progress, should_stop,
                                    request.transcript_uri)

        for event in run_with_progress(work, should_stop_for(context), min_interval=10):
            if isinstance(event, Finished):
                yield pb.RenderVideoResponse(result=result_message(event.value))
            else:
                yield pb.RenderVideoResponse(progress=progress_message(event))

    def StreamRender(self, request_iterator, context: grpc.ServicerContext):
        requests = received(request_iterator)
        first = next(requests, None)
        if first is None or first.WhichOneof("event") != "header":
            raise InvalidArgument("a live render starts with its header", reason="LIVE_WITHOUT_HEADER")
        header = first.header
        with self.core.live_slots.taken():
            session = self.core.open_live(
                footage_of(header.speaker), PcmFormat(header.audio_format.sample_rate_hz, header.audio_format.channels),
                LiveRequest(height=header.options.height, segment_s=header.options.segment_s,
                            transition_frames=header.options.transition_frames,
                            interpolator=header.options.interpolator,
                            lip_sync=LIP_SYNC_MODES.get(header.options.lip_sync, f"enum value {header.options.lip_sync}")),
                LiveOutputSpec(rtmp_url=header.outputs.rtmp_url, hls_dir=header.outputs.hls_dir,
                               srt_url=header.outputs.srt_url, hls_low_latency=header.outputs.hls_low_latency),
                should_stop_for(context))
            with session:
                width, height = session.encoded_size
                yield pb.StreamRenderResponse(started=pb.LiveVideoStarted(
                    init_segment=session.init_segment, width=width, height=height, fps=session.fps))
                for request in requests:
                    event = request.WhichOneof("event")
                    if event == "audio":
                        session.add_audio(request.audio)
                    elif event == "steps":
                        session.add_steps([Step(s.node, s.jump, s.difficulty) for s in request.steps.steps],
                                          request.steps.typical_jump_difficulty)
                        yield from (pb.StreamRenderResponse(segment=segment_message(s)) for s in session.ready())
                    elif event == "end_of_stream":
                        yield from (pb.StreamRenderResponse(segment=segment_message(s)) for s in session.finish())
                        return
                    else:
                        raise InvalidArgument("a live render has one header", reason="UNEXPECTED_LIVE_MESSAGE")


def segment_message(segment: RenderedSegment) -> types_pb2.MediaSegment:
    media = segment.media
    return types_pb2.MediaSegment(
        index=media.index, data=media.data, start_s=media.start_s, duration_s=media.duration_s, frames=media.frames,
        audio=types_pb2.TimeRange(start_s=media.audio_start_s, end_s=media.audio_end_s),
        timings_s=segment.timings_s, generated_frames=segment.generated_frames,
        lip_synced_frames=segment.lip_synced_frames, drawn_height=segment.drawn_height)


def footage_of(speaker: pb.SpeakerFootage) -> Footage:
    return Footage(name=speaker.name, reference_uris=tuple(speaker.reference_uris),
                   perception_uris=tuple(p.uri for p in speaker.perceptions), graph_uri=speaker.graph.uri)


def path_of(path: pb.MotionPath, cue_outcomes=()) -> PathSpec:
    cues = tuple({"kind": c.kind, "label": c.label, "requested_s": round(c.requested_s, 3),
                  "placed_s": round(c.placed_s, 3), "honoured": c.honoured, "measure": round(c.measure, 3)}
                 for c in cue_outcomes)
    return PathSpec(nodes=tuple(path.nodes), jump_steps=tuple(path.jump_steps),
                    jump_difficulties=tuple(path.jump_difficulties),
                    typical_jump_difficulty=path.typical_jump_difficulty, cues=cues)


def options_of(options: pb.RenderOptions) -> RenderRequestOptions:
    return RenderRequestOptions(
        transition_frames=options.transition_frames, max_height=options.max_height, interpolator=options.interpolator,
        lip_sync=LIP_SYNC_MODES.get(options.lip_sync, f"enum value {options.lip_sync}"),
        lip_sync_source=LIP_SYNC_SOURCES.get(options.lip_sync_source, f"enum value {options.lip_sync_source}"))


def result_message(outcome: RenderOutcome) -> pb.RenderResult:
    artifact = outcome.artifact
    return pb.RenderResult(
        render=types_pb2.ArtifactRef(uri=artifact.uri, sha256=artifact.sha256, kind=artifact.kind),
        video_uri=str(outcome.video_path), sidecar_uri=str(outcome.sidecar_path), duration_s=outcome.duration_s,
        cache_hit=outcome.cache_hit, render_seconds=outcome.seconds,
        captions_uri=str(outcome.captions_path) if outcome.captions_path else "")

"""gRPC translation for RenderService: messages in, core calls, messages out. Nothing else."""
from __future__ import annotations

import grpc

from tango.render.core import Footage, PathSpec, RenderCore, RenderOutcome, RenderRequestOptions
from tango.render.v1 import render_service_pb2 as pb
from tango.render.v1 import render_service_pb2_grpc as pb_grpc
from tango.runtime.grpc_util import progress_message, should_stop_for
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
        footage, path, options = footage_of(request.speaker), path_of(request.path), options_of(request.options)

        def work(on_progress, should_stop):
            return self.core.render(footage, path, request.audio_uri, options, on_progress, should_stop)

        for event in run_with_progress(work, should_stop_for(context), min_interval=10):
            if isinstance(event, Finished):
                yield pb.RenderVideoResponse(result=result_message(event.value))
            else:
                yield pb.RenderVideoResponse(progress=progress_message(event))


def footage_of(speaker: pb.SpeakerFootage) -> Footage:
    return Footage(name=speaker.name, reference_uris=tuple(speaker.reference_uris),
                   perception_uris=tuple(p.uri for p in speaker.perceptions), graph_uri=speaker.graph.uri)


def path_of(path: pb.MotionPath) -> PathSpec:
    return PathSpec(nodes=tuple(path.nodes), jump_steps=tuple(path.jump_steps),
                    jump_difficulties=tuple(path.jump_difficulties),
                    typical_jump_difficulty=path.typical_jump_difficulty)


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
        cache_hit=outcome.cache_hit, render_seconds=outcome.seconds)

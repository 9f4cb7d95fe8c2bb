"""gRPC translation for PerceptionService: messages in, core calls, messages out. Nothing else."""
from __future__ import annotations

import grpc

from tango.perception.core import AnalysisPlan, AnalysisRequestOptions, PerceptionCore, PerceptionOutcome
from tango.perception.v1 import perception_service_pb2 as pb
from tango.perception.v1 import perception_service_pb2_grpc as pb_grpc
from tango.runtime.grpc_util import progress_message, should_stop_for
from tango.runtime.progress import Finished, run_with_progress
from tango.type.v1 import types_pb2


class PerceptionServicer(pb_grpc.PerceptionServiceServicer):
    def __init__(self, core: PerceptionCore):
        self.core = core

    def AnalyzeVideo(self, request: pb.AnalyzeVideoRequest, context: grpc.ServicerContext):
        options = request_options(request.options)

        def work(on_progress, should_stop):
            return self.core.analyze(request.video_uri, options, on_progress, should_stop)

        for event in run_with_progress(work, should_stop_for(context), min_interval=10):
            if isinstance(event, Finished):
                yield pb.AnalyzeVideoResponse(result=result_message(event.value))
            else:
                yield pb.AnalyzeVideoResponse(progress=progress_message(event))

    def ImportMotion(self, request: pb.ImportMotionRequest, context: grpc.ServicerContext):
        return pb.ImportMotionResponse(result=result_message(self.core.import_motion(request.motion_uri, request.audio_uri)))

    def GetArtifact(self, request: pb.GetArtifactRequest, context: grpc.ServicerContext):
        return pb.GetArtifactResponse(result=result_message(self.core.describe(request.artifact_uri)))

    def PlanAnalysis(self, request: pb.PlanAnalysisRequest, context: grpc.ServicerContext):
        plan = self.core.plan(request.video_uri, request_options(request.options), request.max_ranges,
                              request.min_range_seconds)
        return plan_message(plan)

    def MergeAnalyses(self, request: pb.MergeAnalysesRequest, context: grpc.ServicerContext):
        outcome = self.core.merge(request.video_uri, request_options(request.options), [p.uri for p in request.parts])
        return pb.MergeAnalysesResponse(result=result_message(outcome))


def request_options(options: pb.AnalysisOptions) -> AnalysisRequestOptions:
    frame_range = options.frame_range if options.HasField("frame_range") else None
    return AnalysisRequestOptions(
        max_side=options.max_side,
        max_seconds=options.max_seconds,
        allow_several_people=options.allow_several_people,
        skip_cache=options.skip_cache,
        frame_range=(frame_range.start_frame, frame_range.end_frame) if frame_range is not None else None,
    )


def plan_message(plan: AnalysisPlan) -> pb.PlanAnalysisResponse:
    video = plan.video
    return pb.PlanAnalysisResponse(
        ranges=[pb.FrameRange(start_frame=start, end_frame=end) for start, end in plan.ranges],
        video=types_pb2.VideoInfo(width=video.width, height=video.height, fps=plan.fps, frames=plan.ranges[-1][1],
                                  duration_s=plan.ranges[-1][1] / plan.fps, has_audio=video.has_audio,
                                  variable_frame_rate=video.is_vfr),
        segment_frames=plan.segment_frames, cached=plan.cached,
    )


def result_message(outcome: PerceptionOutcome) -> pb.PerceptionResult:
    meta, summary = outcome.meta, outcome.summary
    return pb.PerceptionResult(
        artifact=types_pb2.ArtifactRef(uri=outcome.artifact.uri, sha256=outcome.artifact.sha256, kind=outcome.artifact.kind),
        video=types_pb2.VideoInfo(
            width=int(meta.get("width", 0)), height=int(meta.get("height", 0)), fps=float(meta["fps"]),
            frames=int(meta["frames"]), duration_s=float(meta["duration_s"]), has_audio=bool(meta.get("has_audio")),
            variable_frame_rate=bool(meta.get("is_vfr", False)),
        ),
        summary=pb.PerceptionSummary(
            frames=int(summary["frames"]), fps=float(summary["fps"]), duration_s=float(summary["duration_s"]),
            pose_ratio=float(summary["pose_ratio"] or 0.0), hands_ratio=float(summary["hands_ratio"] or 0.0),
            mean_hand_clarity=float(summary["mean_hand_clarity"] or 0.0),
            face_ratio=float(summary.get("face_ratio") or 0.0),
            speech_status=(summary.get("speech") or {}).get("status", ""),
            speech_words=(summary.get("speech") or {}).get("words", 0),
        ),
        cache_hit=outcome.cache_hit,
        representation=meta.get("representation", ""),
        fields=list(meta.get("fields", [])),
        analysis_seconds=outcome.seconds,
    )

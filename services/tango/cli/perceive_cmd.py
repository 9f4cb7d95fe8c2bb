"""`tango perceive VIDEO --json`: perception of one video through the perception service."""
from __future__ import annotations

import json
from pathlib import Path

from tango.cli.client import channel, last_event
from tango.cli.progress import ProgressReporter
from tango.perception.v1 import perception_service_pb2 as pb
from tango.perception.v1 import perception_service_pb2_grpc as pb_grpc


def register(subparsers) -> None:
    parser = subparsers.add_parser("perceive", help="analyse a reference video (pose, mask, hands, clarity)")
    parser.add_argument("video")
    parser.add_argument("--max-seconds", type=float, default=0.0, help="analyse only the start of the video")
    parser.add_argument("--allow-several-people", action="store_true")
    parser.add_argument("--no-cache", action="store_true")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.set_defaults(func=run)


def perceive(video: str, options: pb.AnalysisOptions, reporter: ProgressReporter) -> pb.PerceptionResult:
    """Streams AnalyzeVideo and returns its final result (shared by `perceive` and `graph build`)."""
    stub = pb_grpc.PerceptionServiceStub(channel("perception"))
    request = pb.AnalyzeVideoRequest(video_uri=str(Path(video).resolve()), options=options)
    return last_event(stub.AnalyzeVideo, request, reporter)


def perception_artifact(source: str):
    """The perception artifact of a video (analysed through the perception service, cached there) or of an
    artifact URI/path of the local store."""
    from tango.artifacts.inputs import local_root_path
    from tango.perception.artifact_io import PerceptionArtifact

    if "/perception/" in source and not Path(source).is_file():
        return PerceptionArtifact.load(local_root_path(source))
    result = perceive(source, pb.AnalysisOptions(), ProgressReporter("perceive"))
    return PerceptionArtifact.load(local_root_path(result.artifact.uri))


def summary_json(result: pb.PerceptionResult) -> dict:
    s = result.summary
    return {
        "frames": s.frames, "fps": round(s.fps, 4), "duration_s": round(s.duration_s, 3),
        "pose_ratio": round(s.pose_ratio, 4), "hands_ratio": round(s.hands_ratio, 4),
        "mean_hand_clarity": round(s.mean_hand_clarity, 3), "face_ratio": round(s.face_ratio, 4), "artifact": result.artifact.uri,
        "representation": result.representation, "width": result.video.width, "height": result.video.height,
        "cache_hit": result.cache_hit, "analysis_seconds": round(result.analysis_seconds, 3),
    }


def run(args) -> int:
    options = pb.AnalysisOptions(max_seconds=args.max_seconds, allow_several_people=args.allow_several_people,
                                 skip_cache=args.no_cache)
    result = perceive(args.video, options, ProgressReporter("perceive"))
    summary = summary_json(result)
    if args.json:
        print(json.dumps(summary))
    else:
        for key, value in summary.items():
            print(f"{key:>18}: {value}")
    return 0

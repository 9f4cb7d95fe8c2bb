"""`tango reenact`, `tango speaker create|list|tag`, `tango jobs list|watch|cancel`."""
from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

from google.longrunning import operations_pb2, operations_pb2_grpc
from google.protobuf import json_format

from tango.cli import reenact_eval_cmd
from tango.cli.client import call, channel
from tango.cli.cue_file import read_cue_file
from tango.cli.operations import download, metadata_of, orchestrator, result_of, upload, watch
from tango.orchestrator.v1 import orchestrator_service_pb2 as pb
from tango.runtime.errors import PermissionDenied, UriNotAllowed
from tango.type.v1 import types_pb2

MODES = {"dp": pb.RETRIEVAL_MODE_DP, "beam": pb.RETRIEVAL_MODE_BEAM, "onset": pb.RETRIEVAL_MODE_ONSET,
         "random": pb.RETRIEVAL_MODE_RANDOM}
LIP_SYNC = {"auto": types_pb2.LIP_SYNC_UNSPECIFIED, "mouths": types_pb2.LIP_SYNC_MOUTHS,
            "wav2lip": types_pb2.LIP_SYNC_WAV2LIP, "off": types_pb2.LIP_SYNC_OFF}
LIP_SYNC_SOURCES = {"default": types_pb2.LIP_SYNC_SOURCE_UNSPECIFIED, "model": types_pb2.LIP_SYNC_SOURCE_MODEL,
                    "phones": types_pb2.LIP_SYNC_SOURCE_PHONES, "both": types_pb2.LIP_SYNC_SOURCE_BOTH}


def register(subparsers) -> None:
    reenact = subparsers.add_parser("reenact", help="make a video of the speaker gesturing to new speech")
    reenact.add_argument("--reference", nargs="+", help="reference video(s) of the speaker")
    reenact.add_argument("--speaker", default="", help="an existing speaker (speakers/<id>) instead of --reference")
    reenact.add_argument("--audio", help="the new speech (required)")
    reenact.add_argument("--transcript", default="")
    reenact.add_argument("--cues", default="", help="a JSON cue file: emphasis, gestures pinned to words, rest, avoid "
                                                   "(format: tango.cli.cue_file)")
    reenact.add_argument("-o", "--output", help="output .mp4 (a .json sidecar is written beside it; required)")
    reenact.add_argument("--mode", choices=tuple(MODES), default="dp")
    reenact.add_argument("--transition-frames", type=int, default=0)
    reenact.add_argument("--max-height", type=int, default=0)
    reenact.add_argument("--interpolator", default="",
                         help="Triton model drawing the transitions, e.g. interp_acinterp (default: the mesh's, "
                              "interp_flow; falls back to it where the model is not ready)")
    reenact.add_argument("--lipsync", choices=tuple(LIP_SYNC), default="auto",
                         help="auto (default): the speaker's own mouths where the footage shows a face; "
                              "wav2lip needs the mesh's TANGO_RENDER_LIPSYNC_DIR weights")
    reenact.add_argument("--no-lipsync", dest="lipsync", action="store_const", const="off")
    reenact.add_argument("--lipsync-source", choices=tuple(LIP_SYNC_SOURCES), default="default",
                         help="what drives the mouths: the speaker mouth model, phones, or both")
    reenact.add_argument("--train-minutes", type=float, default=0.0)
    reenact.add_argument("--json", action="store_true")
    reenact.set_defaults(func=run_reenact)
    reenact_eval_cmd.register(reenact.add_subparsers(dest="reenact_action", metavar="eval"))

    speaker = subparsers.add_parser("speaker", help="create or list speakers")
    speaker_actions = speaker.add_subparsers(dest="action", required=True)
    create = speaker_actions.add_parser("create")
    create.add_argument("references", nargs="+")
    create.add_argument("--train-minutes", type=float, default=0.0)
    create.set_defaults(func=run_speaker_create)
    speaker_actions.add_parser("list").set_defaults(func=run_speaker_list)
    tag = speaker_actions.add_parser("tag", help="name a span of the speaker's footage (a gesture for cues), or "
                                                 "mark it never to be shown (--avoid)")
    tag.add_argument("speaker", help="speakers/<id>")
    tag.add_argument("--name", required=True, help="[a-z0-9_-], e.g. count")
    tag.add_argument("--start", type=float, required=True, help="seconds into the reference video")
    tag.add_argument("--end", type=float, required=True)
    tag.add_argument("--reference", type=int, default=0, help="which of the speaker's reference videos (from 0)")
    tag.add_argument("--avoid", action="store_true")
    tag.set_defaults(func=run_speaker_tag)

    jobs = subparsers.add_parser("jobs", help="list, watch or cancel long-running jobs")
    job_actions = jobs.add_subparsers(dest="action", required=True)
    job_actions.add_parser("list").set_defaults(func=run_jobs_list)
    for name, func in (("watch", run_jobs_watch), ("cancel", run_jobs_cancel)):
        sub = job_actions.add_parser(name)
        sub.add_argument("name", help="operations/<id>")
        sub.set_defaults(func=func)


def _uri(path: str) -> str:
    return str(Path(path).resolve()) if "://" not in path else path


def _uploaded(path: str) -> str:
    return upload(Path(path)) if "://" not in path else path


def create_operation(method, make_request):
    """`make_request(to_uri)` -> the request. Local files go by path (the mesh shares this filesystem); where
    the service may not read them (URI_NOT_ALLOWED: outside its allowed roots, or on another machine) they
    are uploaded and the call is made again with the uploaded copies."""
    try:
        return call(method, make_request(_uri), 60)
    except PermissionDenied as error:
        if error.reason != UriNotAllowed.reason:
            raise
        print("the service cannot read the local files by path: uploading them", file=sys.stderr)
        return call(method, make_request(_uploaded), 60)


def run_reenact(args) -> int:
    if not args.reference and not args.speaker:
        print("tango reenact: give --reference VIDEO... or --speaker speakers/<id>", file=sys.stderr)
        return 2
    if not args.audio or not args.output:
        print("tango reenact: give --audio SPEECH and -o OUTPUT.mp4 (or `tango reenact eval VIDEO`)", file=sys.stderr)
        return 2
    cues = read_cue_file(args.cues) if args.cues else None
    operation = create_operation(orchestrator().CreateReenactment, lambda to_uri: pb.CreateReenactmentRequest(
        request_id=uuid.uuid4().hex, speaker=args.speaker, reference_uris=[to_uri(r) for r in args.reference or []],
        audio_uri=to_uri(args.audio), transcript_uri=to_uri(args.transcript) if args.transcript else "",
        options=pb.ReenactmentOptions(mode=MODES[args.mode], transition_frames=args.transition_frames,
                                      max_height=args.max_height, lip_sync=LIP_SYNC[args.lipsync],
                                      lip_sync_source=LIP_SYNC_SOURCES[args.lipsync_source],
                                      interpolator=args.interpolator),
        speaker_options=pb.SpeakerOptions(train_minutes=args.train_minutes), cues=cues,
    ))
    print(f"operation {operation.name}", file=sys.stderr)
    done = watch(operation.name, "reenact")
    result = result_of(done, pb.Reenactment)
    output = Path(args.output)
    download(result.video_uri, output)
    download(result.sidecar_uri, output.with_suffix(".json"))
    if result.captions_uri:
        download(result.captions_uri, output.with_suffix(".vtt"))
    summary = {"output": str(output), "sidecar": str(output.with_suffix(".json")),
               "captions": str(output.with_suffix(".vtt")) if result.captions_uri else None, "speaker": result.speaker,
               "duration_s": round(result.duration_s, 3), "steps": result.steps, "jumps": result.jumps,
               "similarity": round(result.similarity, 4), "operation": operation.name,
               "cues": [json_format.MessageToDict(c, preserving_proto_field_name=True) for c in result.cues],
               "timings": {t.stage: t.seconds for t in metadata_of(done).timings}}
    print(json.dumps(summary) if args.json else json.dumps(summary, indent=2))
    return 0


def run_speaker_create(args) -> int:
    operation = create_operation(orchestrator().CreateSpeaker, lambda to_uri: pb.CreateSpeakerRequest(
        request_id=uuid.uuid4().hex, reference_uris=[to_uri(r) for r in args.references],
        options=pb.SpeakerOptions(train_minutes=args.train_minutes)))
    speaker = result_of(watch(operation.name, "speaker"), pb.Speaker)
    print(json_format.MessageToJson(speaker))
    return 0


def run_speaker_list(args) -> int:
    for speaker in call(orchestrator().ListSpeakers, pb.ListSpeakersRequest(page_size=1000), 30).speakers:
        print(f"{speaker.name}  nodes={speaker.graph_nodes}  seconds={speaker.reference_seconds:.1f}")
    return 0


def run_speaker_tag(args) -> int:
    tag = pb.GestureTag(name=args.name, avoid=args.avoid,
                        span=types_pb2.ReferenceRange(reference=args.reference, start_s=args.start, end_s=args.end))
    print(json_format.MessageToJson(call(orchestrator().TagGesture, pb.TagGestureRequest(speaker=args.speaker, tag=tag),
                                         30)))
    return 0


def _operations() -> operations_pb2_grpc.OperationsStub:
    return operations_pb2_grpc.OperationsStub(channel("orchestrator"))


def run_jobs_list(args) -> int:
    reply = call(_operations().ListOperations, operations_pb2.ListOperationsRequest(page_size=100), 30)
    for operation in reply.operations:
        metadata = metadata_of(operation)
        state = pb.JobState.Name(metadata.state).removeprefix("JOB_STATE_")
        print(f"{operation.name}  {metadata.kind:<11} {state:<9} {metadata.stage:<16} {metadata.progress:5.0%}")
    return 0


def run_jobs_watch(args) -> int:
    operation = watch(args.name, "job")
    print(json_format.MessageToJson(metadata_of(operation)))
    return 0


def run_jobs_cancel(args) -> int:
    call(_operations().CancelOperation, operations_pb2.CancelOperationRequest(name=args.name), 30)
    print(f"cancellation requested for {args.name}")
    return 0

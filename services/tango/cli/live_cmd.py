"""`tango live` (play an audio file as a live source through StreamReenactment) and `tango live bench`."""
from __future__ import annotations

import argparse
import json
import sys
import threading
import uuid
from pathlib import Path

import numpy as np

from tango.cli.live_client import LiveRun, play, summary
from tango.cli.operations import orchestrator, result_of, watch
from tango.cli.reenact_cmd import create_operation
from tango.media.audio import SPEECH_SAMPLE_RATE, load_audio
from tango.orchestrator.v1 import orchestrator_service_pb2 as pb
from tango.type.v1 import types_pb2


def register(subparsers) -> None:
    live = subparsers.add_parser("live", help="stream speech in, gesture video out (live mode); `live bench`")
    live.add_argument("action", nargs="?", choices=("play", "bench"), default="play",
                      help="play (default): stream --audio as a live source; bench: latency figures")
    live.add_argument("--speaker", default="", help="an existing speaker (speakers/<id>)")
    live.add_argument("--reference", nargs="+", help="reference video(s): the speaker is created or reused")
    live.add_argument("--audio", nargs="+", required=True, help="speech file(s); bench loops them")
    live.add_argument("--realtime", action=argparse.BooleanOptionalAction, default=True,
                      help="send audio at real-time pace (default; --no-realtime sends it as fast as it is taken)")
    live.add_argument("-o", "--output", default="", help="write the stream as one fragmented MP4")
    live.add_argument("--rtmp", default="", help="rtmp:// ingest URL the render stage pushes the stream to")
    live.add_argument("--srt", default="", help="srt://host:port[?options] listener the render stage pushes the "
                      "stream to (MPEG-TS)")
    live.add_argument("--hls", default="", help="directory the render stage writes an HLS playlist to")
    live.add_argument("--ll-hls", action="store_true", help="with --hls: low-latency HLS (each segment also "
                      "published as a partial segment the moment it exists)")
    live.add_argument("--lookahead", type=float, default=0.0, help="seconds of look-ahead (default: the mesh's)")
    live.add_argument("--height", type=int, default=0,
                      help="output height (default: the render stage's resolution ladder chooses)")
    live.add_argument("--segment", type=float, default=0.0, help="segment length in seconds")
    live.add_argument("--no-lipsync", dest="lipsync", action="store_false",
                      help="leave the reference's mouths (default: the speaker's own mouths speak the stream)")
    live.add_argument("--chunk-ms", type=float, default=100.0, help="audio chunk length (20-500 ms)")
    live.add_argument("--seconds", type=float, default=0.0, help="bench: stream length (the audio looped)")
    live.add_argument("--streams", type=int, default=1, help="bench: concurrent streams")
    live.add_argument("--json", action="store_true")
    live.set_defaults(func=run_live)


def run_live(args) -> int:
    if not args.speaker and not args.reference:
        print("tango live: give --speaker speakers/<id> or --reference VIDEO...", file=sys.stderr)
        return 2
    speaker = args.speaker or speaker_of(args.reference)
    pcm = speech_pcm([Path(a) for a in args.audio], args.seconds if args.action == "bench" else 0.0)
    header = pb.StreamReenactmentHeader(
        speaker=speaker, audio_format=types_pb2.AudioFormat(sample_rate_hz=SPEECH_SAMPLE_RATE, channels=1),
        options=pb.LiveOptions(lookahead_s=args.lookahead, height=args.height, segment_s=args.segment,
                               lip_sync=types_pb2.LIP_SYNC_UNSPECIFIED if args.lipsync else types_pb2.LIP_SYNC_OFF),
        outputs=types_pb2.LiveOutputs(rtmp_url=args.rtmp, srt_url=args.srt, hls_low_latency=args.ll_hls,
                                      hls_dir=str(Path(args.hls).resolve()) if args.hls else ""))
    if args.action == "bench":
        runs = concurrent_runs(header, pcm, args.streams, args.chunk_ms / 1000)
        figures = summary(runs)
        print(json.dumps(figures) if args.json else json.dumps(figures, indent=2))
        return 0
    run = play(orchestrator(), header, pcm, chunk_s=args.chunk_ms / 1000, realtime=args.realtime,
               on_segment=None if args.json else print_segment)
    if args.output:
        run.write(args.output)
    figures = {**summary([run]), "speaker": speaker,
               "output": args.output or None}
    print(json.dumps(figures) if args.json else json.dumps(figures, indent=2))
    return 0


def speaker_of(references: list[str]) -> str:
    """The speaker of these reference videos (created, or found by content hash)."""
    operation = create_operation(orchestrator().CreateSpeaker, lambda to_uri: pb.CreateSpeakerRequest(
        request_id=uuid.uuid4().hex, reference_uris=[to_uri(r) for r in references]))
    return result_of(watch(operation.name, "speaker"), pb.Speaker).name


def speech_pcm(paths: list[Path], seconds: float) -> np.ndarray:
    """(S,) int16 mono 16 kHz: the files one after another, looped to `seconds` when given."""
    speech = np.concatenate([load_audio(p, SPEECH_SAMPLE_RATE) for p in paths])
    if seconds > 0:
        speech = np.resize(speech, int(seconds * SPEECH_SAMPLE_RATE))
    return (np.clip(speech, -1.0, 1.0) * 32767).astype(np.int16)


def concurrent_runs(header: pb.StreamReenactmentHeader, pcm: np.ndarray, streams: int, chunk_s: float) -> list[LiveRun]:
    """`streams` real-time streams of the same audio at once, each on its own thread; raises the first failure."""
    runs: list[LiveRun | None] = [None] * streams
    failures: list[BaseException] = []

    def one(k: int) -> None:
        try:
            runs[k] = play(orchestrator(), header, pcm, chunk_s=chunk_s, realtime=True)
        except BaseException as error:  # noqa: BLE001 - reported by the caller after every stream has ended
            failures.append(error)

    threads = [threading.Thread(target=one, args=(k,)) for k in range(streams)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return [r for r in runs if r is not None]


def print_segment(run: LiveRun, segment: types_pb2.MediaSegment) -> None:
    latency = run.latencies()
    newest = f"{latency[-1]:.2f} s" if latency.size else "-"
    print(f"segment {segment.index:4d}  {segment.start_s:7.2f} s  audio to {segment.audio.end_s:7.2f} s  "
          f"latency {newest}  generated {segment.generated_frames}  drawn at {segment.drawn_height} rows",
          file=sys.stderr)

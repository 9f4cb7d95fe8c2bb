"""`tango transcribe AUDIO [--transcript FILE] [--phones] --json`: the words of speech with their times.

Runs pocketsphinx in this process (no mesh). Prints the `SpeechTranscript` document: {"text", "language",
"words": [{"word", "start_s", "end_s"}], "status", "reason", ...}; a status other than "ok" (no speech,
another language, music) still exits 0 with no words and the reason. Without --json, the words one a line.
"""
from __future__ import annotations

import json
import sys
import time


def register(subparsers) -> None:
    parser = subparsers.add_parser("transcribe", help="words with times of speech (forced alignment or recognition)")
    parser.add_argument("audio", help="an audio or video file")
    parser.add_argument("--transcript", default=None,
                        help="the words spoken, to align: plain text (.txt), .srt, .vtt, .TextGrid or .json")
    parser.add_argument("--phones", action="store_true", help="add the phones with their times")
    parser.add_argument("--json", action="store_true", help="print the JSON document")
    parser.set_defaults(func=run)


def run(args) -> int:
    from tango.speech.core import transcribe_file

    started = time.perf_counter()
    result = transcribe_file(args.audio, args.transcript, phones=args.phones)
    elapsed = time.perf_counter() - started
    print(f"transcribe: {result.status} by {result.source}, {len(result.words)} words, {result.duration_s:.1f} s "
          f"of audio in {elapsed:.1f} s", file=sys.stderr)
    if args.json:
        print(json.dumps(result.to_dict()))
        return 0
    if not result.usable:
        print(f"{result.status}: {result.reason}")
    for word in result.words:
        print(f"{word.start_s:8.2f} {word.end_s:8.2f}  {word.text}")
    return 0

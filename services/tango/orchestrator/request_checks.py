"""Checks of a request's options at acceptance, before it takes a job slot: a value no stage would accept
is refused at once (INVALID_ARGUMENT with the field in its reason), not found out inside the job."""
from __future__ import annotations

import math

from tango.media.pcm import PcmFormat
from tango.orchestrator.v1 import orchestrator_service_pb2 as pb
from tango.runtime.errors import InvalidArgument
from tango.speech.phones import transcript_words
from tango.type.v1 import types_pb2

MAX_REFERENCES = 64
MAX_URI_CHARS = 4096
MAX_TRANSITION_FRAMES = 32  # per jump; the renderer sizes windows from 4 to 16 around this typical length
MAX_OUTPUT_HEIGHT = 4320


def check_references(uris) -> None:
    if len(uris) > MAX_REFERENCES:
        raise InvalidArgument(f"{len(uris)} reference videos (at most {MAX_REFERENCES})", reason="TOO_MANY_REFERENCES")
    check_uris(*uris)


def check_uris(*uris: str) -> None:
    for uri in uris:
        if len(uri) > MAX_URI_CHARS:
            raise InvalidArgument(f"a URI of {len(uri)} characters (at most {MAX_URI_CHARS}): {uri[:80]}...",
                                  reason="URI_TOO_LONG")
        if any(ord(c) < 0x20 or c == "\x7f" for c in uri):  # a NUL cannot name a file; others hide in logs
            raise InvalidArgument(f"a URI with control characters: {uri[:80]!r}", reason="BAD_URI")


def check_speaker_options(options: pb.SpeakerOptions) -> None:
    _non_negative("speaker_options.train_minutes", options.train_minutes, "BAD_TRAIN_MINUTES")
    _non_negative("speaker_options.max_seconds", options.max_seconds, "BAD_MAX_SECONDS")


def check_reenactment_options(options: pb.ReenactmentOptions) -> None:
    _known("options.mode", options.mode, pb.RetrievalMode)
    _known("options.lip_sync", options.lip_sync, types_pb2.LipSync)
    _known("options.lip_sync_source", options.lip_sync_source, types_pb2.LipSyncSource)
    if not 0 <= options.transition_frames <= MAX_TRANSITION_FRAMES:
        raise InvalidArgument(f"options.transition_frames must be 0..{MAX_TRANSITION_FRAMES}, not "
                              f"{options.transition_frames}", reason="BAD_TRANSITION_FRAMES")
    if not 0 <= options.max_height <= MAX_OUTPUT_HEIGHT:
        raise InvalidArgument(f"options.max_height must be 0..{MAX_OUTPUT_HEIGHT}, not {options.max_height}",
                              reason="BAD_MAX_HEIGHT")
    _non_negative("options.jump_penalty", options.jump_penalty, "BAD_JUMP_PENALTY")


def check_cues(cues: types_pb2.ScriptCues) -> None:
    """A cue file's shape: anchors on a word or a time >= 0, spans with start < end, gestures named and not
    carrying spans of their own (the orchestrator takes them from the speaker's tags)."""
    anchors = [("emphasis", a) for a in cues.emphasis] + [("gesture", g.at) for g in cues.gesture]
    for kind, anchor in anchors:
        if not (math.isfinite(anchor.time_s) and anchor.time_s >= 0 and anchor.occurrence >= 0):
            raise InvalidArgument(f"{kind} cue at {anchor.time_s} s (occurrence {anchor.occurrence}) is not a place in "
                                  "the speech", reason="BAD_CUE")
        if not anchor.word.strip() and anchor.occurrence:
            raise InvalidArgument(f"{kind} cue gives an occurrence but no word", reason="BAD_CUE")
    for gesture in cues.gesture:
        if not gesture.name or gesture.HasField("span"):
            raise InvalidArgument("a gesture cue names a tagged gesture (and gives no span)", reason="BAD_CUE")
    spans = [("rest", r.start_s, r.end_s) for r in cues.rest] + [("avoid", r.start_s, r.end_s) for r in cues.avoid]
    for kind, start, end in spans:
        if not (math.isfinite(start) and math.isfinite(end) and 0 <= start < end):
            raise InvalidArgument(f"{kind} cue {start}-{end} s is not a span", reason="BAD_CUE")
    if any(r.reference < 0 for r in cues.avoid):
        raise InvalidArgument("an avoid cue names a negative reference", reason="BAD_CUE")


def check_cue_words(cues: types_pb2.ScriptCues, words: list[str]) -> None:
    """Every word a cue is anchored on occurs in the given transcript's words (lower-case tokens) often enough."""
    for anchor in [*cues.emphasis, *(g.at for g in cues.gesture)]:
        wanted = transcript_words(anchor.word)
        if not wanted:
            continue
        found = sum(words[i:i + len(wanted)] == wanted for i in range(len(words)))
        if found < max(anchor.occurrence, 1):
            raise InvalidArgument(f"the word {anchor.word!r} occurs {found} time(s) in the transcript, not "
                                  f"{max(anchor.occurrence, 1)}", reason="CUE_WORD_NOT_FOUND",
                                  metadata={"word": anchor.word})


def check_live_header(header: pb.StreamReenactmentHeader) -> None:
    """A live stream's header: its audio format, options within range, names and outputs of sane length."""
    PcmFormat(header.audio_format.sample_rate_hz, header.audio_format.channels)
    options = header.options
    ranges = {"lookahead_s": (options.lookahead_s, 10.0), "segment_s": (options.segment_s, 10.0),
              "jump_penalty": (options.jump_penalty, 100.0), "transition_frames": (options.transition_frames, 64),
              "height": (options.height, MAX_OUTPUT_HEIGHT)}
    for name, (value, high) in ranges.items():
        if not (math.isfinite(value) and 0 <= value <= high):
            raise InvalidArgument(f"live option {name} = {value} is outside [0, {high}]", reason="BAD_LIVE_OPTION",
                                  metadata={"option": name})
    _known("options.lip_sync", options.lip_sync, types_pb2.LipSync)
    check_uris(header.speaker, header.outputs.rtmp_url, header.outputs.hls_dir, header.outputs.srt_url)


def _non_negative(name: str, value: float, reason: str) -> None:
    if not (math.isfinite(value) and value >= 0):
        raise InvalidArgument(f"{name} must be a finite number >= 0, not {value}", reason=reason)


def _known(name: str, value: int, enum) -> None:
    if value not in enum.values():
        raise InvalidArgument(f"{name} = {value} is not one of {sorted(enum.values())}", reason="UNKNOWN_ENUM_VALUE")

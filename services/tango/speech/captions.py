"""Captions of a transcript: WebVTT cues of its timed words, set as broadcast captioning sets them.

A cue holds at most `MAX_LINES` lines of at most `MAX_LINE_CHARS` characters (the EBU / BBC subtitle
guidelines' 37-42 characters per line, two lines) and lasts at most `MAX_CUE_S`; a pause of `PAUSE_S` or more
between words starts a new cue, and a line breaks at a word boundary. A cue shows from its first word's start
to its last word's end, held for at least `MIN_CUE_S` when the next cue leaves room (cues never overlap).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from tango.aumoclip.transcript import Word
from tango.speech.core import transcribe
from tango.speech.result import SpeechTranscript
from tango.speech.transcript_files import GivenTranscript

MAX_LINE_CHARS = 42
MAX_LINES = 2
MAX_CUE_S = 6.0
PAUSE_S = 0.7
MIN_CUE_S = 1.0


@dataclass(frozen=True)
class Cue:
    start_s: float
    end_s: float
    lines: tuple[str, ...]


def write_captions(path: Path, speech: np.ndarray, transcript: GivenTranscript | None = None) -> dict:
    """Hears `speech` (16 kHz mono; its `transcript` force-aligned where one is given, else recognised) and writes
    its WebVTT captions to `path` when words were heard. Returns what was heard, for the render's sidecar:
    {"captions": file name | None, "cues": n, "transcript": `SpeechTranscript.to_dict()`}. InvalidArgument for a
    transcript that is empty or longer than the speech."""
    heard = transcribe(speech, transcript)
    cues = caption_cues(heard.words)
    if cues:
        path.write_text(webvtt(cues, note=_provenance(heard)), encoding="utf-8")
    return {"captions": path.name if cues else None, "cues": len(cues), "transcript": heard.to_dict()}


def _provenance(heard: SpeechTranscript) -> str:
    if heard.source == "alignment":
        return "Words of the given transcript, timed by forced alignment."
    return (f"Words recognised by machine ({heard.language}, confidence {heard.confidence:.2f}): check them before "
            "they go on air.")


def caption_cues(words: Sequence[Word]) -> list[Cue]:
    """The cues of `words` (sorted by start, non-overlapping, as a `SpeechTranscript` holds them)."""
    groups: list[list[Word]] = []
    for word in words:
        group = groups[-1] if groups else None
        if group is None or word.start_s - group[-1].end_s >= PAUSE_S or word.end_s - group[0].start_s > MAX_CUE_S \
                or len(_lines([*group, word])) > MAX_LINES:
            groups.append([word])
        else:
            group.append(word)
    cues = []
    for k, group in enumerate(groups):
        following = groups[k + 1][0].start_s if k + 1 < len(groups) else float("inf")
        end = min(max(group[-1].end_s, group[0].start_s + MIN_CUE_S), following)
        cues.append(Cue(group[0].start_s, max(end, group[-1].end_s), tuple(_lines(group))))
    return cues


def webvtt(cues: Sequence[Cue], note: str = "") -> str:
    """A WebVTT document of the cues (`note`: a NOTE block after the header, e.g. where the words came from)."""
    blocks = ["WEBVTT"] + ([f"NOTE {note}"] if note else [])
    for number, cue in enumerate(cues, 1):
        text = "\n".join(_escaped(line) for line in cue.lines)
        blocks.append(f"{number}\n{_timestamp(cue.start_s)} --> {_timestamp(cue.end_s)}\n{text}")
    return "\n\n".join(blocks) + "\n"


def _escaped(text: str) -> str:
    """Cue text as WebVTT reads it literally (& and < start escapes and tags; > may close "-->")."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _lines(words: Sequence[Word]) -> list[str]:
    """Words broken into lines of at most MAX_LINE_CHARS at word boundaries (a longer word stands alone)."""
    lines: list[str] = []
    for word in (w.text for w in words):
        if lines and len(lines[-1]) + 1 + len(word) <= MAX_LINE_CHARS:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def _timestamp(seconds: float) -> str:
    millis = int(round(max(seconds, 0.0) * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    return f"{hours:02d}:{minutes:02d}:{millis // 1000:02d}.{millis % 1000:03d}"

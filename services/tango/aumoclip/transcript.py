"""Word timings from transcripts: Praat TextGrid, SRT, WebVTT and JSON [{"word", "start", "end"}].

Every parser returns a list of `Word(text, start_s, end_s)` sorted by start, empty intervals dropped. SRT and
WebVTT cues carry phrases, not words: a cue's words share its span evenly (a cue-level approximation).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from tango.runtime.errors import InvalidArgument

_TIME = re.compile(r"(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{1,3})")
_TAG = re.compile(r"<[^>]*>")


@dataclass(frozen=True)
class Word:
    text: str
    start_s: float
    end_s: float


def _bad(path_or_kind: str, detail: str) -> InvalidArgument:
    return InvalidArgument(f"cannot parse transcript {path_or_kind}: {detail}", reason="BAD_TRANSCRIPT")


def parse_textgrid(text: str, tier: str = "words") -> list[Word]:
    """Long-format Praat TextGrid: the IntervalTier named `tier` (else the first interval tier)."""
    items = re.split(r"\n\s*item\s*\[\d+\]\s*:", text)[1:]
    if not items:
        raise _bad("TextGrid", "no tiers")
    chosen = next((i for i in items if re.search(rf'name\s*=\s*"{re.escape(tier)}"', i)), None)
    chosen = chosen or next((i for i in items if "IntervalTier" in i), None)
    if chosen is None:
        raise _bad("TextGrid", "no interval tier")
    pattern = re.compile(r'xmin\s*=\s*([-\d.eE+]+)\s*xmax\s*=\s*([-\d.eE+]+)\s*text\s*=\s*"((?:[^"]|"")*)"')
    words = [Word(m.group(3).replace('""', '"').strip(), float(m.group(1)), float(m.group(2)))
             for m in pattern.finditer(chosen)]
    return sorted((w for w in words if w.text), key=lambda w: w.start_s)


def _seconds(stamp: str) -> float:
    match = _TIME.fullmatch(stamp.strip())
    if match is None:
        raise _bad("cue", f"bad timestamp {stamp!r}")
    hours, minutes, seconds, fraction = match.groups()
    return int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds) + int(fraction.ljust(3, "0")) / 1000.0


def _cue_words(start: float, end: float, text: str) -> list[Word]:
    tokens = _TAG.sub("", text).split()
    if not tokens or end <= start:
        return []
    step = (end - start) / len(tokens)
    return [Word(token, start + n * step, start + (n + 1) * step) for n, token in enumerate(tokens)]


def parse_cues(text: str) -> list[Word]:
    """SRT or WebVTT: blocks with a `start --> end` line followed by text lines."""
    words: list[Word] = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n").replace("\ufeff", "")):
        lines = block.strip().split("\n")
        timing = next((n for n, line in enumerate(lines) if "-->" in line), None)
        if timing is None:
            continue  # WEBVTT header, NOTE or STYLE blocks, cue numbers alone
        start, end = lines[timing].split("-->")
        words += _cue_words(_seconds(start), _seconds(end.strip().split(" ")[0]), " ".join(lines[timing + 1:]))
    return sorted(words, key=lambda w: w.start_s)


def parse_json_words(text: str) -> list[Word]:
    """JSON list of {"word": str, "start": s, "end": s} (or {"words": [...]})."""
    try:
        data = json.loads(text)
        entries = data["words"] if isinstance(data, dict) else data
        words = [Word(str(e["word"]).strip(), float(e["start"]), float(e["end"])) for e in entries]
    except (ValueError, KeyError, TypeError) as exc:
        raise _bad("JSON", str(exc)) from exc
    return sorted((w for w in words if w.text and w.end_s > w.start_s), key=lambda w: w.start_s)


def load_transcript(path: str | Path) -> list[Word]:
    """Parses a transcript file by its suffix (.TextGrid, .srt, .vtt, .json)."""
    path = Path(path)
    parsers = {".textgrid": parse_textgrid, ".srt": parse_cues, ".vtt": parse_cues, ".json": parse_json_words}
    parser = parsers.get(path.suffix.lower())
    if parser is None:
        raise InvalidArgument(f"unknown transcript format {path.suffix!r}", reason="BAD_TRANSCRIPT")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _bad(str(path), str(exc)) from exc
    return parser(text)

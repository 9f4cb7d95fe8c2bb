"""The result of hearing a stretch of speech: a `SpeechTranscript` (words with times), and its JSON form.

JSON (the `tango transcribe --json` document, and what a stage would store beside the audio's artifact):
    {"text": "the first thing", "language": "en-US",
     "words": [{"word": "the", "start_s": 1.42, "end_s": 1.52}, ...],
     "status": "ok", "reason": "", "source": "recognition", "confidence": 0.62, "acoustic_fit": -3.3,
     "duration_s": 64.1, "dropped_words": [], "phones": [{"phone": "DH", "start_s": .., "end_s": ..}, ...]}
`phones` is present only when phones were asked for. Times are seconds from the start of the audio.

A transcript that is not `ok` carries no words and no text: the recogniser's guesses on audio it cannot
handle (another language, music, noise) are never handed on as if they were words; `reason` says why, and
the caller goes on with audio-only features.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from tango.aumoclip.transcript import Word
from tango.speech.phones import PhoneSegment
from tango.runtime.errors import InvalidArgument

LANGUAGE = "en-US"  # the only language of the bundled pocketsphinx model
UNDETERMINED = "und"  # BCP 47: the language could not be determined (nothing usable was heard)
STATUSES = ("ok", "no_speech", "low_confidence")
SOURCES = ("recognition", "alignment")


@dataclass(frozen=True)
class SpeechTranscript:
    text: str  # the words joined by single spaces ("" unless status is "ok")
    language: str  # LANGUAGE when status is "ok", UNDETERMINED otherwise
    words: tuple[Word, ...]  # sorted by start, non-overlapping; () unless status is "ok"
    status: str  # one of STATUSES
    reason: str = ""  # why status is not "ok", or what fell back (an alignment that became a recognition)
    source: str = "recognition"  # one of SOURCES: where the word times came from
    # recognition: the time-weighted mean word posterior in [0, 1]; alignment: the fraction of the transcript's
    # words that were aligned (the others are missing from the dictionary)
    confidence: float = 0.0
    acoustic_fit: float | None = None  # recognition: mean acoustic log-likelihood gap per 10 ms frame, nats (<= 0)
    duration_s: float = 0.0  # of the audio heard
    dropped_words: tuple[str, ...] = ()  # transcript words missing from the dictionary (alignment only)
    phones: tuple[PhoneSegment, ...] | None = None  # None where phones were not asked for

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise InvalidArgument(f"unknown transcript status {self.status!r}")
        if self.source not in SOURCES:
            raise InvalidArgument(f"unknown transcript source {self.source!r}")
        if self.status != "ok" and self.words:
            raise InvalidArgument(f"a {self.status} transcript carries no words")

    @property
    def usable(self) -> bool:
        """True where the words may drive features; otherwise fall back to audio-only."""
        return self.status == "ok"

    def to_dict(self) -> dict:
        document = {
            "text": self.text, "language": self.language,
            "words": [{"word": w.text, "start_s": round(w.start_s, 3), "end_s": round(w.end_s, 3)} for w in self.words],
            "status": self.status, "reason": self.reason, "source": self.source,
            "confidence": round(self.confidence, 4),
            "acoustic_fit": None if self.acoustic_fit is None else round(self.acoustic_fit, 3),
            "duration_s": round(self.duration_s, 3), "dropped_words": list(self.dropped_words),
        }
        if self.phones is not None:  # unrounded: frames take their visemes from these times, ties included
            document["phones"] = [{"phone": p.phone, "start_s": p.start_s, "end_s": p.end_s} for p in self.phones]
        return document

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, document: dict) -> "SpeechTranscript":
        try:
            phones = document.get("phones")
            return cls(
                text=str(document["text"]), language=str(document["language"]),
                words=tuple(Word(str(w["word"]), float(w["start_s"]), float(w["end_s"])) for w in document["words"]),
                status=str(document.get("status", "ok")), reason=str(document.get("reason", "")),
                source=str(document.get("source", "recognition")),
                confidence=float(document.get("confidence", 0.0)),
                acoustic_fit=None if document.get("acoustic_fit") is None else float(document["acoustic_fit"]),
                duration_s=float(document.get("duration_s", 0.0)),
                dropped_words=tuple(str(w) for w in document.get("dropped_words", ())),
                phones=None if phones is None else tuple(
                    PhoneSegment(str(p["phone"]), float(p["start_s"]), float(p["end_s"])) for p in phones),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InvalidArgument(f"not a speech transcript document: {exc!r}", reason="BAD_TRANSCRIPT") from exc

    @classmethod
    def from_json(cls, text: str) -> "SpeechTranscript":
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise InvalidArgument(f"not a speech transcript document: {exc}", reason="BAD_TRANSCRIPT") from exc
        if not isinstance(document, dict):
            raise InvalidArgument("not a speech transcript document: not an object", reason="BAD_TRANSCRIPT")
        return cls.from_dict(document)


def heard(words: tuple[Word, ...], *, source: str, confidence: float, acoustic_fit: float | None, duration_s: float,
          reason: str = "", dropped_words: tuple[str, ...] = (),
          phones: tuple[PhoneSegment, ...] | None = None) -> SpeechTranscript:
    """An "ok" transcript of `words`."""
    return SpeechTranscript(" ".join(w.text for w in words), LANGUAGE, words, "ok", reason, source, confidence,
                            acoustic_fit, duration_s, dropped_words, phones)


def not_heard(status: str, reason: str, *, source: str = "recognition", confidence: float = 0.0,
              acoustic_fit: float | None = None, duration_s: float = 0.0,
              phones: tuple[PhoneSegment, ...] | None = None) -> SpeechTranscript:
    """A transcript without words ("no_speech" or "low_confidence") that says why."""
    return SpeechTranscript("", UNDETERMINED, (), status, reason, source, confidence, acoustic_fit, duration_s,
                            phones=phones)

"""A transcript given with the audio: plain text (.txt) or a timed one (.TextGrid, .srt, .vtt, .json).

Timed formats are parsed by `tango.aumoclip.transcript.load_transcript`; only their words are aligned (a
cue's or interval's own times are not trusted: SRT/WebVTT cues carry phrases, not words), but their end says
whether the transcript can belong to the audio at all. A given transcript that cannot be used is the
caller's error (InvalidArgument with a reason), unlike audio the recogniser cannot handle.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tango.aumoclip.transcript import Word, load_transcript
from tango.speech.phones import transcript_words
from tango.runtime.errors import InvalidArgument
from tango.speech.quality import SpeechSettings

PLAIN_SUFFIXES = (".txt", ".text")


@dataclass(frozen=True)
class GivenTranscript:
    text: str
    timed_words: tuple[Word, ...] | None = None  # the file's own times, where its format has them

    @property
    def words(self) -> list[str]:
        """The lower-case word tokens that are aligned."""
        return transcript_words(self.text)

    @property
    def end_s(self) -> float | None:
        return max((w.end_s for w in self.timed_words), default=None) if self.timed_words else None


def read_transcript(path: str | Path) -> GivenTranscript:
    """A transcript file by its suffix: .txt/.text as plain UTF-8 text, the rest as `load_transcript` reads them."""
    path = Path(path)
    if path.suffix.lower() not in PLAIN_SUFFIXES:
        words = tuple(load_transcript(path))
        return GivenTranscript(" ".join(w.text for w in words), words)
    try:
        return GivenTranscript(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidArgument(f"cannot read transcript {path.name}: {exc}", reason="BAD_TRANSCRIPT") from exc


def check_fits(given: GivenTranscript, duration_s: float, settings: SpeechSettings) -> list[str]:
    """The transcript's word tokens; InvalidArgument when it is empty or longer than the audio can hold."""
    words = given.words
    if not words:
        raise InvalidArgument("the transcript holds no words", reason="EMPTY_TRANSCRIPT")
    end_s = given.end_s
    if end_s is not None and end_s > duration_s + settings.max_overrun_s:
        raise InvalidArgument(f"the transcript runs to {end_s:.1f} s, past the end of the audio ({duration_s:.1f} s)",
                              reason="TRANSCRIPT_TOO_LONG")
    if len(words) > settings.max_words_per_s * max(duration_s, 1.0 / settings.max_words_per_s):
        raise InvalidArgument(
            f"the transcript has {len(words)} words, more than {duration_s:.1f} s of audio can hold "
            f"(at most {settings.max_words_per_s:g} words per second)", reason="TRANSCRIPT_TOO_LONG")
    return words

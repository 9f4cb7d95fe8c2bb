"""Word (and phone) times of a known transcript: forced alignment, with recognition as the fallback.

The alignment itself is the lip-sync room's `align_transcript` (pocketsphinx `Decoder.set_align_text`, then
`set_alignment` for the phones inside the words; out-of-dictionary words dropped when they are at most 20 %).
It fails where the speech does not fit the words (another recording, another language: a wrong transcript
of the BEAT2 clip, or an English text on the German anchor, find no path), and then this falls back to
recognition, whose own verdict decides whether any words come out. An alignment whose words cover too little
of the voice-activity regions (a short text on long speech, the rest absorbed as silence) is not trusted
either.

On BEAT2 (64 s, the TextGrid's 199 words): all words aligned, median word-start error 10 ms.
"""
from __future__ import annotations

import dataclasses
import logging

import numpy as np

from tango.media.audio import SPEECH_SAMPLE_RATE
from tango.speech.phones import align_transcript, checked_speech, pcm16, recognize_phones
from tango.speech.quality import SpeechSettings
from tango.speech.recognize import recognize_checked
from tango.speech.result import SpeechTranscript, heard, not_heard
from tango.speech.transcript_files import GivenTranscript, check_fits
from tango.speech.vad import speech_regions

log = logging.getLogger(__name__)


def align_words(speech: np.ndarray, given: GivenTranscript | str, settings: SpeechSettings = SpeechSettings(),
                phones: bool = False) -> SpeechTranscript:
    """A transcript of (S,) float32 mono 16 kHz speech with the words of `given` (a GivenTranscript or text).

    InvalidArgument for a transcript that is empty or longer than the audio; for the audio itself it never
    raises (non-finite samples excepted): silence is "no_speech", and a transcript that does not fit the
    speech is replaced by a recognition (its reason says so)."""
    given = GivenTranscript(given) if isinstance(given, str) else given
    duration_s = float(np.asarray(speech).size / SPEECH_SAMPLE_RATE)
    words = check_fits(given, duration_s, settings)
    samples = checked_speech(speech)
    if samples is None:
        return not_heard("no_speech", "the audio is silent or shorter than 0.3 s", source="alignment",
                         duration_s=duration_s, phones=() if phones else None)
    aligned = align_transcript(samples, " ".join(words))
    reason = aligned.reason
    if aligned.method in ("aligned", "aligned_partial"):
        coverage = _coverage(samples, aligned.words)
        if coverage >= settings.min_coverage:
            return heard(aligned.words, source="alignment", confidence=min(1.0, len(aligned.words) / len(words)),
                         acoustic_fit=None, duration_s=duration_s, dropped_words=aligned.dropped_words,
                         phones=aligned.segments if phones else None)
        reason = f"the aligned words cover {coverage:.0%} of the speech"
    log.warning("transcript not aligned, recognising instead: %s", reason)
    result = recognize_checked(samples, settings, reason=f"the transcript was not aligned ({reason}); recognised")
    if not phones:
        return result
    # where `align_transcript` fell back itself, it has already recognised the phones
    found = aligned.segments if aligned.method == "recognized" else tuple(recognize_phones(samples))
    return dataclasses.replace(result, phones=found)


def _coverage(samples: np.ndarray, words) -> float:
    """Fraction of the voice-activity regions' time spent inside the words (1.0 where there are no regions)."""
    spans = speech_regions(pcm16(samples))
    speech_s = sum(end - start for start, end in spans)
    if speech_s <= 0:
        return 1.0
    covered = sum(max(0.0, min(w.end_s, end) - max(w.start_s, start)) for w in words for start, end in spans)
    return covered / speech_s

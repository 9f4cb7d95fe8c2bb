"""The room's entry: a transcript of speech, aligned where one is given, recognised otherwise."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from tango.media.audio import SPEECH_SAMPLE_RATE, load_audio
from tango.speech.align import align_words
from tango.speech.quality import SpeechSettings
from tango.speech.recognize import recognize_words
from tango.speech.result import SpeechTranscript
from tango.speech.transcript_files import GivenTranscript, read_transcript


def transcribe(speech: np.ndarray, given: GivenTranscript | str | None = None,
               settings: SpeechSettings = SpeechSettings(), phones: bool = False) -> SpeechTranscript:
    """(S,) float32 mono speech at 16 kHz -> its words with times (and phones with `phones`).

    Raises InvalidArgument only for a given transcript that is empty or longer than the audio (and for
    non-finite samples); audio without usable English speech gives a wordless transcript with a reason."""
    if given is None:
        return recognize_words(speech, settings, phones)
    return align_words(speech, given, settings, phones)


def transcribe_file(audio: str | Path, transcript: str | Path | None = None,
                    settings: SpeechSettings = SpeechSettings(), phones: bool = False) -> SpeechTranscript:
    """`transcribe` of any audio or video file PyAV reads, with an optional transcript file."""
    given = read_transcript(transcript) if transcript is not None else None
    return transcribe(load_audio(audio, SPEECH_SAMPLE_RATE), given, settings, phones)

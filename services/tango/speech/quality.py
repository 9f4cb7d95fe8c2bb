"""Can the words be trusted? Two measures of a recognition, and the verdict drawn from them.

The bundled model knows US English only. On another language, music or noise it still outputs English words,
so the words alone cannot say whether they are right. Two measures of each recognised word w (fillers and
silences excluded), each weighted by the word's duration n_w in 10 ms frames:

    confidence   = sum_w n_w * P(w | audio) / sum_w n_w      (P: the lattice posterior, pocketsphinx `Segment.prob`)
    acoustic_fit = sum_w ln A(w) / sum_w n_w                 (A: the word's acoustic score, `Segment.ascore`)

The acoustic score is relative to the best-scoring senone of each frame, so `acoustic_fit` is the mean
log-likelihood gap per frame between the words' own sounds and the best sounds the model hears there: near 0
where the English words fit the audio, more negative where the decoder had to force English words onto other
sounds. A recognition is `low_confidence` when either measure falls below its threshold, or when the words
cover too little of the speech the voice-activity detector found.

Measured on the shared media (pocketsphinx 5.1.1 defaults), confidence / acoustic_fit / coverage:
English speech, 11 recordings: 0.43-0.79 / -2.2 to -3.9 nats / 0.71-0.90 (the lowest confidence and fit:
tango_female_test_V1, a podium with microphones); German news (mimictalk_German_20s): 0.34 / -4.4 / 0.89;
synthetic music (harmonic notes with percussive noise): 0.19-0.47 / -4.7 to -5.2 / 0.38-0.56. White noise,
pure tones and silence give no words at all. The thresholds below sit between; with one German and three
synthetic music clips they are a first calibration, not a language identifier.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

FRAME_S = 0.01  # pocketsphinx's default frame rate is 100 per second


@dataclass(frozen=True)
class SpeechSettings:
    """What the speech room accepts; a hosting service fills these from its own config."""

    min_confidence: float = 0.36  # below: low_confidence (English >= 0.43, German 0.34 on the shared media)
    min_acoustic_fit: float = -4.1  # nats per frame; below: low_confidence (English >= -3.9, German -4.4)
    min_coverage: float = 0.5  # of VAD speech time covered by real words; below: low_confidence
    min_words: int = 2  # fewer real words than this: no_speech
    max_words_per_s: float = 8.0  # a transcript with more words per second of audio cannot be spoken in it
    max_overrun_s: float = 1.0  # a timed transcript may end at most this far after the audio


@dataclass(frozen=True)
class WordScore:
    """One recognised word as the decoder scored it."""

    word: str
    frames: int  # duration in 10 ms frames
    posterior: float  # in [0, 1]
    log_acoustic: float  # ln of the acoustic score; -inf where it underflowed to 0


@dataclass(frozen=True)
class Quality:
    confidence: float
    acoustic_fit: float
    coverage: float  # word time / VAD speech time
    words: int


def log_score(value: float) -> float:
    """ln of a pocketsphinx score that the bindings hand out as a probability (may underflow to 0)."""
    return math.log(value) if value > 0.0 else -math.inf


def measure(scores: list[WordScore], speech_s: float) -> Quality:
    """The duration-weighted measures of the real words of a recognition (see the module docstring)."""
    frames = sum(s.frames for s in scores)
    if frames == 0:
        return Quality(0.0, 0.0, 0.0, 0)
    # An underflowed acoustic score (a very long, very poor word) counts as the worst finite one seen per frame.
    worst = min((s.log_acoustic / s.frames for s in scores if math.isfinite(s.log_acoustic)), default=-50.0)
    acoustic = sum(s.log_acoustic if math.isfinite(s.log_acoustic) else worst * s.frames for s in scores)
    confidence = sum(min(max(s.posterior, 0.0), 1.0) * s.frames for s in scores) / frames
    coverage = frames * FRAME_S / speech_s if speech_s > 0 else 0.0
    return Quality(confidence, acoustic / frames, min(coverage, 1.0), len(scores))


def verdict(quality: Quality, settings: SpeechSettings) -> tuple[str, str]:
    """(status, reason): "ok" with "", or why the words must not be used."""
    if quality.words < settings.min_words:
        return "no_speech", f"{quality.words} word(s) recognised in the speech regions"
    problems = []
    if quality.confidence < settings.min_confidence:
        problems.append(f"confidence {quality.confidence:.2f} < {settings.min_confidence:.2f}")
    if quality.acoustic_fit < settings.min_acoustic_fit:
        problems.append(f"acoustic fit {quality.acoustic_fit:.2f} < {settings.min_acoustic_fit:.2f} nats/frame")
    if quality.coverage < settings.min_coverage:
        problems.append(f"words cover {quality.coverage:.0%} of the speech < {settings.min_coverage:.0%}")
    if problems:
        return "low_confidence", ("the audio does not sound like US-English speech the model can transcribe "
                                  f"(another language, music or noise?): {'; '.join(problems)}")
    return "ok", ""

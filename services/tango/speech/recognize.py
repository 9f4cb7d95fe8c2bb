"""Words with times from speech alone: pocketsphinx's US-English model (acoustic model, CMUdict, trigram LM).

1. Voice-activity regions: pocketsphinx's `Endpointer` (`vad.py`), widened by 0.1 s and merged.
2. Each region is one utterance of a word decoder with the bundled language model (pocketsphinx defaults:
   forward tree search, flat-lexicon rescoring, lattice best path; on BEAT2 these beat the faster settings:
   WER 0.39 against 0.46 without the flat pass, 0.59 with narrower beams).
3. The words' lattice posteriors and acoustic scores give the verdict (`quality.py`): words only where the
   audio sounds like English speech; otherwise a `low_confidence` transcript that says why.

Word times are the decoder's 10 ms frames ("to(2)"-style pronunciation variants keep their spelling only).
Decoders are built per call (~0.25 s), so calls are independent and thread-safe.
"""
from __future__ import annotations

import dataclasses
import re

import numpy as np
from pocketsphinx import Decoder

from tango.aumoclip.transcript import Word
from tango.media.audio import SPEECH_SAMPLE_RATE
from tango.speech.phones import align_transcript, checked_speech, decode_utterance, pcm16, recognize_phones
from tango.speech.quality import FRAME_S, SpeechSettings, WordScore, log_score, measure, verdict
from tango.speech.result import SpeechTranscript, heard, not_heard
from tango.speech.vad import speech_regions

_VARIANT = re.compile(r"\(\d+\)$")


def is_word(token: str) -> bool:
    """False for silences and fillers: <s>, </s>, <sil>, [NOISE], [SPEECH], +NSN+ ..."""
    return bool(token) and token[0] not in "<[+"


def word_decoder() -> Decoder:
    return Decoder(samprate=SPEECH_SAMPLE_RATE, loglevel="FATAL")


def _decode_region(decoder: Decoder, pcm: bytes, offset_s: float) -> tuple[list[Word], list[WordScore]]:
    """The real words of one utterance, times in seconds after `offset_s`, and their scores."""
    decode_utterance(decoder, pcm)
    if decoder.hyp() is None:
        return [], []
    words: list[Word] = []
    scores: list[WordScore] = []
    for seg in decoder.seg():
        if not is_word(seg.word):
            continue
        frames = seg.end_frame - seg.start_frame + 1  # end_frame is inclusive
        words.append(Word(_VARIANT.sub("", seg.word), offset_s + seg.start_frame * FRAME_S,
                          offset_s + (seg.end_frame + 1) * FRAME_S))
        scores.append(WordScore(seg.word, frames, float(seg.prob), log_score(seg.ascore)))
    return words, scores


def recognize_words(speech: np.ndarray, settings: SpeechSettings = SpeechSettings(),
                    phones: bool = False) -> SpeechTranscript:
    """A transcript of (S,) float32 mono 16 kHz speech in [-1, 1]; never raises for what the audio holds
    (non-finite samples excepted: InvalidArgument). With `phones`, the words are force-aligned again for their
    phones (the lip-sync room's `align_transcript`, ~50 ms per second of audio); phone recognition gives the
    phones of a transcript without words."""
    samples = checked_speech(speech)
    duration_s = float(np.asarray(speech).size / SPEECH_SAMPLE_RATE)
    if samples is None:
        return not_heard("no_speech", "the audio is silent or shorter than 0.3 s", duration_s=duration_s,
                         phones=() if phones else None)
    result = recognize_checked(samples, settings)
    if not phones:
        return result
    if result.usable:
        return dataclasses.replace(result, phones=align_transcript(samples, result.text).segments)
    return dataclasses.replace(result, phones=tuple(recognize_phones(samples)))


def recognize_checked(samples: np.ndarray, settings: SpeechSettings, reason: str = "") -> SpeechTranscript:
    """`recognize_words` of samples that passed the lip-sync room's `checked_speech`, without phones; `reason`
    (why recognition was used at all) is put before the verdict's own."""
    duration_s = samples.size / SPEECH_SAMPLE_RATE
    pcm = pcm16(samples)
    spans = speech_regions(pcm)
    decoder = word_decoder()
    words: list[Word] = []
    scores: list[WordScore] = []
    for start_s, end_s in spans:
        first, last = int(round(start_s * SPEECH_SAMPLE_RATE)), int(round(end_s * SPEECH_SAMPLE_RATE))
        region_words, region_scores = _decode_region(decoder, pcm[2 * first: 2 * last], start_s)
        words += region_words
        scores += region_scores
    quality = measure(scores, sum(end - start for start, end in spans))
    status, verdict_reason = verdict(quality, settings)
    reason = "; ".join(r for r in (reason, verdict_reason) if r)
    if status != "ok":
        return not_heard(status, reason, confidence=quality.confidence, acoustic_fit=quality.acoustic_fit,
                         duration_s=duration_s)
    return heard(tuple(words), source="recognition", confidence=quality.confidence,
                 acoustic_fit=quality.acoustic_fit, duration_s=duration_s, reason=reason)

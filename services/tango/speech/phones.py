"""Timed phones of speech with pocketsphinx's US-English model (bundled in the `pocketsphinx` wheel).

Lip sync picks, for each output frame, a reference mouth that says the same sound; it needs phones with
times for the target speech and for the reference video's own audio. Two ways to get them:

- `recognize_phones(speech)`: no transcript. `tango.speech.vad.speech_regions` finds speech regions (padded
  by `SEGMENT_PAD_S`, merged where they touch; pocketsphinx's own `Segmenter` drops a region running to the
  end of a whole number of 30 ms frames, so 15 s of continuous speech gave none); each region is decoded by a phone-loop ("allphone") decoder with
  the bundled phone trigram `en-us-phone.lm.bin`. Against the forced-aligned BEAT2 TextGrid, 43 % of speech
  frames get the right phone and 58 % the right viseme (allphone decoding is noisy); forced alignment gets
  79 % / 81 %.
- `align_transcript(speech, transcript)` / `align_phones`: forced alignment of a known transcript. Pass 1
  aligns words (`Decoder.set_align_text`), pass 2 (`set_alignment`) the phones inside them. The decoder runs
  with `bestpath=False`: with the default lattice best path, pass 2 fails ("Alignment failed in frame
  N" after "phone has impossible duration" warnings). Words missing from CMUdict are dropped when few (`MAX_DROPPED_FRACTION`); with more, or when
  the audio does not fit the words (alignment fails), the whole utterance falls back to `recognize_phones`.
  `PhoneAlignment.method` says which happened, and a warning is logged.

Output: `PhoneSegment`s tiling [first start, last end] without gaps, times in seconds from the start of
`speech`; non-speech is "SIL" (fillers such as +NSN+ / +SPN+ included). Silent, too short, or no-speech
input gives []. The decoders are built per call (~0.1-0.2 s), so calls are independent and thread-safe.
Speech is float32 mono at 16 kHz in [-1, 1]; it is scaled to PCM16 with clipping before decoding (float
bytes decode as silence).
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
from pocketsphinx import Alignment, Decoder, get_model_path

from tango.aumoclip.transcript import Word
from tango.media.audio import SILENCE_DBFS, SPEECH_SAMPLE_RATE, window_rms_dbfs
from tango.runtime.errors import InvalidArgument
from tango.speech.vad import SEGMENT_PAD_S, speech_regions

log = logging.getLogger(__name__)

SIL = "SIL"
MIN_SPEECH_S = 0.3  # shorter input gives []
MAX_DROPPED_FRACTION = 0.2  # more out-of-dictionary words than this: fall back to recognition
PHONE_DECODER = MappingProxyType({"lw": 2.0, "beam": 1e-20, "pbeam": 1e-20})  # best of lw 1/2/4/6 on BEAT2
ARPABET = frozenset(
    "AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH UH UW V W Y Z ZH".split()
)
_WORD = re.compile(r"[a-z0-9]+(?:['\-][a-z0-9]+)*")


@dataclass(frozen=True)
class PhoneSegment:
    phone: str  # ARPAbet without stress ("AA", "B", ...) or "SIL"
    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class PhoneAlignment:
    """The result of `align_transcript`: phones, and how they were obtained."""

    segments: tuple[PhoneSegment, ...]
    method: str  # "aligned" | "aligned_partial" (OOV words dropped) | "recognized" (fallback) | "empty"
    dropped_words: tuple[str, ...] = ()  # transcript words missing from the dictionary
    reason: str = ""  # why the fallback happened, "" otherwise
    words: tuple[Word, ...] = ()  # aligned word times (dictionary spelling), only when method is aligned*


def normalise_phone(name: str) -> str:
    """ARPAbet without stress digits; silence, fillers (+NSN+, +SPN+, <sil>) and unknown symbols become SIL."""
    phone = re.sub(r"\d", "", name).upper()
    return phone if phone in ARPABET else SIL


def speech_ratio(segments: list[PhoneSegment] | tuple[PhoneSegment, ...]) -> float:
    """Fraction of the covered time [first start, last end] spent in non-SIL phones; 0.0 for no segments."""
    if not segments:
        return 0.0
    span = segments[-1].end_s - segments[0].start_s
    spoken = sum(s.duration_s for s in segments if s.phone != SIL)
    return float(spoken / span) if span > 0 else 0.0


def pcm16(speech: np.ndarray) -> bytes:
    """(S,) float in [-1, 1] -> little-endian int16 bytes, clipped."""
    return (np.clip(speech, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def checked_speech(speech: np.ndarray) -> np.ndarray | None:
    """(S,) float32, or None where the input is too short or silent to hold speech."""
    samples = np.asarray(speech, dtype=np.float32).reshape(-1)  # (S,)
    if not np.all(np.isfinite(samples)):
        raise InvalidArgument("speech holds non-finite samples", reason="BAD_AUDIO")
    if samples.size < MIN_SPEECH_S * SPEECH_SAMPLE_RATE:
        return None
    if window_rms_dbfs(samples, SPEECH_SAMPLE_RATE).max() <= SILENCE_DBFS:
        return None
    return samples


def decode_utterance(decoder: Decoder, pcm: bytes) -> None:
    """Decode PCM16 bytes as one whole utterance."""
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()


def _decoded(decoder: Decoder, pcm: bytes, offset_s: float) -> list[PhoneSegment]:
    """Phones of one utterance; the decoder's 10 ms frames become seconds after `offset_s`."""
    decode_utterance(decoder, pcm)
    frame_s = 1.0 / float(decoder.config["frate"])
    return [PhoneSegment(normalise_phone(seg.word), offset_s + seg.start_frame * frame_s,
                         offset_s + (seg.end_frame + 1) * frame_s) for seg in decoder.seg()]


def _tiled(segments: list[PhoneSegment], duration_s: float) -> list[PhoneSegment]:
    """Sorted, clipped to [0, duration], gaps filled with SIL, neighbouring SILs merged; [] without speech."""
    out: list[PhoneSegment] = []
    for seg in sorted(segments, key=lambda s: s.start_s):
        start = max(seg.start_s, out[-1].end_s if out else 0.0)
        end = min(seg.end_s, duration_s)
        if end - start <= 1e-9:
            continue
        if out and start > out[-1].end_s + 1e-9:
            out.append(PhoneSegment(SIL, out[-1].end_s, start))
        if out and seg.phone == SIL and out[-1].phone == SIL:
            out[-1] = PhoneSegment(SIL, out[-1].start_s, end)
        else:
            out.append(PhoneSegment(seg.phone, start, end))
    return out if any(s.phone != SIL for s in out) else []


def _phone_decoder() -> Decoder:
    return Decoder(allphone=get_model_path("en-us/en-us-phone.lm.bin"), samprate=SPEECH_SAMPLE_RATE,
                   loglevel="FATAL", **PHONE_DECODER)


def recognize_phones(speech: np.ndarray) -> list[PhoneSegment]:
    """Phones with times of (S,) float32 mono 16 kHz speech, without a transcript. [] when there is no speech."""
    samples = checked_speech(speech)
    if samples is None:
        return []
    duration_s = samples.size / SPEECH_SAMPLE_RATE
    pcm = pcm16(samples)
    spans = speech_regions(pcm, SEGMENT_PAD_S)
    if not spans:
        return []
    decoder = _phone_decoder()
    segments: list[PhoneSegment] = []
    for start_s, end_s in spans:
        first, last = int(round(start_s * SPEECH_SAMPLE_RATE)), int(round(end_s * SPEECH_SAMPLE_RATE))
        segments += _decoded(decoder, pcm[2 * first: 2 * last], start_s)
    return _tiled(segments, duration_s)


def transcript_words(transcript: str) -> list[str]:
    """Lower-case word tokens of a transcript (curly apostrophes straightened, other punctuation removed)."""
    text = transcript.lower().replace("\u2019", "'").replace("\u2018", "'")
    return _WORD.findall(text)


def _in_dictionary(decoder: Decoder, words: list[str]) -> tuple[list[str], list[str]]:
    """(known, dropped): hyphenated words missing as a whole are tried part by part."""
    known: list[str] = []
    dropped: list[str] = []
    for word in words:
        parts = [word] if decoder.lookup_word(word) is not None else word.split("-")
        for part in parts:
            (known if decoder.lookup_word(part) is not None else dropped).append(part)
    return known, dropped


def _forced_alignment(decoder: Decoder, pcm: bytes, words: list[str]) -> Alignment | None:
    """Two-pass alignment (words, then phones in them); None where the audio does not fit the words."""
    try:
        decoder.set_align_text(" ".join(words))
        decode_utterance(decoder, pcm)  # pass 1: word boundaries
        if decoder.hyp() is None:  # the search found no path through the words
            return None
        decoder.set_alignment()
        decode_utterance(decoder, pcm)  # pass 2: phones and HMM states inside the words
        return decoder.get_alignment()
    except RuntimeError as exc:  # "Failed to set up sub-word alignment", "Failed to stop utterance processing"
        log.debug("forced alignment failed: %s", exc)
        return None


def _aligned_phones(alignment: Alignment, frame_s: float) -> list[PhoneSegment]:
    return [PhoneSegment(normalise_phone(p.name), p.start * frame_s, (p.start + p.duration) * frame_s)
            for p in alignment.phones()]


def _aligned_words(alignment: Alignment, frame_s: float) -> tuple[Word, ...]:
    """Words without silences; alternative pronunciations ("to(3)") keep their spelling only."""
    return tuple(Word(re.sub(r"\(\d+\)$", "", w.name), w.start * frame_s, (w.start + w.duration) * frame_s)
                 for w in alignment.words() if w.name not in ("<s>", "</s>", "<sil>"))


def _fallback(samples: np.ndarray, reason: str, dropped: list[str]) -> PhoneAlignment:
    log.warning("phone alignment fell back to recognition: %s", reason)
    return PhoneAlignment(tuple(recognize_phones(samples)), "recognized", tuple(dropped), reason)


def align_transcript(speech: np.ndarray, transcript: str) -> PhoneAlignment:
    """Forced alignment of `transcript` to (S,) float32 mono 16 kHz speech, with a recognition fallback."""
    samples = checked_speech(speech)
    if samples is None:
        return PhoneAlignment((), "empty")
    words = transcript_words(transcript)
    decoder = Decoder(samprate=SPEECH_SAMPLE_RATE, bestpath=False, lm=None, loglevel="FATAL")
    known, dropped = _in_dictionary(decoder, words)
    if not known:
        return _fallback(samples, "no transcript word is in the dictionary", dropped)
    if len(dropped) > MAX_DROPPED_FRACTION * (len(known) + len(dropped)):
        return _fallback(samples, f"{len(dropped)} of {len(known) + len(dropped)} words are not in the "
                                  f"dictionary", dropped)
    alignment = _forced_alignment(decoder, pcm16(samples), known)
    if alignment is None:
        return _fallback(samples, "the speech does not fit the transcript", dropped)
    if dropped:
        log.warning("phone alignment dropped %d out-of-dictionary words: %s", len(dropped), " ".join(dropped))
    frame_s = 1.0 / float(decoder.config["frate"])
    segments = tuple(_tiled(_aligned_phones(alignment, frame_s), samples.size / SPEECH_SAMPLE_RATE))
    return PhoneAlignment(segments, "aligned_partial" if dropped else "aligned", tuple(dropped),
                          words=_aligned_words(alignment, frame_s))


def align_phones(speech: np.ndarray, transcript: str) -> list[PhoneSegment]:
    """The segments of `align_transcript` (its `method` is logged when it is not a full alignment)."""
    return list(align_transcript(speech, transcript).segments)

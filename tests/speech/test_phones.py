"""Timed phones from speech (tango.speech.phones) on real media: BEAT2 English with its TextGrid, German video."""
from __future__ import annotations

import numpy as np
import pytest
from support import shared_media

from tango.aumoclip.transcript import load_transcript, parse_textgrid
from tango.speech.phones import (
    ARPABET, SIL, PhoneSegment, align_transcript, normalise_phone, recognize_phones, speech_ratio, transcript_words,
)
from tango.media.audio import extract_audio, load_audio
from tango.runtime.errors import InvalidArgument

RATE = 16000
CLIP_S = 10.0
WAV = "motion/2_scott_0_1_1.wav"
TEXTGRID = "motion/2_scott_0_1_1.TextGrid"


@pytest.fixture(scope="module")
def english() -> np.ndarray:
    return load_audio(shared_media(WAV), RATE)[: int(CLIP_S * RATE)]  # (S,) first 10 s


@pytest.fixture(scope="module")
def reference_words():
    return [w for w in load_transcript(shared_media(TEXTGRID)) if w.end_s <= CLIP_S]


def _frames(segments, phone_of=lambda s: s.phone) -> np.ndarray:
    """(T,) label per 10 ms frame of the clip; SIL where nothing covers it."""
    grid = np.full(int(CLIP_S * 100), SIL, dtype=object)  # (T,)
    for seg in segments:
        grid[int(round(seg.start_s * 100)):int(round(seg.end_s * 100))] = normalise_phone(phone_of(seg))
    return grid


def _assert_tiling(segments: list[PhoneSegment], duration_s: float) -> None:
    assert all(s.phone in ARPABET or s.phone == SIL for s in segments)
    assert all(0.0 <= s.start_s < s.end_s <= duration_s + 1e-6 for s in segments)
    assert all(a.end_s == pytest.approx(b.start_s) for a, b in zip(segments, segments[1:]))  # no gaps, in order


def test_recognized_phones_cover_the_speech_in_order(english) -> None:
    segments = recognize_phones(english)
    _assert_tiling(segments, CLIP_S)
    reference = parse_textgrid(shared_media(TEXTGRID).read_text(), tier="phones")
    ref_frames = _frames([w for w in reference if w.end_s <= CLIP_S], phone_of=lambda w: w.text)  # (T,)
    hyp_frames = _frames(segments)  # (T,)
    spoken = ref_frames != SIL
    assert np.mean(hyp_frames[spoken] != SIL) > 0.8  # measured 0.98
    assert np.mean(hyp_frames[spoken] == ref_frames[spoken]) > 0.3  # allphone decoding: measured 0.41
    phones = sum(s.phone != SIL for s in segments)
    assert 5.0 < phones / CLIP_S < 15.0  # measured 8.4 phones/s (the TextGrid has 11.2)


def test_silence_and_too_short_speech_give_nothing(english) -> None:
    assert recognize_phones(np.zeros(int(CLIP_S * RATE), np.float32)) == []
    assert recognize_phones(english[int(2.0 * RATE): int(2.2 * RATE)]) == []  # 0.2 s of speech
    assert recognize_phones(np.zeros(0, np.float32)) == []
    assert speech_ratio([]) == 0.0


def test_white_noise_gives_few_phones() -> None:
    rng = np.random.default_rng(0)
    for level in (0.1, 0.3):
        noise = (level * rng.standard_normal(int(CLIP_S * RATE))).astype(np.float32)  # (S,)
        segments = recognize_phones(noise)
        assert speech_ratio(segments) < 0.2  # measured: [] (decoded as silence only)
        assert sum(s.phone != SIL for s in segments) / CLIP_S < 2.0


def test_non_finite_speech_is_refused() -> None:
    bad = np.zeros(RATE, np.float32)
    bad[10] = np.nan
    with pytest.raises(InvalidArgument):
        recognize_phones(bad)


def test_german_speech_still_yields_phones() -> None:
    speech = extract_audio(shared_media("video/mimictalk_German_20s.mp4"), RATE)
    assert speech is not None
    segments = recognize_phones(speech)
    _assert_tiling(segments, speech.size / RATE)
    assert sum(s.phone != SIL for s in segments) / (speech.size / RATE) > 4.0  # measured 10.1 phones/s
    assert speech_ratio(segments) > 0.5  # measured 0.91


def test_forced_alignment_matches_textgrid_word_starts(english, reference_words) -> None:
    result = align_transcript(english, " ".join(w.text for w in reference_words))
    assert result.method == "aligned" and result.dropped_words == ()
    assert [w.text for w in result.words] == [w.text.lower() for w in reference_words]
    errors = np.abs([a.start_s - b.start_s for a, b in zip(result.words, reference_words)])
    assert np.median(errors) < 0.05  # measured 10 ms (the brief's bound: 150 ms)
    _assert_tiling(list(result.segments), CLIP_S)
    reference = parse_textgrid(shared_media(TEXTGRID).read_text(), tier="phones")
    ref_frames = _frames([w for w in reference if w.end_s <= CLIP_S], phone_of=lambda w: w.text)  # (T,)
    spoken = ref_frames != SIL
    assert np.mean(_frames(result.segments)[spoken] == ref_frames[spoken]) > 0.6  # measured 0.77


def test_out_of_dictionary_words_are_dropped(english, reference_words) -> None:
    texts = [w.text for w in reference_words]
    result = align_transcript(english, " ".join(texts[:10] + ["qwzxvk"] + texts[10:]))
    assert result.method == "aligned_partial" and result.dropped_words == ("qwzxvk",)
    errors = np.abs([a.start_s - b.start_s for a, b in zip(result.words, reference_words)])
    assert np.median(errors) < 0.05


def test_alignment_falls_back_to_recognition(english) -> None:
    wrong = align_transcript(english, "the quick brown fox jumps over the lazy dog " * 3)
    assert wrong.method == "recognized" and wrong.reason and wrong.words == ()
    assert sum(s.phone != SIL for s in wrong.segments) > 40
    unknown = align_transcript(english, "qwzxvk blorptang")
    assert unknown.method == "recognized" and unknown.dropped_words == ("qwzxvk", "blorptang")
    assert align_transcript(np.zeros(RATE, np.float32), "hello world").method == "empty"


def test_transcript_words_are_normalised() -> None:
    assert transcript_words("Don\u2019t stop, well-known  Friends! 2020") == ["don't", "stop", "well-known",
                                                                             "friends", "2020"]
    assert normalise_phone("AH0") == "AH" and normalise_phone("+NSN+") == SIL and normalise_phone("<sil>") == SIL

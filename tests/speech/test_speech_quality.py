"""The verdict on a recognition: duration-weighted measures and their thresholds."""
from __future__ import annotations

import math

import pytest

from tango.speech.quality import SpeechSettings, WordScore, log_score, measure, verdict


def _score(frames: int, posterior: float, nats_per_frame: float) -> WordScore:
    return WordScore("w", frames, posterior, nats_per_frame * frames)


def test_measures_are_weighted_by_duration() -> None:
    quality = measure([_score(10, 1.0, -2.0), _score(30, 0.2, -4.0)], speech_s=0.8)
    assert quality.confidence == pytest.approx((10 * 1.0 + 30 * 0.2) / 40)
    assert quality.acoustic_fit == pytest.approx((10 * -2.0 + 30 * -4.0) / 40)
    assert quality.coverage == pytest.approx(0.5) and quality.words == 2


def test_underflowed_scores_count_as_the_worst_seen_and_posteriors_are_clipped() -> None:
    assert log_score(0.0) == -math.inf and log_score(math.e) == pytest.approx(1.0)
    quality = measure([_score(10, 1.0004, -2.0), _score(10, 0.5, -6.0), WordScore("w", 20, 0.5, -math.inf)], 1.0)
    assert quality.acoustic_fit == pytest.approx((-20 - 60 - 6.0 * 20) / 40)
    assert quality.confidence == pytest.approx((10 * 1.0 + 10 * 0.5 + 20 * 0.5) / 40)
    assert measure([], 3.0).words == 0


def test_verdicts() -> None:
    settings = SpeechSettings()
    good = measure([_score(40, 0.6, -3.3)] * 5, speech_s=2.5)
    assert verdict(good, settings) == ("ok", "")
    status, reason = verdict(measure([_score(40, 0.3, -3.3)] * 5, speech_s=2.5), settings)
    assert status == "low_confidence" and "confidence 0.30" in reason
    status, reason = verdict(measure([_score(40, 0.6, -4.5)] * 5, speech_s=2.5), settings)
    assert status == "low_confidence" and "acoustic fit -4.50" in reason and "confidence" not in reason.split(":")[1]
    status, reason = verdict(measure([_score(40, 0.6, -3.3)] * 5, speech_s=10.0), settings)
    assert status == "low_confidence" and "cover 20%" in reason
    assert verdict(measure([_score(40, 0.9, -1.0)], speech_s=0.4), settings)[0] == "no_speech"
    assert verdict(good, SpeechSettings(min_confidence=0.7))[0] == "low_confidence"

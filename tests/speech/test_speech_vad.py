"""Speech regions: the last region is closed whatever the input's length (pocketsphinx's Segmenter drops it
where the length is a whole number of 30 ms frames)."""
from __future__ import annotations

import numpy as np
import pytest
from support import shared_media

from tango.speech.phones import pcm16
from tango.media.audio import SPEECH_SAMPLE_RATE as RATE
from tango.media.audio import load_audio
from tango.speech.recognize import recognize_words
from tango.speech.vad import speech_regions


@pytest.fixture(scope="module")
def english() -> np.ndarray:
    return load_audio(shared_media("motion/2_scott_0_1_1.wav"), RATE)  # (S,)


@pytest.mark.parametrize("start_s, end_s", [(30.0, 45.0), (5.0, 15.0), (30.0, 45.01), (0.0, 64.0)])
def test_speech_running_to_the_end_is_a_region(english, start_s: float, end_s: float) -> None:
    clip = english[int(start_s * RATE): int(end_s * RATE)]  # 15 s = 500 frames of 30 ms exactly
    regions = speech_regions(pcm16(clip))
    duration_s = clip.size / RATE
    assert regions and regions[-1][1] == pytest.approx(duration_s)
    assert all(0.0 <= a < b <= duration_s for a, b in regions)
    assert all(prev[1] < nxt[0] for prev, nxt in zip(regions, regions[1:]))
    assert sum(b - a for a, b in regions) > 0.8 * duration_s  # BEAT2 speaks almost throughout


def test_a_clip_of_speech_only_is_recognised(english) -> None:
    result = recognize_words(english[30 * RATE: 45 * RATE])
    assert result.status == "ok" and len(result.words) > 20  # measured 47 words (the Segmenter: none)


def test_silence_around_speech(english) -> None:
    assert speech_regions(pcm16(np.zeros(3 * RATE, np.float32))) == []
    assert speech_regions(b"") == []
    words = english[int(10.2 * RATE): int(12.2 * RATE)]  # (S,) 2 s inside continuous speech
    signal = np.concatenate([np.zeros(RATE, np.float32), words, np.zeros(RATE, np.float32)])  # speech at 1-3 s
    regions = speech_regions(pcm16(signal))
    assert len(regions) == 1 and 0.6 < regions[0][0] < 1.2 and 2.8 < regions[0][1] < 3.6, regions

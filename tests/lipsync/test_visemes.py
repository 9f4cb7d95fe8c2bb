"""Phone -> viseme table, per-frame visemes (against a per-frame loop) and the viseme similarity matrix."""
from __future__ import annotations

import numpy as np
import pytest
from pocketsphinx import get_model_path

from tango.speech.phones import ARPABET, PhoneSegment
from tango.lipsync.visemes import (
    PHONE_TO_VISEME, SIL_VISEME, VISEMES, frame_visemes, viseme_of, viseme_similarity,
)
from tango.runtime.errors import InvalidArgument


def _dictionary_phones() -> set[str]:
    """The phones used by the bundled CMUdict (stress-free in pocketsphinx's copy)."""
    phones: set[str] = set()
    with open(get_model_path("en-us/cmudict-en-us.dict"), encoding="utf-8") as lines:
        for line in lines:
            phones.update(line.split()[1:])
    return phones


def test_every_cmudict_phone_maps() -> None:
    dictionary = _dictionary_phones()
    assert dictionary == ARPABET and len(ARPABET) == 39
    assert set(PHONE_TO_VISEME) == ARPABET | {"SIL"}
    assert 12 <= len(VISEMES) <= 14 and len(set(VISEMES)) == len(VISEMES)
    assert set(PHONE_TO_VISEME.values()) == set(range(len(VISEMES)))  # no empty class
    assert VISEMES[SIL_VISEME] == "sil"


def test_viseme_of_strips_stress_and_knows_silence() -> None:
    assert viseme_of("AA1") == viseme_of("AA") == VISEMES.index("open")
    assert viseme_of("p") == viseme_of("B") == viseme_of("M") == VISEMES.index("closed")
    assert viseme_of("F") != viseme_of("P")
    for silence in ("SIL", "<sil>", "+NSN+", "+SPN+"):
        assert viseme_of(silence) == SIL_VISEME
    with pytest.raises(InvalidArgument):
        viseme_of("QQ")


def _oracle(segments, n_frames: int, fps: float) -> np.ndarray:
    out = np.full(n_frames, SIL_VISEME, dtype=np.int16)
    for i in range(n_frames):
        t = (i + 0.5) / fps
        for seg in segments:
            if seg.start_s <= t < seg.end_s:
                out[i] = viseme_of(seg.phone)
    return out


def test_frame_visemes_sample_frame_centres() -> None:
    segments = [PhoneSegment("M", 0.10, 0.20), PhoneSegment("AA", 0.20, 0.45), PhoneSegment("SIL", 0.45, 0.5),
                PhoneSegment("F", 0.70, 0.75)]
    fps = 25.0
    out = frame_visemes(list(reversed(segments)), 25, fps)  # any order
    assert out.shape == (25,) and out.dtype == np.int16
    np.testing.assert_array_equal(out, _oracle(segments, 25, fps))
    assert out[0] == SIL_VISEME and out[-1] == SIL_VISEME  # uncovered: before the first and after the last
    assert out[3] == VISEMES.index("closed")  # centre 0.14 s
    assert out[5] == VISEMES.index("open")  # centre 0.22 s
    assert out[18] == VISEMES.index("lip_teeth")  # centre 0.74 s


def test_frame_visemes_random_against_loop() -> None:
    rng = np.random.default_rng(1)
    phones = sorted(ARPABET | {"SIL"})
    edges = np.cumsum(rng.uniform(0.02, 0.2, size=60)) + 0.3  # (61,) with a leading gap
    segments = [PhoneSegment(phones[rng.integers(len(phones))], a, b)
                for a, b in zip(edges[:-1], edges[1:]) if rng.random() > 0.2]  # some gaps
    for fps in (24.0, 29.97, 30.0):
        n = int(edges[-1] * fps) + 10
        np.testing.assert_array_equal(frame_visemes(segments, n, fps), _oracle(segments, n, fps))


def test_frame_visemes_edges() -> None:
    assert frame_visemes([], 4, 25.0).tolist() == [SIL_VISEME] * 4
    assert frame_visemes([PhoneSegment("AA", 0.0, 1.0)], 0, 25.0).shape == (0,)
    with pytest.raises(InvalidArgument):
        frame_visemes([], 4, 0.0)


def test_similarity_is_symmetric_with_unit_diagonal() -> None:
    sim = viseme_similarity()
    size = len(VISEMES)
    assert sim.shape == (size, size) and sim.dtype == np.float32
    np.testing.assert_array_equal(sim, sim.T)
    np.testing.assert_array_equal(np.diag(sim), np.ones(size, np.float32))
    assert set(np.unique(sim).tolist()) <= {0.0, 0.5, 1.0}
    closed, lip_teeth = VISEMES.index("closed"), VISEMES.index("lip_teeth")
    assert sim[closed, lip_teeth] == 0.0
    assert sim[VISEMES.index("open"), VISEMES.index("spread")] == 0.5
    assert sim[SIL_VISEME, VISEMES.index("open")] == 0.0

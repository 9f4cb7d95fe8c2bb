"""Word error rate and boundary errors, against a brute-force edit distance."""
from __future__ import annotations

import functools
import itertools

import numpy as np
import pytest

from tango.aumoclip.transcript import Word
from tango.speech.scoring import edit_alignment, score_words


def _words(text: str, start: float = 0.0, step: float = 0.5) -> list[Word]:
    return [Word(t, start + n * step, start + (n + 1) * step) for n, t in enumerate(text.split())]


def _edit_distance(a: tuple[str, ...], b: tuple[str, ...]) -> int:
    @functools.lru_cache(maxsize=None)
    def dist(i: int, j: int) -> int:
        if i == 0 or j == 0:
            return i + j
        return min(dist(i - 1, j) + 1, dist(i, j - 1) + 1, dist(i - 1, j - 1) + (a[i - 1] != b[j - 1]))
    return dist(len(a), len(b))


def test_error_kinds_are_counted() -> None:
    ref = _words("the first thing i'd do")
    scored = score_words(ref, _words("the thing i'd do now", step=0.5))
    assert (scored.substitutions, scored.deletions, scored.insertions) == (0, 1, 1)
    assert scored.word_error_rate == pytest.approx(2 / 5)
    assert scored.hits == 4
    assert score_words(ref, ref).word_error_rate == 0.0 and score_words(ref, []).word_error_rate == 1.0


def test_hits_give_boundary_errors_and_case_punctuation_do_not_count() -> None:
    ref = _words("Hello, world again")
    hyp = [Word("hello", 0.02, 0.5), Word("WORLD", 0.5, 1.04), Word("again.", 1.0, 1.5)]
    scored = score_words(ref, hyp)
    assert scored.word_error_rate == 0.0
    assert np.allclose(scored.start_errors_s, [0.02, 0.0, 0.0]) and np.allclose(scored.end_errors_s, [0.0, 0.04, 0.0])
    assert scored.summary()["median_start_error_ms"] == pytest.approx(0.0)


def test_edit_alignment_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    vocabulary = ["a", "b", "c"]
    for _ in range(200):
        ref = tuple(rng.choice(vocabulary, rng.integers(0, 6)))
        hyp = tuple(rng.choice(vocabulary, rng.integers(0, 6)))
        pairs = edit_alignment(list(ref), list(hyp))
        cost = sum(1 for r, h in pairs if r is None or h is None or ref[r] != hyp[h])
        assert cost == _edit_distance(ref, hyp)
        assert [r for r, _ in pairs if r is not None] == list(range(len(ref)))
        assert [h for _, h in pairs if h is not None] == list(range(len(hyp)))


def test_every_pair_of_short_sequences() -> None:
    for n, m in itertools.product(range(3), range(3)):
        for ref in itertools.product("xy", repeat=n):
            for hyp in itertools.product("xy", repeat=m):
                scored = score_words(_words(" ".join(ref)), _words(" ".join(hyp)))
                expected = _edit_distance(ref, hyp) / n if n else float(bool(hyp))
                assert scored.word_error_rate == pytest.approx(expected)

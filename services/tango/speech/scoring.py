"""How good is a transcript against the truth: word error rate and word-boundary errors.

Word error rate = (S + D + I) / N over the minimum-edit alignment of the hypothesis' words to the N
reference words (lower-case tokens, punctuation removed). Boundary errors are measured on the reference words
that the edit alignment matches to an identical hypothesis word (the hits), in seconds.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tango.aumoclip.transcript import Word
from tango.speech.phones import transcript_words


@dataclass(frozen=True)
class WordScoring:
    word_error_rate: float  # (S + D + I) / N
    substitutions: int
    deletions: int
    insertions: int
    reference_words: int
    start_errors_s: tuple[float, ...]  # |hyp start - ref start| of each hit
    end_errors_s: tuple[float, ...]

    @property
    def hits(self) -> int:
        return len(self.start_errors_s)

    def summary(self) -> dict:
        starts, ends = np.asarray(self.start_errors_s), np.asarray(self.end_errors_s)
        return {
            "word_error_rate": round(self.word_error_rate, 4), "substitutions": self.substitutions,
            "deletions": self.deletions, "insertions": self.insertions, "reference_words": self.reference_words,
            "hits": self.hits,
            "median_start_error_ms": round(1000 * float(np.median(starts)), 1) if starts.size else None,
            "p90_start_error_ms": round(1000 * float(np.percentile(starts, 90)), 1) if starts.size else None,
            "median_end_error_ms": round(1000 * float(np.median(ends)), 1) if ends.size else None,
        }


def _token(text: str) -> str:
    return " ".join(transcript_words(text))


def edit_alignment(reference: list[str], hypothesis: list[str]) -> list[tuple[int | None, int | None]]:
    """Minimum-edit alignment as (ref index | None, hyp index | None) pairs in order; None = insertion/deletion."""
    rows, cols = len(reference) + 1, len(hypothesis) + 1
    cost = np.zeros((rows, cols), np.int64)  # (R+1, H+1)
    cost[:, 0] = np.arange(rows)
    cost[0, :] = np.arange(cols)
    for i in range(1, rows):
        for j in range(1, cols):
            cost[i, j] = min(cost[i - 1, j] + 1, cost[i, j - 1] + 1,
                             cost[i - 1, j - 1] + (reference[i - 1] != hypothesis[j - 1]))
    pairs: list[tuple[int | None, int | None]] = []
    i, j = rows - 1, cols - 1
    while i > 0 or j > 0:
        if i > 0 and j > 0 and cost[i, j] == cost[i - 1, j - 1] + (reference[i - 1] != hypothesis[j - 1]):
            pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif i > 0 and cost[i, j] == cost[i - 1, j] + 1:
            pairs.append((i - 1, None))
            i -= 1
        else:
            pairs.append((None, j - 1))
            j -= 1
    return pairs[::-1]


def score_words(reference: list[Word], hypothesis: list[Word] | tuple[Word, ...]) -> WordScoring:
    """WER and boundary errors of `hypothesis` against `reference` (both with times)."""
    ref = [w for w in reference if _token(w.text)]
    hyp = [w for w in hypothesis if _token(w.text)]
    ref_tokens, hyp_tokens = [_token(w.text) for w in ref], [_token(w.text) for w in hyp]
    subs = dels = ins = 0
    starts: list[float] = []
    ends: list[float] = []
    for r, h in edit_alignment(ref_tokens, hyp_tokens):
        if r is None:
            ins += 1
        elif h is None:
            dels += 1
        elif ref_tokens[r] != hyp_tokens[h]:
            subs += 1
        else:
            starts.append(abs(hyp[h].start_s - ref[r].start_s))
            ends.append(abs(hyp[h].end_s - ref[r].end_s))
    wer = (subs + dels + ins) / len(ref) if ref else float(bool(hyp))
    return WordScoring(wer, subs, dels, ins, len(ref), tuple(starts), tuple(ends))

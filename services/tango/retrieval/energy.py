"""Loudness following: the path's motion energy rises and falls with the loudness of the speech.

A speaker's gestures grow with the voice. On the 22 s reference the real motion energy (mean joint speed,
smoothed over 1/6 s) correlates r = 0.39 with the speech's loudness over 0.5 s windows (0.48 with the energy
smoothed over 1/2 s). The per-speaker AuMoCLIP, trained on a few minutes of footage at most, hears only part of
it, so the search is also told directly, by a rank-1 term added to every score s(t, n):

    e(t, n) = w_energy * L_t * E_n

L_t the loudness of step t (dB RMS of a `LOUDNESS_WINDOW_S` window centred on the step) standardised over the
target speech, E_n the node's log mean joint speed (linear + angular) standardised over the graph
(`RetrievalGraph.node_energy`): loud steps favour energetic nodes and quiet steps calm ones, in proportion,
whatever the level of the recording or the speaker's style. The term needs the target's waveform: features sent
without one are searched without it.

The weight, by 4-fold self-reenactment (`tango reenact eval VIDEO --folds 4 --energy-weight W`): energy
correlation of the path's motion with the real motion 0.325 -> 0.352 on the 22 s speaker, 0.122 -> 0.160 on the
BEAT2 mocap pair, beat alignment up on both, AuMoCLIP similarity -3.2 % / -4.4 % at w = 0.2 (0.3-0.4: more
energy for twice the similarity).

Live streams (`live_features`, `live_session`, `search_online`) follow the loudness causally, with two changes:
- window: the `LOUDNESS_WINDOW_S` window ENDING at the step's last sample (`trailing_loudness_db`), not centred
  on it. The centred one needs 0.25 s of audio past the step's centre: waiting for it would hold back every
  relaxation by ~2 steps, i.e. add 0.25 s to a live latency whose look-ahead is 4 steps (0.53 s). The trailing
  window adds no latency; its cost is a lag: it is centred 0.25 - 0.067 = 0.18 s before the step's centre,
  so the live loudness trails the offline one by ~1.4 steps (the DP's look-ahead still sees each rise before
  committing the steps just ahead of it).
- standardisation: by RUNNING statistics (`RunningLoudness`): step t's dB minus the mean of the dB of steps
  0..t, over their standard deviation (ddof 0, as `standardise`), so the last step of a stream is standardised
  exactly as offline over the loudness heard. The first `warmup_steps` steps (`LIVE_WARMUP_S`, 2 s) get 0: the
  term is off until the statistics mean something (the z-score of 2 values is always +-1).
Given the same standardised loudness, `OnlineSearch` scores exactly as `search_dp` does.
"""
from __future__ import annotations

import numpy as np

from tango.media.audio import centred_loudness_db
from tango.retrieval.inputs import FRAMES_PER_STEP, RetrievalGraph, TargetFeatures, standardise

LOUDNESS_WINDOW_S = 0.5  # the syllable-to-phrase scale (0.12 s windows: r = 0.38 on the 22 s reference)
LIVE_WARMUP_S = 2.0  # live: the loudness term is off until this much speech is heard (RunningLoudness)


def step_loudness(waveform: np.ndarray, sample_rate: int, fps: float, steps: int) -> np.ndarray:
    """(T,) float32 loudness of each step's centre, standardised over the speech."""
    centres_s = (np.arange(steps) * FRAMES_PER_STEP + (FRAMES_PER_STEP - 1) / 2 + 0.5) / fps
    return standardise(centred_loudness_db(waveform, sample_rate, centres_s, LOUDNESS_WINDOW_S))


def follows_loudness(graph: RetrievalGraph, features: TargetFeatures, weight: float) -> bool:
    return weight != 0 and features.loudness is not None and graph.node_energy is not None


def energy_block(graph: RetrievalGraph, features: TargetFeatures, weight: float, start: int, stop: int) -> np.ndarray:
    """(stop - start, N) float32 e(t, n) for steps start..stop-1."""
    return np.float32(weight) * np.outer(features.loudness[start:stop], graph.node_energy)


def path_energy(graph: RetrievalGraph, features: TargetFeatures, weight: float, path: np.ndarray) -> float:
    """sum_t e(t, path[t]) of a path."""
    return weight * float(np.dot(features.loudness[: path.shape[0]].astype(np.float64),
                                 graph.node_energy[path].astype(np.float64)))


def trailing_loudness_db(samples: np.ndarray, ends: np.ndarray, window: int) -> np.ndarray:
    """(k,) float64 loudness, 10 log10 (mean square + 1e-8) as `centred_loudness_db`, of the `window` samples
    ending at each of `ends` (exclusive indices into `samples`; cut at sample 0). One (k, window) gather, each
    window summed alone: a window's value does not depend on which others are computed with it (live chunking)."""
    ends = np.asarray(ends, np.int64)
    index = ends[:, None] - window + np.arange(window, dtype=np.int64)  # (k, W)
    inside = index >= 0
    squared = np.where(inside, np.asarray(samples, np.float64)[np.maximum(index, 0)] ** 2, 0.0)  # (k, W)
    power = squared.sum(axis=1) / np.maximum(inside.sum(axis=1), 1)
    return 10.0 * np.log10(power + 1e-8)


def live_warmup_steps(fps: float) -> int:
    """Steps of `LIVE_WARMUP_S` at `fps` (15 at 30 fps)."""
    return int(round(LIVE_WARMUP_S * fps / FRAMES_PER_STEP))


class RunningLoudness:
    """push(loudness_db (k,)) -> (k,) float32 z-scores of a stream's step loudness by the mean and standard
    deviation of every step heard so far, the step itself included; 0 for the first `warmup_steps` steps
    (and while the level has not varied). Running sums of the dB minus the first step's (no cancellation),
    accumulated in stream order: the same values whatever the grouping of the pushes. O(1) memory."""

    def __init__(self, warmup_steps: int):
        if warmup_steps < 0:
            raise ValueError("warmup_steps must be >= 0")
        self.warmup_steps = warmup_steps
        self._reference: float | None = None  # the first step's dB
        self._count = 0
        self._sum = 0.0  # of dB - reference
        self._sum_squares = 0.0

    @property
    def steps(self) -> int:
        return self._count

    def push(self, loudness_db: np.ndarray) -> np.ndarray:
        loudness_db = np.asarray(loudness_db, np.float64).reshape(-1)
        if loudness_db.size == 0:
            return np.zeros(0, np.float32)
        if self._reference is None:
            self._reference = float(loudness_db[0])
        offset = loudness_db - self._reference  # (k,)
        sums = np.cumsum(np.concatenate([[self._sum], offset]))[1:]  # (k,) sequential: grouping-invariant
        squares = np.cumsum(np.concatenate([[self._sum_squares], offset * offset]))[1:]
        counts = self._count + np.arange(1, offset.shape[0] + 1)
        mean = sums / counts
        variance = np.maximum(squares / counts - mean * mean, 0.0)
        live = (counts > self.warmup_steps) & (variance > 1e-12)
        z = np.where(live, (offset - mean) / np.sqrt(np.where(live, variance, 1.0)), 0.0)
        self._count, self._sum, self._sum_squares = int(counts[-1]), float(sums[-1]), float(squares[-1])
        return z.astype(np.float32)

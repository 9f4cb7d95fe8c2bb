"""Loudness following: the path's motion energy rises and falls with the loudness of the speech.

A speaker's gestures grow with the voice. On the 22 s reference the real motion energy (mean joint speed,
smoothed over 1/6 s) correlates r = 0.39 with the speech's loudness over 0.5 s windows (0.48 with the energy
smoothed over 1/2 s). The per-speaker AuMoCLIP, trained on a few minutes of footage at most, hears little of it:
in self-reenactment its paths' energy followed the real motion's no better than random walks did. So the search
is also told directly, by a rank-1 term added to every score s(t, n):

    e(t, n) = w_energy * L_t * E_n

L_t the loudness of step t (dB RMS of a `LOUDNESS_WINDOW_S` window centred on the step) standardised over the
target speech, E_n the node's log mean joint speed (linear + angular) standardised over the graph (`RetrievalGraph.node_energy`):
loud steps favour energetic nodes and quiet steps calm ones, in proportion, whatever the level of the recording
or the speaker's style. The term needs the target's waveform (features sent without one, and live streams,
whose loudness is not known ahead, search without it).
"""
from __future__ import annotations

import numpy as np

from tango.media.audio import centred_loudness_db
from tango.retrieval.inputs import FRAMES_PER_STEP, RetrievalGraph, TargetFeatures, standardise

LOUDNESS_WINDOW_S = 0.5  # the syllable-to-phrase scale (0.12 s windows: r = 0.38 on the 22 s reference)


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

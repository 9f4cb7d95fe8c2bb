"""Output metrics of a rendered path (TANGO Table 1 style): beat consistency, diversity, hand clarity.

Exact definitions used here:
- Audio onsets: `librosa.onset.onset_detect(y, sr, hop_length=ONSET_HOP, units="time")` on the mono audio.
- Motion speed: s[f] = mean over joints of ||p[f+1] - p[f]|| * fps, f = 0..F-2 (m/s for MediaPipe world
  landmarks), attributed to time (f + 0.5) / fps — the midpoint of the two frames it is measured between.
  Joints that are NaN (no person) are left out of the mean; frames with no valid joint give NaN.
- Motion beats: strict local minima of s (s[f] < s[f-1] and s[f] <= s[f+1]), i.e. the instants where the
  gesture stops or turns — as in BEAT / TANGO.
- Beat consistency BC = mean over motion beats b of exp(-min_a (t_b - t_a)^2 / (2 sigma^2)), a over the
  audio onsets, sigma = 0.1 s. 0 when there are no beats or no onsets (reported with the counts).
  (BEAT's code averages over audio beats instead; the motion-beat form follows Bailando's BA and is what
  TANGO reports. Values are comparable only between outputs measured with this same definition.)
- Diversity: the motion is cut into non-overlapping 4-frame clips, each flattened to a vector of
  positions (4*J*3); diversity = mean Euclidean distance between clip vectors over `pairs` random
  pairs of distinct clips (all pairs when there are fewer), clips containing NaN left out. Metres,
  NOT the FGD-encoder feature space of the paper: compare outputs with each other and with the
  reference, not with the paper's numbers.
- Mean hand clarity: mean of the per-frame, per-hand CyberHost clarity (std of the Laplacian of the
  hand crop) over the hands that were detected; None when no hand was ever seen.
"""
from __future__ import annotations

import librosa
import numpy as np

from tango.render.plan import CLIP_FRAMES

ONSET_HOP = 160  # 10 ms at 16 kHz
BC_SIGMA_S = 0.1
DIVERSITY_PAIRS = 2000


def audio_onsets(audio: np.ndarray, rate: int) -> np.ndarray:
    """(K,) onset times in seconds."""
    audio = np.asarray(audio, dtype=np.float32).reshape(-1)
    if audio.size < 2 * ONSET_HOP or not np.any(audio):
        return np.zeros(0, dtype=np.float64)
    return librosa.onset.onset_detect(y=audio, sr=rate, hop_length=ONSET_HOP, units="time").astype(np.float64)


def motion_speed(positions: np.ndarray, fps: float) -> np.ndarray:
    """positions (F, J, 3) -> (F-1,) mean joint speed between consecutive frames."""
    step = np.linalg.norm(np.diff(np.asarray(positions, dtype=np.float64), axis=0), axis=-1)  # (F-1, J)
    valid = np.isfinite(step)
    count = valid.sum(axis=1)  # (F-1,)
    total = np.where(valid, step, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan) * fps


def motion_beats(positions: np.ndarray, fps: float) -> np.ndarray:
    """(M,) times in seconds of the local minima of the motion speed."""
    speed = motion_speed(positions, fps)  # (F-1,)
    if speed.size < 3:
        return np.zeros(0, dtype=np.float64)
    middle = speed[1:-1]
    minima = (middle < speed[:-2]) & (middle <= speed[2:])  # NaN compares false: never a beat
    frames = np.flatnonzero(minima) + 1
    return (frames + 0.5) / fps


def beat_consistency(motion_beat_s: np.ndarray, onset_s: np.ndarray, sigma_s: float = BC_SIGMA_S) -> float:
    """Mean over motion beats of exp(-d^2 / 2 sigma^2), d = distance to the nearest audio onset."""
    beats = np.asarray(motion_beat_s, dtype=np.float64)
    onsets = np.sort(np.asarray(onset_s, dtype=np.float64))
    if beats.size == 0 or onsets.size == 0:
        return 0.0
    right = np.clip(np.searchsorted(onsets, beats), 0, onsets.size - 1)  # (M,)
    left = np.clip(right - 1, 0, onsets.size - 1)
    nearest = np.minimum(np.abs(beats - onsets[left]), np.abs(beats - onsets[right]))  # (M,)
    return float(np.mean(np.exp(-(nearest**2) / (2.0 * sigma_s**2))))


def diversity(positions: np.ndarray, pairs: int = DIVERSITY_PAIRS, seed: int = 0) -> float:
    """Mean pairwise Euclidean distance between 4-frame clip position vectors (see module doc)."""
    positions = np.asarray(positions, dtype=np.float64)
    clips = positions.shape[0] // CLIP_FRAMES
    vectors = positions[: clips * CLIP_FRAMES].reshape(clips, -1)  # (C, 4*J*3)
    vectors = vectors[np.isfinite(vectors).all(axis=1)]
    count = len(vectors)
    if count < 2:
        return 0.0
    if count * (count - 1) // 2 <= pairs:
        first, second = np.triu_indices(count, k=1)
    else:
        rng = np.random.default_rng(seed)
        first = rng.integers(0, count, size=pairs)
        second = (first + rng.integers(1, count, size=pairs)) % count  # distinct from `first`
    return float(np.mean(np.linalg.norm(vectors[first] - vectors[second], axis=1)))


def mean_hand_clarity(hand_clarity: np.ndarray) -> float | None:
    """hand_clarity (F, 2) with NaN for absent hands -> mean over present hands, None if none."""
    values = np.asarray(hand_clarity, dtype=np.float64)
    present = values[np.isfinite(values)]
    return float(present.mean()) if present.size else None


def motion_metrics(positions: np.ndarray, fps: float, audio: np.ndarray, audio_rate: int,
                   hand_clarity: np.ndarray | None = None, seed: int = 0) -> dict:
    """All output metrics of one motion (F, J, 3) + its audio, as a plain JSON-ready dict."""
    onsets = audio_onsets(audio, audio_rate)
    beats = motion_beats(positions, fps)
    return {
        "beat_consistency": beat_consistency(beats, onsets),
        "diversity": diversity(positions, seed=seed),
        "mean_hand_clarity": None if hand_clarity is None else mean_hand_clarity(hand_clarity),
        "motion_beats": int(beats.size),
        "audio_onsets": int(onsets.size),
        "frames": int(len(positions)),
        "bc_sigma_s": BC_SIGMA_S,
    }

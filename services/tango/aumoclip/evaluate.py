"""AuMoCLIP evaluation on held-out pairs, following TANGO's protocol.

Low level: for a random audio frame i (`picks` draws, fixed seed, i at least `search_radius` from the ends),
the motion frame j with |j - i| < search_radius (31 frames for 16) of highest cosine similarity is chosen;
correct when |j - i| < hit_radius (7 frames for 4). Random = 7/31 = 0.2258 (the paper rounds it to 25 %).
Embeddings are computed over the whole held-out sequence at once (the low level is convolutional).

High level: 4 s clips of the held-out sequence at `clip_stride_s` (overlapping: 13 s hold only 3 disjoint
clips, so the candidates include shifted copies of the true clip, a harder task than disjoint clips); each
audio clip is scored against up to `max_candidates` motion clips (the true one + negatives), correct when the
true one ranks first. Random = 1 / candidates.

Onset baseline (GVR-style, content only): audio onsets (librosa onset detection, at 30 fps) are matched to
motion-velocity peaks (local maxima of the mean joint speed, linear + angular). Audio frame i lies
a_i = i - (nearest onset) frames from a beat; motion frame j lies m_j = j - (nearest velocity peak) frames
from one. The choice in the window is the j whose phase m_j best equals a_i, ties going to the frame of the
strongest velocity peak (GVR aligns onsets with the strongest peaks). Like the learned model, it never uses
the frame indices themselves, only the content inside the search window.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.signal import find_peaks

from tango.aumoclip.data import FPS, SAMPLE_RATE, AudioMotionPair, frame_to_sample, window_starts
from tango.aumoclip.model import AuMoCLIP
from tango.runtime.errors import InvalidArgument


@dataclass(frozen=True)
class EvalConfig:
    picks: int = 2000
    seed: int = 0
    search_radius: int = 16
    hit_radius: int = 4
    clip_stride_s: float = 0.5
    max_candidates: int = 256


def draw_picks(frames: int, config: EvalConfig) -> np.ndarray:
    """(picks,) audio frames with the full search window inside [0, frames)."""
    low, high = config.search_radius - 1, frames - config.search_radius
    if high < low:
        raise InvalidArgument(f"{frames} frames are too few for a +-{config.search_radius} search window",
                              reason="AUDIO_TOO_SHORT")
    return np.random.default_rng(config.seed).integers(low, high + 1, size=config.picks)


def _window_offsets(config: EvalConfig) -> np.ndarray:
    return np.arange(-(config.search_radius - 1), config.search_radius)  # (W,)


def low_level_choices(audio_low: np.ndarray, motion_low: np.ndarray, picks: np.ndarray,
                      config: EvalConfig) -> np.ndarray:
    """audio_low, motion_low (T, D) unit vectors; picks (P,) -> chosen motion frames (P,)."""
    candidates = picks[:, None] + _window_offsets(config)[None, :]  # (P, W)
    similarity = np.einsum("pd,pwd->pw", audio_low[picks], motion_low[candidates])  # (P, W)
    return candidates[np.arange(len(picks)), similarity.argmax(axis=1)]


def hit_rate(choices: np.ndarray, picks: np.ndarray, config: EvalConfig) -> float:
    return float(np.mean(np.abs(choices - picks) < config.hit_radius))


def random_low_accuracy(config: EvalConfig) -> float:
    return (2 * config.hit_radius - 1) / (2 * config.search_radius - 1)


def motion_speed(motion: np.ndarray) -> np.ndarray:
    """motion (T, J, 15) -> (T,) mean joint speed: |velocity| + |angular velocity| (channels 3:6, 12:15)."""
    return np.linalg.norm(motion[..., 3:6], axis=-1).mean(-1) + np.linalg.norm(motion[..., 12:15], axis=-1).mean(-1)


def audio_onset_frames(audio: np.ndarray, frames: int) -> np.ndarray:
    """Onset frames (at FPS) of 16 kHz audio, from librosa's onset-strength peak picking."""
    import librosa  # first call JIT-compiles (numba); only the baseline needs it

    hop = 160  # 100 frames/s, converted to FPS below
    onsets = librosa.onset.onset_detect(y=audio.astype(np.float32), sr=SAMPLE_RATE, hop_length=hop, units="time")
    return np.unique(np.clip(np.round(np.asarray(onsets) * FPS).astype(np.int64), 0, frames - 1))


def _nearest(events: np.ndarray, frames: int) -> np.ndarray:
    """(T,) index of the event (sorted frames) nearest to every frame 0..T-1."""
    position = np.clip(np.searchsorted(events, np.arange(frames)), 1, max(1, len(events) - 1))
    if len(events) == 1:
        return np.zeros(frames, dtype=np.int64)
    before, after = events[position - 1], events[position]
    return np.where(np.abs(np.arange(frames) - before) <= np.abs(after - np.arange(frames)), position - 1, position)


def onset_baseline_choices(audio: np.ndarray, motion: np.ndarray, picks: np.ndarray,
                           config: EvalConfig) -> np.ndarray:
    """GVR-style onset <-> velocity-peak alignment (module docstring) -> chosen motion frames (P,)."""
    frames = motion.shape[0]
    speed = motion_speed(motion)  # (T,)
    onsets = audio_onset_frames(audio, frames)
    peaks, _ = find_peaks(speed)
    candidates = picks[:, None] + _window_offsets(config)[None, :]  # (P, W)
    if onsets.size == 0 or peaks.size == 0:
        return candidates[np.arange(len(picks)), speed[candidates].argmax(axis=1)]
    audio_phase = np.arange(frames) - onsets[_nearest(onsets, frames)]  # (T,) frames since nearest onset
    nearest_peak = peaks[_nearest(peaks, frames)]  # (T,)
    motion_phase = np.arange(frames) - nearest_peak  # (T,) frames since nearest velocity peak
    mismatch = np.abs(motion_phase[candidates] - audio_phase[picks][:, None])  # (P, W)
    strength = speed[nearest_peak[candidates]] / (speed.max() + 1e-9)  # (P, W) in [0, 1]
    return candidates[np.arange(len(picks)), (mismatch - 0.5 * strength).argmin(axis=1)]


def _tensor(array: np.ndarray | None) -> torch.Tensor | None:
    return None if array is None else torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


@torch.inference_mode()
def embed_pair(model: AuMoCLIP, pair: AudioMotionPair) -> tuple[np.ndarray, np.ndarray]:
    """Whole-sequence low-level embeddings: audio (T, D), motion (T, D) on the common frames."""
    text = None if pair.text is None else _tensor(pair.text[None])
    prosody = None if pair.prosody is None or not model.config.prosody_dim else _tensor(pair.prosody[None])
    audio_low, _ = model.embed_audio(_tensor(pair.audio[None]), text, prosody)
    motion_low, _ = model.embed_motion(_tensor(pair.motion[None]))
    frames = min(audio_low.shape[1], motion_low.shape[1])
    return audio_low[0, :frames].numpy(), motion_low[0, :frames].numpy()


@torch.inference_mode()
def clip_embeddings(model: AuMoCLIP, pair: AudioMotionPair, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """High-level (N, D) audio and motion embeddings of the clips starting at `starts`."""
    clip, samples = model.config.clip_frames, frame_to_sample(model.config.clip_frames)
    waves = np.stack([pair.audio[frame_to_sample(s):frame_to_sample(s) + samples] for s in starts.tolist()])
    motions = np.stack([pair.motion[s:s + clip] for s in starts.tolist()])
    texts = None if pair.text is None else np.stack([pair.text[s:s + clip] for s in starts.tolist()])
    prosody = None
    if pair.prosody is not None and model.config.prosody_dim:
        prosody = np.stack([pair.prosody[s:s + clip] for s in starts.tolist()])
    _, audio_high = model.embed_audio(_tensor(waves), _tensor(texts), _tensor(prosody))
    _, motion_high = model.embed_motion(_tensor(motions))
    return audio_high.numpy(), motion_high.numpy()


def high_level_accuracy(audio_high: np.ndarray, motion_high: np.ndarray, config: EvalConfig) -> tuple[float, int]:
    """audio_high, motion_high (N, D), row n of each from the same clip -> (accuracy, candidates per query)."""
    clips = audio_high.shape[0]
    similarity = audio_high @ motion_high.T  # (N, N)
    if clips <= config.max_candidates:
        return float(np.mean(similarity.argmax(axis=1) == np.arange(clips))), clips
    rng = np.random.default_rng(config.seed)
    negatives = np.argsort(rng.random((clips, clips)) + np.eye(clips), axis=1)[:, : config.max_candidates - 1]
    true_score = similarity[np.arange(clips), np.arange(clips)]  # (N,)
    best_negative = np.take_along_axis(similarity, negatives, axis=1).max(axis=1)
    return float(np.mean(true_score > best_negative)), config.max_candidates


def evaluate(model: AuMoCLIP, pair: AudioMotionPair, config: EvalConfig = EvalConfig(),
             with_onset_baseline: bool = True) -> dict:
    """Low/high-level accuracies of `model` on `pair` (held-out), with random and onset baselines."""
    model.eval()
    audio_low, motion_low = embed_pair(model, pair)
    picks = draw_picks(audio_low.shape[0], config)
    low_acc = hit_rate(low_level_choices(audio_low, motion_low, picks, config), picks, config)
    starts = window_starts(pair.frames, model.config.clip_frames, max(1, int(round(config.clip_stride_s * FPS))))
    if starts.size == 0:
        raise InvalidArgument(f"held-out pair lasts {pair.duration_s:.2f} s, shorter than one clip",
                              reason="AUDIO_TOO_SHORT")
    high_acc, candidates = high_level_accuracy(*clip_embeddings(model, pair, starts), config)
    result = {"low_acc": low_acc, "high_acc": high_acc, "low_random": random_low_accuracy(config),
              "high_random": 1.0 / candidates, "high_candidates": candidates, "picks": int(config.picks),
              "seed": int(config.seed), "frames": int(audio_low.shape[0])}
    if with_onset_baseline:
        choices = onset_baseline_choices(pair.audio, pair.motion[: audio_low.shape[0]], picks, config)
        result["onset_low_acc"] = hit_rate(choices, picks, config)
    return result

"""AuMoCLIP features through Triton: node motion embeddings of a graph and the target audio's features.

Node motion: the nodes of each video, in frame order, are concatenated into one motion sequence and
embedded in 4 s windows hopped by `hop` frames; a frame's low-level feature is the mean over the windows
that cover it, a node's high-level feature is that of the window whose centre is nearest the node's.
Audio: the same windows over the waveform.
"""
from __future__ import annotations

import numpy as np

from tango.retrieval.features import HIGH_WINDOW_FRAMES, step_features
from tango.retrieval.inputs import FRAMES_PER_STEP, TargetFeatures
from tango.triton.client import TritonClient

SAMPLE_RATE = 16_000
FPS = 30


def window_starts(frames: int, window: int, hop: int) -> np.ndarray:
    """Start frames of windows covering [0, frames) (the last window ends at the end)."""
    if frames <= window:
        return np.zeros(1, dtype=np.int64)
    starts = np.arange(0, frames - window + 1, hop)
    if starts[-1] != frames - window:
        starts = np.append(starts, frames - window)
    return starts


def embed_sequence(embed, sequence: np.ndarray, frames: int, hop: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs `embed(window) -> (low (w, D), high (D,))` over windows of a sequence of `frames` frames.

    `sequence` is indexed by frame on axis 0 for motion, or by sample for audio (`embed` slices).
    Returns per-frame low (frames, D), per-window high (W, D), window starts (W,).
    """
    starts = window_starts(frames, HIGH_WINDOW_FRAMES, hop)
    low_sum, counts, highs = None, np.zeros(frames, dtype=np.float32), []
    for start in starts:
        stop = min(start + HIGH_WINDOW_FRAMES, frames)
        low, high = embed(sequence, int(start), int(stop))
        low = low[: stop - start]
        if low.shape[0] < stop - start:  # audio a few samples short of the window's last frame: repeat the last
            low = np.concatenate([low, np.repeat(low[-1:], stop - start - low.shape[0], axis=0)])
        if low_sum is None:
            low_sum = np.zeros((frames, low.shape[1]), dtype=np.float32)
        low_sum[start:start + low.shape[0]] += low
        counts[start:start + low.shape[0]] += 1
        highs.append(high)
    low_mean = low_sum / np.maximum(counts, 1)[:, None]
    return low_mean, np.stack(highs), starts


def embed_graph_nodes(client: TritonClient, checkpoint: str, motion: np.ndarray, node_video: np.ndarray,
                      node_start_frame: np.ndarray, hop: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, 4, J, C) node motion -> motion_low (N, 4, D), motion_high (N, D)."""
    nodes = motion.shape[0]
    motion_low, motion_high = None, None
    for video in np.unique(node_video):
        order = np.flatnonzero(node_video == video)
        order = order[np.argsort(node_start_frame[order], kind="stable")]
        sequence = motion[order].reshape(-1, *motion.shape[2:])  # (n*4, J, C)

        def embed(seq, start, stop):
            return client.embed_motion(seq[start:stop], checkpoint=checkpoint)

        low, high, starts = embed_sequence(embed, sequence, sequence.shape[0], hop)
        if motion_low is None:
            motion_low = np.zeros((nodes, FRAMES_PER_STEP, low.shape[1]), dtype=np.float32)
            motion_high = np.zeros((nodes, low.shape[1]), dtype=np.float32)
        motion_low[order] = low.reshape(len(order), FRAMES_PER_STEP, -1)
        centres = np.arange(len(order)) * FRAMES_PER_STEP + 1.5
        nearest = np.abs(centres[:, None] - (starts[None, :] + (HIGH_WINDOW_FRAMES - 1) / 2)).argmin(axis=1)
        motion_high[order] = high[nearest]
    return _unit(motion_low), _unit(motion_high)


def audio_features(client: TritonClient, checkpoint: str, waveform: np.ndarray, hop: int) -> TargetFeatures:
    """(S,) 16 kHz waveform -> per-step target features."""
    frames = max(int(round(len(waveform) * FPS / SAMPLE_RATE)), 1)

    def embed(wave, start, stop):
        return client.embed_audio(wave[start * SAMPLE_RATE // FPS: stop * SAMPLE_RATE // FPS], checkpoint=checkpoint)

    low, high, _ = embed_sequence(embed, waveform, frames, hop)
    return step_features(low, high, hop, waveform=waveform, sample_rate=SAMPLE_RATE, fps=FPS)


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-8)).astype(np.float32)

"""Per-step audio features and input validation for the searches.

The audio tower gives low-level features per 30 fps frame and one high-level vector per 4 s window,
windows hopped by `high_hop_frames` (proto `AudioFeatures`). A search step covers 4 frames, so:
- `audio_low` (T*4, D): the frames, the last one repeated to fill the final step (T = ceil(F / 4));
- `audio_high` (T, D): for each step, the window whose centre is nearest to the step's centre frame
  (with hop <= window length that window covers the step).
"""
from __future__ import annotations

import numpy as np

from tango.retrieval.energy import step_loudness
from tango.retrieval.inputs import FRAMES_PER_STEP, RetrievalGraph, TargetFeatures
from tango.runtime.errors import GraphTooSmall, InputMismatch, InvalidArgument

HIGH_WINDOW_FRAMES = 120  # 4 s at 30 fps


def step_features(
    frame_low: np.ndarray,  # (F, D) low-level audio features at 30 fps
    window_high: np.ndarray,  # (W, D) one high-level feature per window
    high_hop_frames: int,
    *,
    window_frames: int = HIGH_WINDOW_FRAMES,
    waveform: np.ndarray | None = None,
    sample_rate: int = 16_000,
    fps: float = 30.0,
) -> TargetFeatures:
    """Per-step features (T = ceil(F/4) steps) from per-frame low and per-window high features."""
    frame_low = np.asarray(frame_low, dtype=np.float32)
    window_high = np.asarray(window_high, dtype=np.float32)
    if frame_low.ndim != 2 or window_high.ndim != 2:
        raise InputMismatch("low features must be (frames, D) and high features (windows, D)")
    if frame_low.shape[0] == 0 or window_high.shape[0] == 0:
        raise InvalidArgument("the target audio has no feature frames", reason="EMPTY_FEATURES")
    if frame_low.shape[1] != window_high.shape[1]:
        raise InputMismatch(f"low dim {frame_low.shape[1]} != high dim {window_high.shape[1]}")
    if high_hop_frames <= 0:
        raise InvalidArgument("high_hop_frames must be positive", reason="INVALID_HOP")
    steps = -(-frame_low.shape[0] // FRAMES_PER_STEP)
    padding = steps * FRAMES_PER_STEP - frame_low.shape[0]
    audio_low = np.concatenate([frame_low, np.repeat(frame_low[-1:], padding, axis=0)])  # (T*4, D)
    step_centre = np.arange(steps) * FRAMES_PER_STEP + (FRAMES_PER_STEP - 1) / 2  # (T,)
    window = np.rint((step_centre - (window_frames - 1) / 2) / high_hop_frames).astype(np.int64)
    audio_high = window_high[np.clip(window, 0, window_high.shape[0] - 1)]  # (T, D)
    waveform = None if waveform is None else np.asarray(waveform, dtype=np.float32)
    return TargetFeatures(
        audio_low=_normalise(audio_low),
        audio_high=_normalise(audio_high),
        waveform=waveform,
        loudness=None if waveform is None or waveform.size == 0 else step_loudness(waveform, sample_rate, fps, steps),
        sample_rate=sample_rate,
        fps=fps,
    )


def validate_inputs(graph: RetrievalGraph, features: TargetFeatures) -> None:
    """Checks shapes, dimensions and finiteness of a search's inputs (before any allocation)."""
    _validate_graph(graph)
    steps = features.audio_high.shape[0] if features.audio_high.ndim == 2 else -1
    if steps == 0 or features.audio_low.shape[0] == 0:
        raise InvalidArgument("the target audio has no feature steps", reason="EMPTY_FEATURES")
    if features.audio_high.ndim != 2 or features.audio_low.shape != (steps * FRAMES_PER_STEP, features.dim):
        raise InputMismatch(
            f"audio_low {features.audio_low.shape} must be (4 * T, D) for audio_high {features.audio_high.shape}"
        )
    if features.dim != graph.dim:
        raise InputMismatch(f"audio feature dim {features.dim} != motion feature dim {graph.dim}")
    if not (np.isfinite(features.audio_low).all() and np.isfinite(features.audio_high).all()):
        raise InvalidArgument("audio features contain NaN or inf", reason="NON_FINITE_FEATURES")
    if features.loudness is not None and features.loudness.shape != (steps,):
        raise InputMismatch(f"loudness {features.loudness.shape} must be one value per step ({steps})")


def _validate_graph(graph: RetrievalGraph) -> None:
    nodes, edges = graph.num_nodes, graph.num_edges
    if nodes <= 0:
        raise GraphTooSmall("the graph has no nodes")
    if graph.edge_continue.shape != (edges,) or graph.edge_cost.shape != (edges,):
        raise InputMismatch("edge_continue and edge_cost must have one entry per edge")
    if graph.indptr[0] != 0 or graph.indptr[-1] != edges or np.any(np.diff(graph.indptr) < 0):
        raise InputMismatch("indptr is not a CSR row pointer over the edges")
    if edges and (graph.indices.min() < 0 or graph.indices.max() >= nodes):
        raise InputMismatch("an edge target is outside the node range")
    dim = graph.motion_high.shape[-1]
    if graph.motion_high.shape != (nodes, dim) or graph.motion_low.shape != (nodes, FRAMES_PER_STEP, dim):
        raise InputMismatch(
            f"motion_low {graph.motion_low.shape} / motion_high {graph.motion_high.shape} do not match "
            f"{nodes} nodes of {FRAMES_PER_STEP} frames"
        )
    if not (np.isfinite(graph.motion_low).all() and np.isfinite(graph.motion_high).all()):
        raise InvalidArgument("motion features contain NaN or inf", reason="NON_FINITE_FEATURES")


def _normalise(array: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(array, axis=-1, keepdims=True)
    return (array / np.maximum(norm, 1e-12)).astype(np.float32)

"""Baseline retrievals: GVR-style onset matching and a uniform random walk.

Both walk forwards one step at a time (a loop over steps; each step is vectorised over the current
node's out-edges), honour the same constraints as the DP through the backward feasibility mask, and are
scored with the shared objective (`scoring.evaluate_path`) so every mode's figures are comparable.

Onset rule (after GVR, Zhou et al. 2022: motion beats should land on audio onsets):
- audio onsets: `librosa.onset.onset_detect` on the waveform, converted to 30 fps frames; a step "has
  an onset" at offset o in 0..3 when its first onset falls on frame 4t + o;
- motion peaks: per node the speed of each of its 4 frames (mean over joints of |velocity|, channels
  3:6); its peak frame is the arg-max and its peak strength max - mean; a node is "peaky" when its
  strength is at least the median strength of the graph;
- at a step with an onset at o, the next node is chosen among the current node's allowed successors by,
  in order: (1) peaky with |peak frame - o| <= tolerance, (2) the continue edge, (3) the strongest peak
  if (1) holds, else the peak frame nearest to o;
- at a step without onset: (1) the continue edge, (2) the calmest node (lowest peak strength), (3) the
  cheapest edge (lowest d_ij). So the walk follows the source video and jumps only to put a velocity
  peak on an onset (or where the source video ends).
The first node is chosen the same way among all allowed nodes (with no continue edge); ties are
broken by a seeded random order.
"""
from __future__ import annotations

import time

import numpy as np

from tango.retrieval.constraints import StepConstraints, feasibility_if_needed
from tango.retrieval.inputs import FRAMES_PER_STEP, RetrievalGraph, TargetFeatures, node_speed
from tango.retrieval.memory import check_memory_bound, estimate_memory_bytes
from tango.retrieval.options import SearchOptions
from tango.retrieval.result import SearchResult
from tango.retrieval.scoring import evaluate_path
from tango.runtime.errors import InputMismatch, InvalidArgument

def audio_onset_frames(waveform: np.ndarray, sample_rate: int, fps: float) -> np.ndarray:
    """(K,) int64 sorted frame indices (at `fps`) of the audio onsets found by librosa."""
    import librosa

    times = librosa.onset.onset_detect(y=np.asarray(waveform, dtype=np.float32), sr=sample_rate, units="time")
    return np.unique(np.rint(np.asarray(times) * fps).astype(np.int64))


def step_onset_offsets(onset_frames: np.ndarray, steps: int) -> np.ndarray:
    """(T,) int64: frame offset 0..3 of the first onset inside each step, -1 for steps without one."""
    offsets = np.full(steps, -1, dtype=np.int64)
    frames = onset_frames[(onset_frames >= 0) & (onset_frames < steps * FRAMES_PER_STEP)]
    step_of = frames // FRAMES_PER_STEP
    unique_steps, first = np.unique(step_of, return_index=True)  # frames are sorted: first = earliest
    offsets[unique_steps] = frames[first] % FRAMES_PER_STEP
    return offsets


def node_velocity_peaks(motion: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Peak frame (N,) int64 and peak strength (N,) float64 of each node's speed profile."""
    speed = node_speed(motion)
    return speed.argmax(axis=1), speed.max(axis=1) - speed.mean(axis=1)


def search_onset(
    graph: RetrievalGraph,
    features: TargetFeatures,
    options: SearchOptions,
    onset_frames: np.ndarray | None = None,
) -> SearchResult:
    """GVR-style onset matching (rule in the module docstring). `onset_frames` overrides detection."""
    started = time.perf_counter()
    if graph.motion is None:
        raise InputMismatch("onset matching needs the graph's motion representation")
    if onset_frames is None:
        if features.waveform is None or features.waveform.size == 0:
            raise InputMismatch("onset matching needs the target waveform")
        onset_frames = audio_onset_frames(features.waveform, features.sample_rate, features.fps)
    steps = features.steps
    offsets = step_onset_offsets(np.sort(np.asarray(onset_frames, dtype=np.int64)), steps)  # (T,)
    peak_frame, strength = node_velocity_peaks(graph.motion)
    peaky = strength >= np.median(strength)
    allowed, constraints = _walk_constraints(graph, options, steps, "onset")
    rng = np.random.default_rng(options.seed)
    tie_break = rng.permutation(graph.num_nodes)  # (N,) seeded random rank of each node
    path = np.empty(steps, dtype=np.int32)
    for step in range(steps):
        targets, is_continue, cost = _successors(graph, path[step - 1] if step else None, allowed, constraints, step)
        if offsets[step] >= 0:
            distance = np.abs(peak_frame[targets] - offsets[step])
            match = peaky[targets] & (distance <= options.onset_tolerance_frames)
            keys = (tie_break[targets], np.where(match, strength[targets], -distance), is_continue, match)
        else:
            keys = (tie_break[targets], -cost, -strength[targets], is_continue)
        path[step] = targets[np.lexsort(keys)[-1]]
    return evaluate_path(graph, features, options, path, mode="onset", search_seconds=time.perf_counter() - started)


def search_random(graph: RetrievalGraph, features: TargetFeatures, options: SearchOptions) -> SearchResult:
    """A uniform random walk (seeded by `options.seed`) over the allowed, feasible successors."""
    started = time.perf_counter()
    steps = features.steps
    allowed, constraints = _walk_constraints(graph, options, steps, "random")
    rng = np.random.default_rng(options.seed)
    path = np.empty(steps, dtype=np.int32)
    for step in range(steps):
        targets, _, _ = _successors(graph, path[step - 1] if step else None, allowed, constraints, step)
        path[step] = targets[rng.integers(targets.shape[0])]
    return evaluate_path(graph, features, options, path, mode="random", search_seconds=time.perf_counter() - started)


def _walk_constraints(
    graph: RetrievalGraph, options: SearchOptions, steps: int, mode: str
) -> tuple[np.ndarray | None, StepConstraints]:
    constraints = StepConstraints.resolve(graph, options, steps)
    estimate = estimate_memory_bytes(steps, graph.num_nodes, graph.num_edges, mode, constrained=True, dim=graph.dim)
    check_memory_bound(estimate, options.memory_bound_bytes, mode)
    return feasibility_if_needed(graph, constraints), constraints


def _successors(
    graph: RetrievalGraph,
    node: int | None,
    feasible: np.ndarray | None,  # (T, N) bool or None
    constraints: StepConstraints,
    step: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Allowed next nodes (K,), whether each is a continue edge (K,), and each edge's cost (K,)."""
    allowed = feasible[step] if feasible is not None else constraints.allowed(step)  # (N,)
    if node is None:
        targets = np.flatnonzero(allowed)
        is_continue, cost = np.zeros(targets.shape[0], dtype=bool), np.zeros(targets.shape[0])
    else:
        edges = np.arange(graph.indptr[node], graph.indptr[node + 1])
        edges = edges[allowed[graph.indices[edges]]]
        targets, is_continue, cost = graph.indices[edges], graph.edge_continue[edges], graph.edge_cost[edges]
    if targets.shape[0] == 0:
        raise InvalidArgument(f"the walk found no allowed successor at step {step}", reason="NO_FEASIBLE_PATH")
    return targets.astype(np.int32), is_continue, cost

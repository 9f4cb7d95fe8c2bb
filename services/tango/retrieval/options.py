"""Options of a path search and the constraints it honours (pins, avoided nodes, start node)."""
from __future__ import annotations

import dataclasses
import math

import numpy as np

SEARCH_MODES = ("dp", "beam", "onset", "random")


@dataclasses.dataclass(frozen=True)
class NodePin:
    """The path must be at `node` at `step`."""

    step: int
    node: int


@dataclasses.dataclass(frozen=True)
class SegmentPin:
    """The path plays the source segment [start_frame, end_frame) of `video` from `step` on: the nodes
    of that video whose first frame lies in the range, in frame order, are pinned to consecutive
    steps starting at `step`."""

    step: int
    video: int
    start_frame: int
    end_frame: int


@dataclasses.dataclass(frozen=True)
class StepChoice:
    """The path may occupy only `nodes` at `step` (an emphasis: the strong gestures)."""

    step: int
    nodes: tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class StepBonus:
    """Soft preferences of a search (script cues): `bonus[k, n]` is added to the score of node n at step
    `steps[k]` (negative where a node is discouraged). Steps are distinct and sorted."""

    steps: np.ndarray  # (K,) int64
    bonus: np.ndarray  # (K, N) float32

    def rows(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """The steps in [start, stop) (offsets from start) and their bonus rows."""
        inside = (self.steps >= start) & (self.steps < stop)
        return self.steps[inside] - start, self.bonus[inside]

    def of_path(self, path: np.ndarray) -> float:
        """The bonus a path collects (steps past its end ignored)."""
        inside = self.steps < path.shape[0]
        return float(self.bonus[inside, path[self.steps[inside]]].sum())


@dataclasses.dataclass(frozen=True)
class SearchOptions:
    mode: str = "dp"  # one of SEARCH_MODES
    low_weight: float = 1.0  # w_low: weight of the mean per-frame low-level cosine similarity
    high_weight: float = 1.0  # w_high: weight of the per-step high-level cosine similarity
    jump_penalty: float = 0.2  # w_jump: subtracted for each step entered through a non-continue edge
    # w_edge_cost: times the jump's drawing difficulty, subtracted for each jump taken. 0.25 measured on the
    # 22 s speaker over the six shared tracks (jump penalty 1.0): mean similarity -1.6 %, mean difficulty of
    # the chosen jumps -3.3 %, jumps 103 -> 91 (0.5: -2.5 % / -4.2 %; 0.1: -0.4 % / -1.0 %)
    edge_cost_weight: float = 0.25
    # w_energy: loudness following (`tango.retrieval.energy`, where the self-reenactment that chose it is)
    energy_weight: float = 0.2
    turn_scale_deg: float = 20.0  # a head turn of this many degrees adds 1 to a jump's difficulty
    revisit_penalty: float = 0.5  # subtracted for each step whose node already occurs in the last window
    revisit_window: int = 8  # R: a revisit is a node seen in the R previous steps of the path (0 = off)
    beam_width: int = 64  # beam mode: states kept per step
    beam_distinct_nodes: bool = True  # beam mode: keep at most one state per node (recombination)
    start_node: int | None = None  # fixed start node; None = free start
    avoid_nodes: tuple[int, ...] = ()
    pins: tuple[NodePin, ...] = ()
    segment_pins: tuple[SegmentPin, ...] = ()
    choices: tuple[StepChoice, ...] = ()  # steps restricted to a set of nodes (script cues: emphasis, rest)
    bonus: StepBonus | None = None  # soft per-step preferences (script cues: emphasis, rest); None = none
    seed: int = 0  # random mode (and tie-free reproducibility of the baselines)
    onset_tolerance_frames: int = 2  # onset mode: a velocity peak this close to an onset is "on the beat"
    score_chunk_steps: int = 128  # steps of the (steps, N) similarity matrix computed at once
    memory_bound_bytes: int = 6 * 1024**3  # refuse (MemoryBoundExceeded) searches estimated above this


def validate_options(options: SearchOptions) -> None:
    """Raises InvalidArgument for an unknown mode or out-of-range numeric options."""
    from tango.runtime.errors import InvalidArgument

    if options.mode not in SEARCH_MODES:
        raise InvalidArgument(
            f"unknown search mode {options.mode!r}; expected one of {', '.join(SEARCH_MODES)}",
            reason="UNKNOWN_SEARCH_MODE",
        )
    checks = {
        "beam_width": options.beam_width >= 1,
        "revisit_window": options.revisit_window >= 0,
        "score_chunk_steps": options.score_chunk_steps >= 1,
        "onset_tolerance_frames": options.onset_tolerance_frames >= 0,
        "memory_bound_bytes": options.memory_bound_bytes > 0,
        "turn_scale_deg": math.isfinite(options.turn_scale_deg) and options.turn_scale_deg > 0,
        "edge_cost_weight": math.isfinite(options.edge_cost_weight) and options.edge_cost_weight >= 0,
        **{name: math.isfinite(getattr(options, name))
           for name in ("low_weight", "high_weight", "jump_penalty", "revisit_penalty", "energy_weight")},
    }
    bad = [name for name, ok in checks.items() if not ok]
    if bad:
        raise InvalidArgument(f"search option {bad[0]} out of range", reason="INVALID_SEARCH_OPTION")

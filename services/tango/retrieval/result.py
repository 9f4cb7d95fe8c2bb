"""The result of a path search, the same for every mode so that modes are comparable."""
from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class SearchResult:
    path: np.ndarray  # (T,) int32 node per 4-frame step
    jump: np.ndarray  # (T,) bool step t entered through a non-continue edge (False at t=0)
    revisit: np.ndarray  # (T,) bool path[t] occurs in path[t-R:t]
    step_similarity: np.ndarray  # (T,) float64 w_low*low + w_high*high at each step
    similarity_sum: float  # sum of step_similarity
    jump_count: int
    revisit_count: int
    edge_cost_sum: float  # sum of the difficulty (d_ij + head turn / turn_scale_deg) of the jumps taken
    cost: float  # -(similarity_sum - w_jump*jumps - w_edge_cost*edge_cost_sum - w_revisit*revisits)
    search_seconds: float
    mode: str
    jump_difficulty: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))  # (J,) per jump step
    typical_jump_difficulty: float = 0.0  # median difficulty over the graph's jump edges

    @property
    def steps(self) -> int:
        return int(self.path.shape[0])

    @property
    def similarity(self) -> float:
        """Mean per-step similarity."""
        return self.similarity_sum / max(self.steps, 1)

    @property
    def objective(self) -> float:
        """What the search maximises: -cost."""
        return -self.cost

    @property
    def jump_steps(self) -> np.ndarray:
        """(J,) int32 steps entered through a jump edge (they need generated transition frames)."""
        return np.flatnonzero(self.jump).astype(np.int32)

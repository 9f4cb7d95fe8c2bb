"""Memory estimates of the search modes, checked BEFORE anything large is allocated."""
from __future__ import annotations

from tango.runtime.errors import MemoryBoundExceeded

_F64, _I64, _F32, _I32, _BOOL = 8, 8, 4, 4, 1


def estimate_memory_bytes(
    steps: int,
    nodes: int,
    edges: int,
    mode: str,
    *,
    revisit_window: int = 8,
    beam_width: int = 64,
    score_chunk_steps: int = 128,
    constrained: bool = False,
    max_degree: int | None = None,
    dim: int = 64,
) -> int:
    """Upper estimate of the peak working memory (bytes) of one search, inputs excluded.

    dp:     back-pointers (T, N) int32 + a (chunk, N) float32 score block + per-step edge temporaries
            (candidates, maxima, winners, the (E, R) recent-node gather) + static dst-sorted edge arrays.
    beam:   (T, B) parent + node int32 + per-step candidates (at most min(E, B * max degree); without
            `max_degree` four times the mean degree is assumed) +
            the score block + the (T, N) bool feasibility mask when constrained.
    onset, random: the (T, N) bool feasibility mask when constrained + edge lookups.
    All modes: the final evaluation of the path (edge lookup keys (E,) and the (T, 4*D) feature gather).
    """
    window = max(revisit_window, 0)
    chunk = max(1, min(score_chunk_steps, steps))
    score_block = 3 * chunk * nodes * _F32 + nodes * _F64  # the block and its two matmul temporaries
    feasibility = steps * nodes * _BOOL if constrained else 0
    static_edges = edges * (2 * _I32 + _F64 + _I64 + _I64)  # sources, targets, penalty, order, rank
    evaluation = edges * 3 * _I64 + steps * (5 * dim * _F32 + 8 * _F64)
    if mode == "dp":
        per_step_edges = edges * (4 * _F64 + _I64 + 2 * _BOOL + window * (_I32 + _BOOL))
        state = 2 * nodes * (_F64 + window * _I32 + _I32)
        return steps * nodes * _I32 + score_block + static_edges + max(per_step_edges + state, evaluation)
    if mode == "beam":
        degree = max_degree if max_degree is not None else 4 * max(1, -(-edges // max(nodes, 1)))
        candidates = min(edges, beam_width * degree)
        per_step = candidates * (4 * _F64 + 3 * _I64 + window * (_I32 + _BOOL))
        trace = steps * beam_width * 2 * _I32
        return trace + max(per_step, evaluation) + score_block + static_edges + feasibility
    return feasibility + static_edges + evaluation


def check_memory_bound(estimate_bytes: int, bound_bytes: int, mode: str) -> None:
    """Raises MemoryBoundExceeded (RESOURCE_EXHAUSTED) when the estimate is above the bound."""
    if estimate_bytes > bound_bytes:
        raise MemoryBoundExceeded(
            f"{mode} search needs about {estimate_bytes / 2**20:.0f} MiB, above the bound of "
            f"{bound_bytes / 2**20:.0f} MiB; shorten the audio or raise the bound",
            metadata={"estimate_bytes": estimate_bytes, "bound_bytes": bound_bytes, "mode": mode},
        )

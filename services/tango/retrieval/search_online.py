"""Online DP: the search of search_dp run incrementally over streamed audio, with a fixed look-ahead.

Same recursion and objective as `search_dp` (jump penalty, edge-cost weight times the jump's difficulty,
revisit penalty over the last R nodes of each state's best path, loudness following):
    V_t(v) = s(t, v) + e(t, v) + max over edges e = (u -> v) of [ V_{t-1}(u) - pen(e) - w_revisit * rev(e, t) ]
Features arrive k steps at a time (`push`); each new step is ONE vectorised relaxation (`_relax`). A step c
is committed once it is more than `lookahead_steps` behind the newest step t (t - c > L): the path is
backtracked from the best state at t down to the oldest uncommitted step and its first nodes are handed out.
A committed step is never revised.

Constraint after committing (c, v) — exact re-relaxation: the DP state is rebuilt as if V_c were -inf
everywhere but v (whose revisit history is the committed prefix's last R nodes), and the uncommitted
steps c+1..t are relaxed again from their kept similarity rows. The state at t is then exactly what
`search_dp` would compute on the graph with every committed step pinned. (The cheaper alternative, dropping
the states at t that do not descend from (c, v), is exact only without the revisit penalty: with it, a
dropped intermediate state can carry a shorter revisit history than the one that beat it.) One commit
costs L + 1 relaxations, shared by all the steps committed in that push; at most one rebuild per push.

With L >= the stream's length nothing is committed before `finish`, no rebuild happens and the path is the
offline `search_dp` path (same relaxations, same tie-breaks) for the same features and the same loudness.

Loudness following (`tango.retrieval.energy`): `push(low, high, loudness)` takes the new steps' loudness L_t
already standardised and adds e(t, n) = w_energy * L_t * E_n to their score rows (`similarity_block`), as
offline; pushes without it (None) score those steps without the term (L_t = 0). Given the offline loudness
(`TargetFeatures.loudness`) the online search is search_dp. The live loudness (`live_session`) differs from
the offline one in two ways, both because a stream's future is unknown: its window ends at the step's end
instead of being centred on it (it trails by ~0.18 s) and it is standardised by the running mean and spread of
the steps heard so far, not over the whole target, with the term off during a 2 s warm-up. The committed steps
report their term (`CommittedStep.energy`) and the stats its sum, in the objective as in search_dp's.

Constraints: `start_node` and `avoid_nodes` are honoured; node and segment pins (absolute steps of a
finite target) are refused (INVALID_ARGUMENT, PINS_NOT_SUPPORTED_ONLINE). A committed prefix can lead
into a dead end the offline DP would have avoided (avoided nodes, dead-end nodes): `push` then raises
NO_FEASIBLE_PATH and the stream cannot continue.

Memory: back-pointers, similarity rows, features and loudness of the uncommitted window only ((L + k) x N), the
state (V_t, the (R, N) revisit histories) and the committed prefix's last R nodes: bounded for any stream.
"""
from __future__ import annotations

import collections
import dataclasses

import numpy as np

from tango.retrieval.constraints import StepConstraints
from tango.retrieval.features import validate_inputs
from tango.retrieval.inputs import FRAMES_PER_STEP, RetrievalGraph, TargetFeatures
from tango.retrieval.options import SearchOptions, validate_options
from tango.retrieval.scoring import edge_difficulty, path_similarity, similarity_block, typical_jump_difficulty
from tango.retrieval.search_dp import IncomingEdges, _relax
from tango.runtime.errors import FailedPrecondition, InputMismatch, InvalidArgument


@dataclasses.dataclass(frozen=True)
class CommittedStep:
    """One step of the path, final once handed out."""

    step: int  # absolute step index (4 frames each) from the start of the stream
    node: int  # graph node played at this step
    jump: bool  # entered through a non-continue edge (False at step 0)
    difficulty: float  # drawing difficulty of that jump (scoring.edge_difficulty), 0 for continue edges
    similarity: float  # s(step, node) = w_low * low cosine + w_high * high cosine
    revisit: bool = False  # node occurs among the revisit_window previous steps of the path
    energy: float = 0.0  # e(step, node) = w_energy * L_step * E_node, the loudness term (0 without loudness)


@dataclasses.dataclass(frozen=True)
class OnlineStats:
    """Running totals over the committed steps (the objective of search_dp's SearchResult, so far)."""

    steps: int
    jumps: int
    revisits: int
    similarity_sum: float
    edge_cost_sum: float  # sum of the committed jumps' difficulties
    # similarity_sum + energy_sum - w_jump * jumps - w_edge_cost * edge_cost_sum - w_revisit * revisits
    objective: float
    energy_sum: float = 0.0  # sum of the committed steps' loudness terms e(t, path[t])

    @property
    def mean_similarity(self) -> float:
        return self.similarity_sum / max(self.steps, 1)


class OnlineSearch:
    """push(audio_low (k*4, D), audio_high (k, D), loudness (k,) | None) -> newly committed steps;
    finish() -> the rest."""

    def __init__(self, graph: RetrievalGraph, options: SearchOptions, lookahead_steps: int):
        validate_options(options)
        if options.pins or options.segment_pins:
            raise InvalidArgument("node and segment pins need a finite target; the online search takes none",
                                  reason="PINS_NOT_SUPPORTED_ONLINE")
        if lookahead_steps < 0:
            raise InvalidArgument("lookahead_steps must be >= 0", reason="INVALID_LOOKAHEAD")
        dim = graph.dim
        validate_inputs(graph, TargetFeatures(np.zeros((FRAMES_PER_STEP, dim), np.float32),
                                              np.zeros((1, dim), np.float32)))  # the graph's own checks
        self.graph, self.options, self.lookahead_steps = graph, options, lookahead_steps
        self.typical_jump_difficulty = typical_jump_difficulty(graph, options)
        self._constraints = StepConstraints.resolve(graph, options, 1)  # start node (step 0) + avoided nodes
        self._edges = IncomingEdges.build(graph, options)
        self._difficulty = edge_difficulty(graph, options)  # (E,) in CSR order
        keys = graph.edge_sources().astype(np.int64) * graph.num_nodes + graph.indices  # (E,) source * N + target
        self._edge_order = np.argsort(keys, kind="stable")  # (E,) CSR edge ids by key
        self._edge_keys = keys[self._edge_order]  # (E,) sorted
        self._window = options.revisit_window if options.revisit_penalty != 0 else 0  # R of the DP histories
        nodes = graph.num_nodes
        self._values = np.full(nodes, -np.inf)  # (N,) V_t at the newest step
        self._recent = np.full((self._window, nodes), -1, dtype=np.int32)  # (R, N)
        # the uncommitted window, oldest first: steps self._committed .. self._steps - 1
        self._scores: collections.deque[np.ndarray] = collections.deque()  # (N,) float32 s(t, .)
        self._backpointers: collections.deque[np.ndarray] = collections.deque()  # (N,) int32 into step t-1
        self._low: collections.deque[np.ndarray] = collections.deque()  # (4, D) float32
        self._high: collections.deque[np.ndarray] = collections.deque()  # (D,) float32
        self._loudness: collections.deque[float] = collections.deque()  # L_t as float32 (0 where not given)
        self._follows = options.energy_weight != 0 and graph.node_energy is not None  # loudness given: the term
        self._history: collections.deque[int] = collections.deque(maxlen=max(options.revisit_window, 1))
        self._steps = 0  # steps pushed
        self._committed = 0  # steps committed
        self._finished = False
        self._totals = dict(jumps=0, revisits=0, similarity_sum=0.0, edge_cost_sum=0.0, energy_sum=0.0)

    # ---- the stream ----

    def push(self, audio_low: np.ndarray, audio_high: np.ndarray,
             loudness: np.ndarray | None = None) -> list[CommittedStep]:
        """Relaxes k new steps of unit-normalised features (and their standardised loudness, if given) and
        returns the steps this commits (maybe none)."""
        if self._finished:
            raise FailedPrecondition("the online search has finished", reason="STREAM_FINISHED")
        audio_low, audio_high, loudness = self._check(audio_low, audio_high, loudness)
        count = audio_high.shape[0]
        if count == 0:
            return []
        features = TargetFeatures(audio_low, audio_high, loudness=loudness)
        scores = similarity_block(self.graph, features, self.options, 0, count)
        kept = np.zeros(count, np.float32) if loudness is None else loudness
        for row in range(count):  # one vectorised relaxation per step
            self._advance(scores[row], audio_low[FRAMES_PER_STEP * row: FRAMES_PER_STEP * (row + 1)],
                          audio_high[row], float(kept[row]))
        return self._commit_until(self._steps - self.lookahead_steps - 2)  # newest - c > L

    def finish(self) -> list[CommittedStep]:
        """End of audio: commits every remaining step. The search accepts no more pushes."""
        if self._finished:
            return []
        committed = self._commit_until(self._steps - 1)
        self._finished = True
        return committed

    @property
    def steps_pushed(self) -> int:
        return self._steps

    @property
    def steps_committed(self) -> int:
        return self._committed

    @property
    def stats(self) -> OnlineStats:
        totals, options = self._totals, self.options
        objective = (totals["similarity_sum"] + totals["energy_sum"] - options.jump_penalty * totals["jumps"]
                     - options.edge_cost_weight * totals["edge_cost_sum"]
                     - options.revisit_penalty * totals["revisits"])
        return OnlineStats(steps=self._committed, objective=objective, **totals)

    # ---- the DP ----

    def _check(self, audio_low: np.ndarray, audio_high: np.ndarray,
               loudness: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        audio_low = np.asarray(audio_low, dtype=np.float32)
        audio_high = np.asarray(audio_high, dtype=np.float32)
        if audio_low.ndim != 2 or audio_high.ndim != 2 or audio_low.shape[0] != FRAMES_PER_STEP * audio_high.shape[0]:
            raise InputMismatch(f"audio_low {audio_low.shape} must be (4 * k, D) for audio_high {audio_high.shape}")
        if audio_high.shape[0] and (audio_low.shape[1] != self.graph.dim or audio_high.shape[1] != self.graph.dim):
            raise InputMismatch(f"audio feature dim {audio_high.shape[1]} != motion feature dim {self.graph.dim}")
        if not (np.isfinite(audio_low).all() and np.isfinite(audio_high).all()):
            raise InvalidArgument("audio features contain NaN or inf", reason="NON_FINITE_FEATURES")
        if loudness is not None:
            loudness = np.asarray(loudness, dtype=np.float32)
            if audio_high.ndim == 2 and loudness.shape != (audio_high.shape[0],):
                raise InputMismatch(f"loudness {loudness.shape} must be one value per step ({audio_high.shape[0]})")
            if not np.isfinite(loudness).all():
                raise InvalidArgument("loudness contains NaN or inf", reason="NON_FINITE_FEATURES")
        return audio_low, audio_high, loudness

    def _advance(self, step_scores: np.ndarray, low: np.ndarray, high: np.ndarray, loudness: float) -> None:
        """Relaxes one new step (the newest) and keeps what a later backtrack or rebuild needs."""
        step = self._steps
        if step == 0:
            values = step_scores.astype(np.float64)
            backpointer = np.full(values.shape[0], -1, dtype=np.int32)
            if self._window:
                self._recent[0] = np.arange(values.shape[0], dtype=np.int32)
        else:
            values, backpointer, self._recent = _relax(self._values, self._recent, self._edges, step_scores,
                                                       self.options)
        values[~self._constraints.allowed(step)] = -np.inf
        self._values = values
        self._scores.append(step_scores)
        self._backpointers.append(backpointer)
        self._low.append(low)
        self._high.append(high)
        self._loudness.append(loudness)
        self._steps += 1
        if not np.isfinite(values).any():
            self._finished = True
            raise InvalidArgument(f"no path continues the committed steps at step {step}",
                                  reason="NO_FEASIBLE_PATH")

    def _backtrack(self) -> np.ndarray:
        """(U,) int32 nodes of the uncommitted steps on the best path to the newest step."""
        path = np.empty(len(self._backpointers), dtype=np.int32)
        path[-1] = int(np.argmax(self._values))
        for row in range(path.shape[0] - 1, 0, -1):
            path[row - 1] = self._backpointers[row][path[row]]
        return path

    def _commit_until(self, last: int) -> list[CommittedStep]:
        """Commits steps self._committed..last (if any) and rebuilds the DP state through the last of them."""
        count = last + 1 - self._committed
        if count <= 0:
            return []
        nodes = self._backtrack()[:count]
        committed = self._describe(nodes)
        for _ in range(count):
            self._scores.popleft()
            self._backpointers.popleft()
            self._low.popleft()
            self._high.popleft()
            self._loudness.popleft()
        self._committed += count
        self._rebuild(int(nodes[-1]))
        return committed

    def _rebuild(self, node: int) -> None:
        """Re-relaxes the uncommitted steps from V = -inf everywhere but the last committed node."""
        values = np.full(self.graph.num_nodes, -np.inf)
        values[node] = 0.0  # a common offset of every surviving path: argmax and back-pointers unaffected
        recent = np.full_like(self._recent, -1)
        history = list(reversed(self._history))[: self._window]  # newest first: node, its predecessor, ...
        recent[: len(history), node] = history
        for row, step_scores in enumerate(self._scores):
            values, backpointer, recent = _relax(values, recent, self._edges, step_scores, self.options)
            values[~self._constraints.allowed(self._committed + row)] = -np.inf
            self._backpointers[row] = backpointer
        self._values, self._recent = values, recent
        if not np.isfinite(values).any():
            self._finished = True
            raise InvalidArgument(f"no path continues the committed steps at step {self._steps - 1}",
                                  reason="NO_FEASIBLE_PATH")

    def _describe(self, nodes: np.ndarray) -> list[CommittedStep]:
        """CommittedSteps for the next len(nodes) steps; updates the revisit history and running totals."""
        count, start = nodes.shape[0], self._committed
        low = np.concatenate(list(self._low)[:count])  # (k*4, D)
        high = np.stack(list(self._high)[:count])  # (k, D)
        similarity = path_similarity(self.graph, TargetFeatures(low, high), self.options, nodes)  # (k,)
        energy = (self.options.energy_weight * np.asarray(list(self._loudness)[:count], np.float64)
                  * self.graph.node_energy[nodes].astype(np.float64)) if self._follows else np.zeros(count)  # (k,)
        previous = np.concatenate([[self._history[-1] if self._history else -1], nodes[:-1]])  # (k,)
        edges = self._find_edges(previous, nodes)
        if np.any((edges < 0) & (previous >= 0)):  # cannot happen: back-pointers follow edges
            raise AssertionError("the online path left the graph")
        jump = (edges >= 0) & ~self.graph.edge_continue[np.maximum(edges, 0)]
        difficulty = np.where(jump, self._difficulty[np.maximum(edges, 0)], 0.0)
        committed = []
        for offset, node in enumerate(nodes.tolist()):
            revisit = self.options.revisit_window > 0 and node in self._history
            self._history.append(node)
            committed.append(CommittedStep(step=start + offset, node=node, jump=bool(jump[offset]),
                                           difficulty=float(difficulty[offset]),
                                           similarity=float(similarity[offset]), revisit=bool(revisit),
                                           energy=float(energy[offset])))
        self._totals["jumps"] += int(jump.sum())
        self._totals["revisits"] += sum(step.revisit for step in committed)
        self._totals["similarity_sum"] += float(similarity.sum())
        self._totals["edge_cost_sum"] += float(difficulty.sum())
        self._totals["energy_sum"] += float(energy.sum())
        return committed

    def _find_edges(self, sources: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """(k,) CSR edge id of each source -> target (-1 where absent or source < 0); keys sorted once."""
        keys = self._edge_keys
        query = sources.astype(np.int64) * self.graph.num_nodes + targets.astype(np.int64)  # (k,)
        if keys.shape[0] == 0:
            return np.full(query.shape, -1, dtype=np.int64)
        position = np.minimum(np.searchsorted(keys, query), keys.shape[0] - 1)
        return np.where((keys[position] == query) & (sources >= 0), self._edge_order[position], -1)

"""Per-step constraints of a search: fixed start node, pinned nodes/segments, steps restricted to a set of nodes
and avoided nodes.

`StepConstraints.resolve` validates the options against the graph and turns segment pins into node
pins; `allowed(t)` gives the (N,) mask of nodes a path may occupy at step t. `feasibility` computes,
backwards over the steps, which nodes can still complete a valid path from step t (used by the modes
that walk forwards without a full DP: beam, onset, random).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from tango.retrieval.inputs import RetrievalGraph
from tango.retrieval.options import SearchOptions, SegmentPin
from tango.runtime.errors import InvalidArgument


@dataclasses.dataclass(frozen=True)
class StepConstraints:
    num_nodes: int
    steps: int
    pinned: dict[int, int]  # step -> node (start node included as step 0)
    avoid: np.ndarray  # (N,) bool
    chosen: dict[int, np.ndarray] = dataclasses.field(default_factory=dict)  # step -> (N,) bool nodes it may take

    @property
    def active(self) -> bool:
        return bool(self.pinned) or bool(self.chosen) or bool(self.avoid.any())

    def allowed(self, step: int) -> np.ndarray:
        """(N,) bool nodes the path may occupy at `step`."""
        if step in self.pinned:
            mask = np.zeros(self.num_nodes, dtype=bool)
            mask[self.pinned[step]] = True
            return mask
        return self.chosen[step] & ~self.avoid if step in self.chosen else ~self.avoid

    @classmethod
    def resolve(cls, graph: RetrievalGraph, options: SearchOptions, steps: int) -> "StepConstraints":
        num_nodes = graph.num_nodes
        avoid = np.zeros(num_nodes, dtype=bool)
        avoid_nodes = np.asarray(options.avoid_nodes, dtype=np.int64)
        _check_nodes(avoid_nodes, num_nodes, "avoid node", "NODE_OUT_OF_RANGE")
        avoid[avoid_nodes] = True
        pinned: dict[int, int] = {}
        if options.start_node is not None:
            _check_nodes(np.array([options.start_node]), num_nodes, "start node", "START_NODE_OUT_OF_RANGE")
            pinned[0] = int(options.start_node)
        node_pins = [(pin.step, pin.node) for pin in options.pins]
        for segment in options.segment_pins:
            node_pins.extend(_segment_node_pins(graph, segment, steps))
        for step, node in node_pins:
            _add_pin(pinned, int(step), int(node), num_nodes, steps)
        conflicts = [step for step, node in pinned.items() if avoid[node]]
        if conflicts:
            raise InvalidArgument(
                f"node pinned at step {conflicts[0]} is also avoided", reason="CONFLICTING_CONSTRAINTS"
            )
        chosen = {}
        for choice in options.choices:
            nodes = np.asarray(choice.nodes, dtype=np.int64)
            _check_nodes(nodes, num_nodes, "chosen node", "NODE_OUT_OF_RANGE")
            if not 0 <= choice.step < steps:
                raise InvalidArgument(f"step {choice.step} outside 0..{steps - 1}", reason="PIN_STEP_OUT_OF_RANGE")
            chosen[int(choice.step)] = np.zeros(num_nodes, dtype=bool)
            chosen[int(choice.step)][nodes] = True
        return cls(num_nodes=num_nodes, steps=steps, pinned=pinned, avoid=avoid, chosen=chosen)


def feasibility(graph: RetrievalGraph, constraints: StepConstraints) -> np.ndarray:
    """(T, N) bool: node n at step t is allowed and some valid continuation reaches the last step.

    One vectorised pass over all E edges per step (backwards). Raises InvalidArgument
    (NO_FEASIBLE_PATH) when no node is feasible at step 0.
    """
    sources = graph.edge_sources()  # (E,)
    feasible = np.zeros((constraints.steps, constraints.num_nodes), dtype=bool)
    feasible[-1] = constraints.allowed(constraints.steps - 1)
    for step in range(constraints.steps - 2, -1, -1):
        edge_ok = feasible[step + 1][graph.indices]  # (E,) target feasible at step+1
        has_successor = np.bincount(sources[edge_ok], minlength=constraints.num_nodes) > 0
        feasible[step] = has_successor & constraints.allowed(step)
    if not feasible[0].any():
        raise InvalidArgument("no path satisfies the pins and avoided nodes", reason="NO_FEASIBLE_PATH")
    return feasible


def feasibility_if_needed(graph: RetrievalGraph, constraints: StepConstraints) -> np.ndarray | None:
    """The (T, N) feasibility mask when pins, avoided nodes or dead-end nodes can block a forward walk;
    None when every allowed node can continue forever (a pruned graph without constraints)."""
    dead_ends = bool((np.diff(graph.indptr) == 0).any())
    return feasibility(graph, constraints) if constraints.active or dead_ends else None


def _segment_node_pins(graph: RetrievalGraph, segment: SegmentPin, steps: int) -> list[tuple[int, int]]:
    """Node pins for a source segment: its nodes in frame order on consecutive steps (cut at T)."""
    if graph.node_video is None or graph.node_start_frame is None:
        raise InvalidArgument("segment pins need node_video and node_start_frame", reason="INPUT_MISMATCH")
    in_segment = (
        (graph.node_video == segment.video)
        & (graph.node_start_frame >= segment.start_frame)
        & (graph.node_start_frame < segment.end_frame)
    )
    nodes = np.flatnonzero(in_segment)
    if nodes.size == 0:
        raise InvalidArgument(
            f"no graph node in video {segment.video} frames [{segment.start_frame}, {segment.end_frame})",
            reason="SEGMENT_NOT_IN_GRAPH",
        )
    nodes = nodes[np.argsort(graph.node_start_frame[nodes], kind="stable")]
    return [(segment.step + offset, int(node)) for offset, node in enumerate(nodes) if segment.step + offset < steps]


def _add_pin(pinned: dict[int, int], step: int, node: int, num_nodes: int, steps: int) -> None:
    if not 0 <= step < steps:
        raise InvalidArgument(f"pin step {step} outside 0..{steps - 1}", reason="PIN_STEP_OUT_OF_RANGE")
    _check_nodes(np.array([node]), num_nodes, "pinned node", "NODE_OUT_OF_RANGE")
    if pinned.get(step, node) != node:
        raise InvalidArgument(f"two different nodes pinned at step {step}", reason="CONFLICTING_CONSTRAINTS")
    pinned[step] = node


def _check_nodes(nodes: np.ndarray, num_nodes: int, what: str, reason: str) -> None:
    bad = nodes[(nodes < 0) | (nodes >= num_nodes)]
    if bad.size:
        raise InvalidArgument(f"{what} {int(bad[0])} outside 0..{num_nodes - 1}", reason=reason)

"""Script cues: a producer's directions turned into a search's pins, avoided nodes and soft preferences, and the
judgement of how the chosen path honoured each.

A cue's anchor is a word of the target transcript (its K-th occurrence) or a time; it lands on the step holding
its first frame (30 fps, 4 frames a step) at frame offset o in that step. With e_n the motion energy of node n
(the peak speed of its 4 frames) and m the median energy over the graph:
- emphasis: the anchor's step may hold only strong gestures (e_n >= 2m, where any node is that strong) and adds
  w_emphasis * min(e_n / m, 3) * (1 if |peak_n - o| <= 1 else 1/2)  to their scores, so the strongest whose
  velocity peak falls on the word is preferred;
- rest [a, b): every step of it may hold only calm nodes (e_n <= m) and subtracts  w_rest * min(e_n / m, 3);
- gesture: the tagged reference span's nodes are pinned on consecutive steps (a segment pin) placed so that the
  span's stroke, its fastest frame, lands on the anchor's step; a span that cannot fit there is refused;
- avoid: the nodes of a reference span (and of the speaker's avoid tags) are never used.
Judged on the path: an emphasis is honoured when the energy of the node there is at least 1.5x the median energy
of the path's nodes; a gesture when its stroke lies within one step of its word; a rest when the mean energy
over its steps is at most the path's median; an avoid when no frame of its span is shown. An emphasis or a rest
the path misses is searched again (at most REPAIRS times) with its floor or ceiling set to what would have passed
against that path's median, 10 % to spare (`CuePlan.tightened`).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from tango.aumoclip.transcript import Word
from tango.retrieval.inputs import FRAMES_PER_STEP, RetrievalGraph, node_speed
from tango.retrieval.options import NodePin, SearchOptions, StepBonus, StepChoice
from tango.retrieval.scoring import find_edges
from tango.runtime.errors import InvalidArgument, InputMismatch
from tango.speech.phones import transcript_words

ENERGY_CAP = 3.0  # a node's energy counts up to this many times the median
STRONG = 2.0  # a strong gesture: a node whose energy is at least this many times the median
CALM = 1.0  # a calm node: energy at most this many times the median
REPAIR_MARGIN = 1.1  # a missed emphasis (rest) is searched again with nodes 10 % past what would have passed
REPAIRS = 2  # searches again at most
EMPHASIS_RATIO = 1.5  # an emphasis is honoured at this many times the path's median energy
GESTURE_TOLERANCE_STEPS = 1


@dataclasses.dataclass(frozen=True)
class Anchor:
    """A word of the target transcript (its `occurrence`-th, from 1; 0 = the first) or, without one, a time."""

    word: str = ""
    occurrence: int = 0
    time_s: float = 0.0

    @property
    def label(self) -> str:
        return self.word if self.word else f"{self.time_s:.2f} s"


@dataclasses.dataclass(frozen=True)
class Span:
    """Seconds [start_s, end_s) of reference video `reference`."""

    reference: int
    start_s: float
    end_s: float


@dataclasses.dataclass(frozen=True)
class GestureCue:
    at: Anchor
    name: str
    span: Span


@dataclasses.dataclass(frozen=True)
class Cues:
    emphasis: tuple[Anchor, ...] = ()
    gesture: tuple[GestureCue, ...] = ()
    rest: tuple[tuple[float, float], ...] = ()  # target seconds [a, b)
    avoid: tuple[Span, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.emphasis or self.gesture or self.rest or self.avoid)

    @property
    def needs_words(self) -> bool:
        return any(a.word for a in self.emphasis) or any(g.at.word for g in self.gesture)


@dataclasses.dataclass(frozen=True)
class CueWeights:
    emphasis: float = 1.0  # w_emphasis
    rest: float = 0.5  # w_rest


@dataclasses.dataclass(frozen=True)
class Outcome:
    kind: str  # emphasis | gesture | rest | avoid
    label: str
    requested_s: float
    placed_s: float
    honoured: bool
    measure: float


@dataclasses.dataclass(frozen=True)
class _Placed:
    """A resolved cue: its label, the asked target time and the step (and frame in it) it lands on."""

    label: str
    requested_s: float
    step: int
    offset: int


@dataclasses.dataclass(frozen=True)
class CuePlan:
    """Cues resolved against a graph and a target of `steps` steps: what the search must honour and how to judge it."""

    fps: float
    emphasis: tuple[_Placed, ...]
    gestures: tuple[tuple[_Placed, int, np.ndarray], ...]  # (word, first pinned step, the span's nodes in order)
    rests: tuple[tuple[_Placed, int], ...]  # (start, end step exclusive)
    avoids: tuple[tuple[Span, np.ndarray], ...]  # (span, its nodes)
    relative: np.ndarray  # (N,) each node's energy over the graph's median
    peak: np.ndarray  # (N,) the frame of each node's velocity peak (0..3)
    floors: tuple[float, ...]  # per emphasis: the relative energy its step's nodes need (STRONG at first)
    ceilings: tuple[float, ...]  # per rest: the relative energy its steps' nodes may not pass (CALM at first)
    bonus: StepBonus | None

    def apply(self, options: SearchOptions) -> SearchOptions:
        """The options with the cues' pinned gestures, steps restricted to strong or calm nodes, avoided nodes and
        preferences added. A floor no node reaches restricts nothing (the bonus still prefers the strongest)."""
        avoided = tuple(int(n) for _, nodes in self.avoids for n in nodes)
        pins = tuple(NodePin(start + k, int(node)) for _, start, nodes in self.gestures for k, node in enumerate(nodes))
        choices = []
        for placed, floor in zip(self.emphasis, self.floors):
            strong = np.flatnonzero(self.relative >= floor)
            if strong.size:
                choices.append(StepChoice(placed.step, tuple(int(n) for n in strong)))
        for (placed, end), ceiling in zip(self.rests, self.ceilings):
            calm = tuple(int(n) for n in np.flatnonzero(self.relative <= ceiling))
            choices += [StepChoice(step, calm) for step in range(placed.step, end)] if calm else []
        return dataclasses.replace(options, avoid_nodes=tuple(options.avoid_nodes) + avoided,
                                   pins=tuple(options.pins) + pins, choices=tuple(options.choices) + tuple(choices),
                                   bonus=self.bonus)

    def tightened(self, path: np.ndarray, outcomes: list[Outcome]) -> "CuePlan | None":
        """Where `path` missed an emphasis or a rest, a plan whose floor (ceiling) for it is what would pass against
        this path's median energy, with REPAIR_MARGIN to spare; None when nothing missed or nothing can be stricter."""
        median = float(np.median(self.relative[path]))
        missed = {(o.kind, i) for kind in ("emphasis", "rest")
                  for i, o in enumerate(o for o in outcomes if o.kind == kind) if not o.honoured}
        floors = tuple(max(f, EMPHASIS_RATIO * REPAIR_MARGIN * median) if ("emphasis", i) in missed else f
                       for i, f in enumerate(self.floors))
        ceilings = tuple(min(c, median / REPAIR_MARGIN) if ("rest", i) in missed else c
                         for i, c in enumerate(self.ceilings))
        if (floors, ceilings) == (self.floors, self.ceilings) or (
                floors and (self.relative >= max(floors)).sum() == 0):
            return None
        return dataclasses.replace(self, floors=floors, ceilings=ceilings)


def plan_cues(cues: Cues, words: tuple[Word, ...], graph: RetrievalGraph, steps: int, fps: float,
              weights: CueWeights = CueWeights()) -> CuePlan:
    """Resolves the cues; raises InvalidArgument for any cue that cannot be honoured, before any search."""
    if graph.motion is None or graph.node_video is None or graph.node_start_frame is None:
        raise InputMismatch("script cues need the graph's motion and node frames")
    duration = steps * FRAMES_PER_STEP / fps
    speed = node_speed(graph.motion)  # (N, 4)
    energy = speed.max(axis=1)  # (N,)
    relative = energy / max(float(np.median(energy)), 1e-9)  # (N,)
    scaled = np.minimum(relative, ENERGY_CAP)  # (N,)
    peak = speed.argmax(axis=1)  # (N,)
    emphasis = tuple(_place(a, words, fps, duration, "emphasis") for a in cues.emphasis)
    gestures = tuple(_place_gesture(g, words, graph, relative, fps, duration, steps) for g in cues.gesture)
    _check_gestures_apart(gestures)
    rests = tuple(_place_rest(a, b, fps, duration, steps) for a, b in cues.rest)
    _check_emphasis_free(emphasis, gestures, rests)
    avoids = tuple((span, _span_nodes(graph, span, whole=False)) for span in cues.avoid)
    rows: dict[int, np.ndarray] = {}
    for placed in emphasis:
        aligned = np.where(np.abs(peak - placed.offset) <= 1, 1.0, 0.5)
        rows[placed.step] = rows.get(placed.step, 0.0) + weights.emphasis * scaled * aligned
    for placed, end in rests:
        for step in range(placed.step, end):
            rows[step] = rows.get(step, 0.0) - weights.rest * scaled
    bonus = None
    if rows:
        order = sorted(rows)
        bonus = StepBonus(np.asarray(order, np.int64), np.stack([rows[s] for s in order]).astype(np.float32))
    return CuePlan(fps=fps, emphasis=emphasis, gestures=gestures, rests=rests, avoids=avoids,
                   relative=relative, peak=peak, floors=(STRONG,) * len(emphasis),
                   ceilings=(CALM,) * len(rests), bonus=bonus)


def judge_cues(plan: CuePlan, path: np.ndarray) -> list[Outcome]:
    """How the path honoured each cue, in the order emphasis, gesture, rest, avoid."""
    energy = plan.relative  # ratios of energies do not depend on the unit
    median = max(float(np.median(energy[path])), 1e-9)
    step_s = FRAMES_PER_STEP / plan.fps
    outcomes = []
    for placed in plan.emphasis:
        node = path[placed.step]
        ratio = float(energy[node]) / median
        outcomes.append(Outcome("emphasis", placed.label, placed.requested_s,
                                (placed.step * FRAMES_PER_STEP + int(plan.peak[node])) / plan.fps,
                                ratio >= EMPHASIS_RATIO, ratio))
    for placed, start, nodes in plan.gestures:
        stroke = int(energy[nodes].argmax())
        shown = bool(np.array_equal(path[start:start + len(nodes)], nodes))
        offset = start + stroke - placed.step
        outcomes.append(Outcome("gesture", placed.label, placed.requested_s,
                                (start + stroke) * step_s + int(plan.peak[nodes[stroke]]) / plan.fps,
                                shown and abs(offset) <= GESTURE_TOLERANCE_STEPS, float(offset)))
    for placed, end in plan.rests:
        ratio = float(energy[path[placed.step:end]].mean()) / median
        outcomes.append(Outcome("rest", placed.label, placed.requested_s, placed.step * step_s, ratio <= 1.0, ratio))
    for span, nodes in plan.avoids:
        used = np.flatnonzero(np.isin(path, nodes))
        outcomes.append(Outcome("avoid", f"reference {span.reference}", span.start_s,
                                float(used[0] * step_s) if used.size else -1.0, used.size == 0,
                                float(used.size * FRAMES_PER_STEP)))
    return outcomes


def _place(anchor: Anchor, words: tuple[Word, ...], fps: float, duration: float, kind: str) -> _Placed:
    seconds = _anchor_seconds(anchor, words)
    if not 0.0 <= seconds < duration:
        raise InvalidArgument(f"{kind} cue at {seconds:.2f} s lies outside the speech (0-{duration:.2f} s)",
                              reason="CUE_OUT_OF_RANGE")
    frame = int(seconds * fps)
    return _Placed(anchor.label, seconds, frame // FRAMES_PER_STEP, frame % FRAMES_PER_STEP)


def _anchor_seconds(anchor: Anchor, words: tuple[Word, ...]) -> float:
    if not anchor.word:
        return float(anchor.time_s)
    wanted = transcript_words(anchor.word)
    starts = [w.start_s for w in words if transcript_words(w.text) == wanted]
    occurrence = max(anchor.occurrence, 1)
    if len(starts) < occurrence:
        raise InvalidArgument(
            f"the word {anchor.word!r} occurs {len(starts)} time(s) in the speech's transcript, not {occurrence}",
            reason="CUE_WORD_NOT_FOUND", metadata={"word": anchor.word})
    return float(starts[occurrence - 1])


def _place_gesture(cue: GestureCue, words: tuple[Word, ...], graph: RetrievalGraph, energy: np.ndarray, fps: float,
                   duration: float, steps: int) -> tuple[_Placed, int, np.ndarray]:
    placed = _place(cue.at, words, fps, duration, "gesture")
    placed = dataclasses.replace(placed, label=f"{cue.name} @ {placed.label}")
    nodes = _span_nodes(graph, cue.span, whole=True)
    stroke = int(energy[nodes].argmax())  # the node holding the span's fastest frame
    start = placed.step - stroke
    if start < 0 or start + len(nodes) > steps:
        raise InvalidArgument(
            f"gesture {cue.name!r} ({len(nodes) * FRAMES_PER_STEP / graph.fps:.2f} s, stroke after "
            f"{stroke * FRAMES_PER_STEP / graph.fps:.2f} s) does not fit the speech with its stroke at "
            f"{placed.requested_s:.2f} s", reason="CUE_GESTURE_DOES_NOT_FIT", metadata={"gesture": cue.name})
    return placed, start, nodes


def _check_gestures_apart(gestures: tuple[tuple[_Placed, int, np.ndarray], ...]) -> None:
    spans = sorted((start, start + len(nodes), placed.label) for placed, start, nodes in gestures)
    for (_, end, first), (start, _, second) in zip(spans, spans[1:]):
        if start < end:
            raise InvalidArgument(f"gestures {first!r} and {second!r} overlap in the output",
                                  reason="CUE_GESTURE_DOES_NOT_FIT")


def _check_emphasis_free(emphasis: tuple[_Placed, ...], gestures: tuple[tuple[_Placed, int, np.ndarray], ...],
                         rests: tuple[tuple[_Placed, int], ...]) -> None:
    """An emphasis inside a pinned gesture (whose own footage is shown there) or a rest (calm asked for) cannot be
    honoured by any choice: refused."""
    spans = [(start, start + len(nodes), f"gesture {placed.label!r}") for placed, start, nodes in gestures]
    spans += [(placed.step, end, f"rest {placed.label}") for placed, end in rests]
    for placed in emphasis:
        for start, end, what in spans:
            if start <= placed.step < end:
                raise InvalidArgument(f"emphasis on {placed.label!r} ({placed.requested_s:.2f} s) falls inside {what}",
                                      reason="CUES_CONFLICT")


def _place_rest(start_s: float, end_s: float, fps: float, duration: float, steps: int) -> tuple[_Placed, int]:
    if not 0.0 <= start_s < end_s <= duration + FRAMES_PER_STEP / fps:
        raise InvalidArgument(f"rest cue {start_s:.2f}-{end_s:.2f} s is not a span of the speech (0-{duration:.2f} s)",
                              reason="CUE_OUT_OF_RANGE")
    first = int(start_s * fps) // FRAMES_PER_STEP
    last = min(-(-int(np.ceil(end_s * fps)) // FRAMES_PER_STEP), steps)
    return _Placed(f"{start_s:.2f}-{end_s:.2f} s", start_s, first, 0), max(last, first + 1)


def _span_nodes(graph: RetrievalGraph, span: Span, whole: bool) -> np.ndarray:
    """(K,) int32 nodes of the span in frame order: those lying wholly inside it (`whole`, a gesture to pin) or
    touching it (an avoided span). A pinned span must be unbroken: each node continues into the next."""
    videos = int(graph.node_video.max()) + 1 if graph.num_nodes else 0
    if not 0 <= span.reference < videos:
        raise InvalidArgument(f"reference {span.reference} outside 0..{videos - 1}", reason="CUE_REFERENCE_OUT_OF_RANGE")
    if not 0.0 <= span.start_s < span.end_s:
        raise InvalidArgument(f"reference span {span.start_s:.2f}-{span.end_s:.2f} s is empty", reason="CUE_OUT_OF_RANGE")
    first, end = span.start_s * graph.fps, span.end_s * graph.fps
    start_frame = graph.node_start_frame.astype(np.float64)
    inside = (start_frame >= first) & (start_frame + FRAMES_PER_STEP <= end) if whole else (
        (start_frame < end) & (start_frame + FRAMES_PER_STEP > first))
    nodes = np.flatnonzero((graph.node_video == span.reference) & inside).astype(np.int32)
    nodes = nodes[np.argsort(graph.node_start_frame[nodes], kind="stable")]
    if whole:
        if nodes.size == 0:
            raise InvalidArgument(f"no usable footage in reference {span.reference} at {span.start_s:.2f}-"
                                  f"{span.end_s:.2f} s (too short, or pruned from the graph)",
                                  reason="CUE_SPAN_NOT_IN_GRAPH")
        if np.any(find_edges(graph, nodes[:-1], nodes[1:]) < 0):
            raise InvalidArgument(f"reference {span.reference} at {span.start_s:.2f}-{span.end_s:.2f} s is broken "
                                  "in the graph (frames pruned away); tag a span without the gap",
                                  reason="CUE_SPAN_NOT_IN_GRAPH")
    return nodes

"""Script cues resolved into pins, avoided nodes and preferences, and judged on the DP's path."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tango.aumoclip.transcript import Word
from tango.retrieval.inputs import node_speed
from tango.retrieval.cues import Anchor, Cues, GestureCue, Span, judge_cues, plan_cues
from tango.retrieval.options import SearchOptions
from tango.retrieval.search import search_path
from tango.retrieval.synthetic import random_features, synthetic_graph
from tango.runtime.errors import InvalidArgument

STEPS = 60
WORDS = (Word("So", 0.5, 0.7), Word("three", 2.0, 2.3), Word("reasons,", 2.3, 2.8), Word("three", 5.0, 5.4))


@pytest.fixture(scope="module")
def graph():
    """A synthetic graph whose motion has real gestures' spread: a few nodes move 2-3x faster than most."""
    graph = synthetic_graph(400, videos=2, seed=3)
    gain = np.where(np.random.default_rng(4).random(graph.num_nodes) < 0.15, 2.5, 1.0)
    return dataclasses.replace(graph, motion=graph.motion * gain[:, None, None, None].astype(np.float32))


def _search(graph, cues: Cues, options: SearchOptions = SearchOptions()):
    features = random_features(STEPS, seed=5)
    plan = plan_cues(cues, WORDS, graph, STEPS, 30.0)
    result = search_path(graph, features, plan.apply(options))
    return result, judge_cues(plan, result.path)


def test_emphasis_lands_a_strong_gesture_on_the_word(graph):
    cues = Cues(emphasis=(Anchor("three", 2), Anchor("reasons"), Anchor(time_s=7.0)))
    plain = search_path(graph, random_features(STEPS, seed=5), SearchOptions())
    result, outcomes = _search(graph, cues)
    energy = node_speed(graph.motion).max(axis=1)
    assert [o.kind for o in outcomes] == ["emphasis"] * 3
    assert outcomes[0].requested_s == 5.0 and outcomes[0].label == "three"
    for outcome, seconds in zip(outcomes, (5.0, 2.3, 7.0)):
        step = int(seconds * 30) // 4
        assert outcome.honoured and outcome.measure >= 1.5
        assert abs(outcome.placed_s - seconds) < 4 / 30
        # the cue changed the choice: without it the node there is weaker
        assert energy[result.path[step]] > energy[plain.path[step]]


def test_gesture_stroke_meets_its_word_and_avoided_footage_never_shows(graph):
    span = Span(reference=1, start_s=1.0, end_s=2.0)  # 7 whole nodes of video 1
    avoid = Span(reference=0, start_s=0.0, end_s=3.0)
    result, outcomes = _search(graph, Cues(gesture=(GestureCue(Anchor("reasons"), "count", span),), avoid=(avoid,)))
    gesture, avoided = outcomes
    assert gesture.kind == "gesture" and gesture.honoured and abs(gesture.measure) <= 1
    assert gesture.label == "count @ reasons"
    assert abs(gesture.placed_s - 2.3) <= 4 / 30 + 1e-9
    starts = graph.node_start_frame[result.path] / 30.0
    assert not np.any((graph.node_video[result.path] == 0) & (starts < 3.0) & (starts + 4 / 30 > 0.0))
    assert avoided.honoured and avoided.placed_s == -1.0 and avoided.measure == 0


def test_a_missed_emphasis_is_searched_again_with_a_higher_floor(graph):
    """`tightened`: on a lively path a strong node can miss 1.5x its median; that emphasis gets the floor that would
    have passed, 10 % to spare (fewer nodes allowed); a path that missed nothing gets no stricter plan."""
    plan = plan_cues(Cues(emphasis=(Anchor("reasons"),), rest=((3.0, 4.0),)), WORDS, graph, STEPS, 30.0)
    lively = np.flatnonzero((plan.relative > 1.3) & (plan.relative < 1.9))
    path = np.resize(lively, STEPS)
    outcomes = judge_cues(plan, path)
    missed = [dataclasses.replace(o, honoured=o.kind == "rest") for o in outcomes]
    stricter = plan.tightened(path, missed)
    median = float(np.median(plan.relative[path]))
    assert stricter.floors == (1.5 * 1.1 * median,) and stricter.floors[0] > 2.0 and stricter.ceilings == plan.ceilings
    assert len(stricter.apply(SearchOptions()).choices[0].nodes) < len(plan.apply(SearchOptions()).choices[0].nodes)
    assert plan.tightened(path, [dataclasses.replace(o, honoured=True) for o in outcomes]) is None


def test_rest_keeps_the_speaker_calm(graph):
    result, (rest,) = _search(graph, Cues(rest=((3.0, 6.0),)))
    assert rest.kind == "rest" and rest.honoured and rest.measure <= 1.0


@pytest.mark.parametrize("cues, reason", [
    (Cues(emphasis=(Anchor("four"),)), "CUE_WORD_NOT_FOUND"),
    (Cues(emphasis=(Anchor("three", 3),)), "CUE_WORD_NOT_FOUND"),
    (Cues(emphasis=(Anchor(time_s=9.0),)), "CUE_OUT_OF_RANGE"),
    (Cues(rest=((4.0, 3.0),)), "CUE_OUT_OF_RANGE"),
    (Cues(avoid=(Span(2, 0.0, 1.0),)), "CUE_REFERENCE_OUT_OF_RANGE"),
    (Cues(gesture=(GestureCue(Anchor("so"), "long", Span(0, 0.0, 6.0)),)), "CUE_GESTURE_DOES_NOT_FIT"),
    (Cues(gesture=(GestureCue(Anchor("three"), "a", Span(0, 0.0, 1.0)),
                   GestureCue(Anchor("reasons"), "b", Span(1, 0.0, 1.0)))), "CUE_GESTURE_DOES_NOT_FIT"),
    (Cues(gesture=(GestureCue(Anchor("three"), "tiny", Span(0, 0.0, 0.1)),)), "CUE_SPAN_NOT_IN_GRAPH"),
    (Cues(emphasis=(Anchor("reasons"),), rest=((2.0, 3.0),)), "CUES_CONFLICT"),
    (Cues(emphasis=(Anchor("reasons"),), gesture=(GestureCue(Anchor("three"), "count", Span(1, 1.0, 2.0)),)),
     "CUES_CONFLICT"),
])
def test_a_cue_that_cannot_be_honoured_is_refused_before_the_search(graph, cues, reason):
    with pytest.raises(InvalidArgument) as error:
        plan_cues(cues, WORDS, graph, STEPS, 30.0)
    assert error.value.reason == reason

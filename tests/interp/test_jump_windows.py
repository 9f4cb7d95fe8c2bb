"""Jump windows: placed as the renderer places them, drawn across edge costs, matched to real stretches."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from tango.graph.artifact_io import GraphArtifact
from tango.interp.jump_windows import (attach_references, edge_difficulty, jump_frames, sample_jumps,
                                      typical_difficulty)
from tango.media.audio import AudioTrack
from tango.render.plan import RenderOptions, RenderPlan
from tango.render.schedule import build_schedule


def chain_graph(nodes: int = 40) -> GraphArtifact:
    """Continue edges i -> i+1 plus jumps i -> (i + 7) % N with costs rising with i."""
    sources, targets, costs, cont = [], [], [], []
    for i in range(nodes):
        for j, cost, is_continue in ((i + 1, 0.0, True), ((i + 7) % nodes, 0.1 + i / nodes, False)):
            if j < nodes:
                sources.append(i), targets.append(j), costs.append(cost), cont.append(is_continue)
    order = np.argsort(sources, kind="stable")
    indptr = np.searchsorted(np.array(sources)[order], np.arange(nodes + 1)).astype(np.int64)
    arrays = {
        "node_video": np.zeros(nodes, np.int32), "node_start_frame": (np.arange(nodes) * 4).astype(np.int32),
        "indptr": indptr, "indices": np.array(targets, np.int32)[order],
        "edge_cost": np.array(costs, np.float32)[order], "edge_continue": np.array(cont, bool)[order],
        "motion": np.zeros((nodes, 4, 1, 1), np.float32),
    }
    return GraphArtifact(Path("."), {"kind": "graph"}, arrays)


def test_window_frames_are_those_the_renderer_hands_the_interpolator():
    # a path 0 -> 1 -> 2 (continue) then a jump to clip 9 -> 10: the jump enters step 3
    plan = RenderPlan(clip_video=np.zeros(5, np.int32), clip_start=np.array([0, 4, 8, 36, 40], np.int32),
                      jump=np.array([False, False, False, True, False]), source_frame=(np.arange(60, dtype=np.int32),),
                      fps=30.0, soundtrack=AudioTrack(np.zeros((1, 16000), np.float32), 16000))
    schedule = build_schedule(plan, transition_frames=8, context_frames=4)
    start, end = schedule.windows[0]
    renderer_before = schedule.source[start - 4:start]
    renderer_after = schedule.source[end:end + 4]
    before, after = jump_frames(8, 36, transition_frames=8, context=4)
    assert before.tolist() == renderer_before.tolist() and after.tolist() == renderer_after.tolist()


def test_sampled_jumps_span_the_edge_costs_and_fit_the_video():
    graph = chain_graph()
    specs = sample_jumps(graph, frames=160, count=5, seed=0, context=4)
    costs = [s.cost for s in specs]
    assert len(specs) == 5 and costs == sorted(costs)
    assert costs[0] < 0.35 and costs[-1] > 0.85  # cheap and hard jumps both drawn
    for spec in specs:
        assert spec.before.min() >= 0 and spec.after.max() < 160 and len(spec.before) == len(spec.after) == 4
        assert spec.target_node != spec.source_node + 1
        typical = typical_difficulty(graph, edge_difficulty(graph))
        drawn = RenderOptions(cut_difficulty=0.0)  # the eval draws every jump, those the product cuts included
        assert spec.frames == drawn.transition_lengths(np.array([spec.difficulty]), typical)[0]
        assert spec.difficulty == spec.cost  # no head turn stored in this graph
    assert specs[0].frames < 8 < specs[-1].frames  # easy jumps get short windows, hard ones long
    again = sample_jumps(graph, frames=160, count=5, seed=0, context=4)
    assert [(s.source_node, s.target_node) for s in again] == [(s.source_node, s.target_node) for s in specs]


def test_a_jump_gets_the_footage_stretch_whose_ends_match_it():
    rng = np.random.default_rng(0)
    thumbs = 128 + np.cumsum(rng.normal(0, 2, (100, 12, 16)), axis=0).astype(np.float32)  # footage drifts slowly
    thumbs[60] = thumbs[20] + 0.1  # a window from frame 60 to 75 looks like the real stretch [20, 29]
    thumbs[75] = thumbs[29] + 0.1
    spec = sample_jumps(chain_graph(), frames=100, count=1, seed=0, context=4)[0]
    matched = replace(spec, before=np.arange(57, 61), after=np.arange(75, 79), frames=8)
    unmatched = replace(spec, before=np.arange(37, 41), after=np.arange(80, 84), frames=8)
    found, missing = attach_references([matched, unmatched], thumbs)
    assert found.reference_start == 21 and found.reference_distance < 1.0
    assert missing.reference_start is None

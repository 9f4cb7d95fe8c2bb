"""Graph build end to end on synthetic perception: edges, pruning, multi-video, options and errors."""
from __future__ import annotations

import numpy as np
import pytest
import rustworkx as rx

from tango.graph.artifact_io import SCHEMA_VERSION as GRAPH_SCHEMA_VERSION
from tango.graph.build import build_graph
from tango.graph.inputs import InMemoryPerception
from tango.graph.options import GraphOptions
from tango.graph.prune import dead_end_rate
from tango.graph.synthetic import synthetic_perception
from tango.perception.result import SCHEMA_VERSION
from tango.runtime.errors import GraphTooSmall, InputMismatch, NoPerson, WrongArtifactKind


@pytest.fixture(scope="module")
def single():
    return build_graph([synthetic_perception(1200, seed=0, absent_frames=np.arange(400, 410))])


@pytest.fixture(scope="module")
def two_videos():
    return build_graph([synthetic_perception(600, seed=0), synthetic_perception(480, seed=1)])


def _sources(arrays) -> np.ndarray:
    return np.repeat(np.arange(arrays["indptr"].size - 1), np.diff(arrays["indptr"]))


def test_arrays_follow_the_contract(single):
    arrays, stats = single.arrays, single.meta["stats"]
    nodes = arrays["node_video"].shape[0]
    assert single.meta["kind"] == "graph" and single.meta["schema_version"] == GRAPH_SCHEMA_VERSION
    assert arrays["motion"].shape == (nodes, 4, 33, 15) and arrays["motion"].dtype == np.float32
    assert arrays["indptr"].dtype == np.int64 and arrays["indices"].dtype == np.int32
    assert arrays["indptr"][-1] == arrays["indices"].size == stats["edges"]
    np.testing.assert_array_equal(arrays["node_frames"][:, 0], arrays["node_start_frame"])
    np.testing.assert_array_equal(np.diff(arrays["node_frames"], axis=1), 1)
    assert stats["kept_nodes"] == nodes and stats["edges"] == stats["continue_edges"] + stats["jump_edges"]
    assert np.all(arrays["edge_cost"][arrays["edge_continue"]] == 0.0)
    assert np.all(arrays["edge_cost"][~arrays["edge_continue"]] > 0.0)


def test_continue_edges_always_present(single):
    arrays = single.arrays
    start, video = arrays["node_start_frame"], arrays["node_video"]
    consecutive = np.flatnonzero((video[1:] == video[:-1]) & (start[1:] == start[:-1] + 4))
    assert consecutive.size > 200
    sources = _sources(arrays)
    continue_pairs = set(zip(sources[arrays["edge_continue"]].tolist(),
                             arrays["indices"][arrays["edge_continue"]].tolist()))
    assert continue_pairs == {(int(i), int(i) + 1) for i in consecutive}


def test_no_person_clips_are_dropped_and_pruning_leaves_no_dead_end(single):
    arrays, stats = single.arrays, single.meta["stats"]
    assert stats["dropped"]["no_person"] == 3  # frames 400..409 touch clips 100, 101, 102
    assert not np.isin(arrays["node_start_frame"], [400, 404, 408]).any()
    assert stats["dead_end_rate_10s_after"] == 0.0 and stats["dead_end_rate_30s_after"] == 0.0
    assert dead_end_rate(arrays["indptr"], arrays["indices"], steps=1000, walks=1000, seed=7) == 0.0
    graph = rx.PyDiGraph()
    graph.add_nodes_from(range(arrays["node_video"].size))
    graph.add_edges_from_no_data(list(zip(_sources(arrays).tolist(), arrays["indices"].tolist())))
    assert len(rx.strongly_connected_components(graph)) == 1
    assert stats["dead_end_rate_30s_before"] >= stats["dead_end_rate_30s_after"]


def test_two_videos_have_cross_video_jump_edges(two_videos):
    arrays, stats = two_videos.arrays, two_videos.meta["stats"]
    video = arrays["node_video"]
    sources = _sources(arrays)
    cross = video[sources] != video[arrays["indices"]]
    assert cross.any() and not arrays["edge_continue"][cross].any()
    assert set(np.unique(video).tolist()) == {0, 1}
    assert [entry["clips"] for entry in stats["per_video"]] == [150, 120]
    assert stats["dead_end_rate_30s_after"] == 0.0


def test_largest_scc_option_keeps_no_more_than_merge(two_videos):
    largest = build_graph([synthetic_perception(600, seed=0), synthetic_perception(480, seed=1)],
                          GraphOptions(pruning="largest_scc"))
    stats = largest.meta["stats"]
    assert stats["kept_nodes"] == stats["kept_nodes_largest_scc"] == two_videos.meta["stats"]["kept_nodes_largest_scc"]
    assert stats["added_edges"] == 0 and not largest.arrays["edge_added"].any()
    assert two_videos.meta["stats"]["kept_nodes"] >= stats["kept_nodes"]


def test_keep_no_person_option_keeps_those_clips():
    result = build_graph([synthetic_perception(800, seed=3, absent_frames=np.arange(200, 204))],
                         GraphOptions(keep_no_person=True))
    assert result.meta["stats"]["dropped"]["no_person"] == 0
    assert result.meta["stats"]["nodes"] == 200


def test_blurry_hand_clips_are_excluded_on_request():
    artifact = synthetic_perception(800, seed=4)
    artifact.arrays["hand_clarity"][40:48] = 0.5  # clips 10 and 11: far below the median (~20)
    default = build_graph([artifact])
    strict = build_graph([artifact], GraphOptions(exclude_blurry_hands=True))
    assert default.meta["stats"]["dropped"]["blurry_hands"] == 0
    assert strict.meta["stats"]["dropped"]["blurry_hands"] == 2
    assert not np.isin(strict.arrays["node_start_frame"], [40, 44]).any()


def test_fps_mismatch_and_resampling():
    first = synthetic_perception(600, seed=0, fps=30.0)
    second = synthetic_perception(500, seed=1, fps=25.0)
    with pytest.raises(InputMismatch):
        build_graph([first, second])
    result = build_graph([first, second], GraphOptions(resample=True))
    frames, video = result.arrays["node_frames"], result.arrays["node_video"]
    assert result.meta["videos"][1]["fps"] == 25.0 and result.meta["fps"] == 30.0
    # 500 frames at 25 fps span 0 .. 19.96 s: 599 frames at 30 fps, 149 whole clips
    assert result.meta["stats"]["per_video"][1]["clips"] == 149
    assert frames[video == 1].max() < 500 and np.all(np.diff(frames[video == 1], axis=1) >= 0)


def test_representation_kind_and_person_errors():
    mediapipe = synthetic_perception(200, seed=0)
    smplx = _smplx_artifact(200)
    with pytest.raises(InputMismatch):
        build_graph([mediapipe, smplx])
    with pytest.raises(WrongArtifactKind):
        build_graph([InMemoryPerception(mediapipe.arrays, {**mediapipe.meta, "kind": "graph"})])
    with pytest.raises(NoPerson):
        build_graph([synthetic_perception(200, seed=0, absent_frames=np.arange(200))])


def test_too_short_video_is_refused_with_a_clear_message():
    with pytest.raises(GraphTooSmall, match="at least 3"):
        build_graph([synthetic_perception(8, seed=0)])
    with pytest.raises(GraphTooSmall, match="too short"):
        build_graph([synthetic_perception(40, seed=0)])


def _smplx_artifact(frames: int) -> InMemoryPerception:
    t = np.arange(frames)[:, None, None] / 30.0
    rng = np.random.default_rng(0)
    frequency = rng.choice([0.25, 0.5], size=(1, 55, 3))  # a shared period of 4 s: the motion recurs
    poses = 0.3 * np.sin(2 * np.pi * frequency * t + rng.uniform(0, 6, (1, 55, 3)))
    arrays = {"timestamps_s": np.arange(frames) / 30.0, "source_frame": np.arange(frames, dtype=np.int32),
              "person_present": np.ones(frames, bool), "smplx_poses": poses.astype(np.float32),
              "smplx_trans": np.zeros((frames, 3), np.float32), "smplx_betas": np.zeros(10, np.float32)}
    meta = {"kind": "perception", "schema_version": SCHEMA_VERSION, "representation": "smplx", "fps": 30.0, "frames": frames}
    return InMemoryPerception(arrays, meta)


def test_smplx_graph_builds_from_rotations():
    result = build_graph([_smplx_artifact(1200)])
    assert result.arrays["motion"].shape[1:] == (4, 55, 15)
    assert result.meta["representation"] == "smplx" and result.meta["stats"]["jump_edges"] > 0
    assert result.meta["stats"]["dead_end_rate_30s_after"] == 0.0


def test_progress_and_cancellation():
    seen = []
    build_graph([synthetic_perception(600, seed=0)], GraphOptions(block_size=64),
                on_progress=lambda stage, done, total: seen.append((stage, done, total)))
    assert ("distances", 3, 3) in seen and seen[-1] == ("prune", 1, 1)
    from tango.runtime.errors import Cancelled
    with pytest.raises(Cancelled):
        build_graph([synthetic_perception(600, seed=0)], should_stop=lambda: True)


def test_jump_edges_per_node_are_capped_to_the_cheapest():
    artifact = synthetic_perception(1200, seed=0)
    full = build_graph([artifact], GraphOptions(max_jumps_per_node=0))
    capped = build_graph([artifact], GraphOptions(max_jumps_per_node=2))
    jumps = ~capped.arrays["edge_continue"] & ~capped.arrays["edge_added"]
    assert np.bincount(_sources(capped.arrays)[jumps], minlength=capped.arrays["node_video"].size).max() <= 2
    assert full.meta["stats"]["raw_jump_edges"] > capped.meta["stats"]["raw_jump_edges"]

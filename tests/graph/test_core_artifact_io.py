"""Graph artifact files (CONTRACTS.md kind `graph`) and a graph of real SMPL-X motion capture."""
from __future__ import annotations

import json

import numpy as np
import pytest
from support import shared_media

from tango.graph.artifact_io import GraphArtifact, write_graph_artifact
from tango.graph.build import GraphResult, build_graph
from tango.graph.inputs import InMemoryPerception
from tango.graph.synthetic import synthetic_perception
from tango.perception.result import SCHEMA_VERSION
from tango.runtime.errors import ArtifactNotFound, CorruptMedia, WrongArtifactKind


@pytest.fixture(scope="module")
def graph() -> GraphResult:
    return build_graph([synthetic_perception(800, seed=2)], perception_uris=["file:///store/perception/abc"])


def test_round_trip(graph, tmp_path):
    write_graph_artifact(tmp_path / "g", graph)
    loaded = GraphArtifact.load(tmp_path / "g")
    assert sorted(loaded.arrays) == sorted(graph.arrays)
    for key, value in graph.arrays.items():
        np.testing.assert_array_equal(loaded.arrays[key], value)
        assert loaded.arrays[key].dtype == value.dtype
    meta = json.loads((tmp_path / "g" / "meta.json").read_text())
    assert meta["kind"] == "graph" and meta["videos"][0]["perception"] == "file:///store/perception/abc"
    assert meta["stats"]["kept_nodes"] == loaded.nodes and meta["options"]["pruning"] == "merge"
    indptr, indices = loaded.csr()
    targets, costs, continues = loaded.out_edges(5)
    np.testing.assert_array_equal(targets, indices[indptr[5]:indptr[6]])
    assert 6 in targets.tolist() and continues[targets.tolist().index(6)]
    assert costs.dtype == np.float32


def test_wrong_kind_missing_and_corrupt(graph, tmp_path):
    perception = tmp_path / "p"
    perception.mkdir()
    (perception / "meta.json").write_text(json.dumps({"kind": "perception", "schema_version": SCHEMA_VERSION}))
    with pytest.raises(WrongArtifactKind):
        GraphArtifact.load(perception)
    with pytest.raises(ArtifactNotFound):
        GraphArtifact.load(tmp_path / "nothing")
    broken = GraphResult(arrays={**graph.arrays, "indices": graph.arrays["indices"][:-1]}, meta=graph.meta)
    with pytest.raises(CorruptMedia):
        write_graph_artifact(tmp_path / "broken", broken)


def test_real_smplx_motion_capture_graph():
    path = shared_media("motion/2_scott_0_1_1.npz")
    with np.load(path, allow_pickle=False) as npz:
        poses = npz["poses"].reshape(-1, 55, 3).astype(np.float32)
        fps = float(npz["mocap_frame_rate"])
    frames = poses.shape[0]
    artifact = InMemoryPerception(
        {"timestamps_s": np.arange(frames) / fps, "person_present": np.ones(frames, bool), "smplx_poses": poses},
        {"kind": "perception", "schema_version": SCHEMA_VERSION, "representation": "smplx", "fps": fps, "frames": frames})
    result = build_graph([artifact])
    stats = result.meta["stats"]
    assert stats["nodes"] == frames // 4 and stats["kept_nodes"] > 0.9 * stats["nodes"]
    assert stats["jump_edges"] > stats["nodes"] and stats["dead_end_rate_30s_after"] == 0.0
    assert result.arrays["motion"].shape == (stats["kept_nodes"], 4, 55, 15)

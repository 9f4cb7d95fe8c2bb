"""Read and write the motion-graph artifact directory: graph.npz + meta.json (CONTRACTS.md, kind `graph`).

Also reads the derived `embedded_graph` kind (same files plus `motion_low` / `motion_high`).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from tango.runtime.errors import ArtifactNotFound, CorruptMedia, InvalidArgument, WrongArtifactKind

GRAPH_FILE = "graph.npz"
META_FILE = "meta.json"
KINDS = ("graph", "embedded_graph")
SCHEMA_VERSION = 2  # 2: edge_turn (head turn across each junction)
REQUIRED_ARRAYS = {
    "node_video": np.int32, "node_start_frame": np.int32, "indptr": np.int64, "indices": np.int32,
    "edge_cost": np.float32, "edge_continue": np.bool_, "motion": np.float32,
}
OPTIONAL_ARRAYS = {"node_frames": np.int32, "edge_added": np.bool_, "edge_turn": np.float32, "motion_low": np.float32,
                   "motion_high": np.float32}


class GraphLike(Protocol):
    arrays: dict[str, np.ndarray]
    meta: dict[str, Any]


def check_graph_arrays(arrays: dict[str, np.ndarray]) -> None:
    """Raises CorruptMedia(reason CORRUPT_ARTIFACT) unless the arrays form a consistent CSR graph."""
    missing = [key for key in REQUIRED_ARRAYS if key not in arrays]
    if missing:
        raise CorruptMedia(f"graph arrays lack {missing}", reason="CORRUPT_ARTIFACT")
    wrong = [f"{key}: {arrays[key].dtype}" for key, dtype in {**REQUIRED_ARRAYS, **OPTIONAL_ARRAYS}.items()
             if key in arrays and arrays[key].dtype != dtype]
    if wrong:
        raise CorruptMedia(f"graph arrays of the wrong dtype: {wrong}", reason="CORRUPT_ARTIFACT")
    nodes = arrays["node_video"].shape[0]
    indptr, indices = arrays["indptr"], arrays["indices"]
    edges = indices.shape[0]
    problems = []
    if indptr.shape != (nodes + 1,) or indptr[0] != 0 or indptr[-1] != edges or np.any(np.diff(indptr) < 0):
        problems.append("indptr is not a CSR row pointer over the nodes")
    if edges and (indices.min() < 0 or indices.max() >= nodes):
        problems.append("edge targets outside the nodes")
    for key in ("edge_cost", "edge_continue", "edge_added", "edge_turn"):
        if key in arrays and arrays[key].shape != (edges,):
            problems.append(f"{key} has shape {arrays[key].shape}, expected ({edges},)")
    for key in ("node_start_frame", "motion", "node_frames", "motion_low", "motion_high"):
        if key in arrays and arrays[key].shape[:1] != (nodes,):
            problems.append(f"{key} has {arrays[key].shape[0]} rows, expected {nodes}")
    if problems:
        raise CorruptMedia("; ".join(problems), reason="CORRUPT_ARTIFACT")


def write_graph_artifact(directory: Path | str, result: GraphLike) -> Path:
    """Writes `result.arrays` to graph.npz (compressed, no pickle) and `result.meta` to meta.json."""
    directory = Path(directory)
    if result.meta.get("kind") not in KINDS:
        raise InvalidArgument(f"graph meta kind must be one of {KINDS}, got {result.meta.get('kind')!r}")
    check_graph_arrays(result.arrays)
    directory.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(directory / GRAPH_FILE, **result.arrays)
    (directory / META_FILE).write_text(json.dumps(result.meta, indent=1, sort_keys=True, allow_nan=False))
    return directory


class GraphArtifact:
    """A graph artifact read from a local directory (arrays loaded eagerly, without pickle)."""

    def __init__(self, directory: Path, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.directory = directory
        self.meta = meta
        self.arrays = arrays

    @classmethod
    def load(cls, directory: Path | str) -> "GraphArtifact":
        directory = Path(directory)
        meta_path, graph_path = directory / META_FILE, directory / GRAPH_FILE
        if not meta_path.is_file():
            raise ArtifactNotFound(f"no artifact in {directory}", metadata={"path": str(directory)})
        try:
            meta = json.loads(meta_path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise CorruptMedia(f"{meta_path} is not valid JSON: {exc}", reason="CORRUPT_ARTIFACT") from exc
        kind = meta.get("kind") if isinstance(meta, dict) else None
        if kind not in KINDS:
            raise WrongArtifactKind(f"{directory} holds a {kind!r} artifact, not a graph",
                                    metadata={"kind": kind, "path": str(directory)})
        if meta.get("schema_version") != SCHEMA_VERSION:
            raise WrongArtifactKind(f"graph schema_version {meta.get('schema_version')!r} is not the supported "
                                    f"{SCHEMA_VERSION}")
        if not graph_path.is_file():
            raise ArtifactNotFound(f"{graph_path} is missing", metadata={"path": str(directory)})
        try:
            with np.load(graph_path, allow_pickle=False) as npz:
                arrays = {key: npz[key] for key in npz.files}
        except (ValueError, OSError) as exc:
            raise CorruptMedia(f"{graph_path} cannot be read: {exc}", reason="CORRUPT_ARTIFACT") from exc
        check_graph_arrays(arrays)
        return cls(directory, meta, arrays)

    @property
    def nodes(self) -> int:
        return int(self.arrays["node_video"].shape[0])

    @property
    def edges(self) -> int:
        return int(self.arrays["indices"].shape[0])

    def csr(self) -> tuple[np.ndarray, np.ndarray]:
        """-> (indptr (N+1,) int64, indices (E,) int32)."""
        return self.arrays["indptr"], self.arrays["indices"]

    def out_edges(self, node: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """-> targets, costs, continue flags of `node`'s out-edges."""
        if not 0 <= node < self.nodes:
            raise InvalidArgument(f"node {node} outside [0, {self.nodes})", reason="NODE_OUT_OF_RANGE")
        start, end = int(self.arrays["indptr"][node]), int(self.arrays["indptr"][node + 1])
        return (self.arrays["indices"][start:end], self.arrays["edge_cost"][start:end],
                self.arrays["edge_continue"][start:end])

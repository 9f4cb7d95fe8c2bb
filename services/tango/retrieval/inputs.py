"""The inputs of a search: the motion graph with its node embeddings, and the target audio's features.

Both are plain frozen dataclasses of numpy arrays (CONTRACTS.md "Motion graph artifact" and "Retrieval
contract"); `tango.retrieval.features.validate_inputs` checks their shapes before any search.
"""
from __future__ import annotations

import dataclasses
import functools

import numpy as np

from tango.graph.motion_repr import ANGULAR_VELOCITY, VELOCITY

FRAMES_PER_STEP = 4  # a graph node is a 4-frame clip; one search step = one node


@dataclasses.dataclass(frozen=True)
class RetrievalGraph:
    """A pruned motion graph in CSR form (by source node) with per-node motion embeddings."""

    indptr: np.ndarray  # (N+1,) int64 CSR row pointer of out-edges
    indices: np.ndarray  # (E,) int32 edge targets
    edge_continue: np.ndarray  # (E,) bool  consecutive clips of the same video
    edge_cost: np.ndarray  # (E,) float32 d_ij of the edge (0 for continue edges)
    motion_low: np.ndarray  # (N, 4, D) float32 L2-normalised per-frame low-level motion features
    motion_high: np.ndarray  # (N, D) float32 L2-normalised per-clip high-level motion features
    motion: np.ndarray | None = None  # (N, 4, J, C) float32 motion representation (onset baseline)
    node_video: np.ndarray | None = None  # (N,) int32 source video of each node (segment pins)
    node_start_frame: np.ndarray | None = None  # (N,) int32 first frame of each node (segment pins)
    edge_turn: np.ndarray | None = None  # (E,) float32 head turn across the junction, degrees (jump difficulty)
    fps: float = 30.0  # frame rate of the node frames (node_start_frame)

    @property
    def num_nodes(self) -> int:
        return int(self.indptr.shape[0] - 1)

    @property
    def num_edges(self) -> int:
        return int(self.indices.shape[0])

    @property
    def dim(self) -> int:
        return int(self.motion_high.shape[-1])

    @functools.cached_property
    def node_energy(self) -> np.ndarray | None:
        """(N,) float32 each node's log mean joint speed, linear + angular, standardised over the graph (None
        without motion)."""
        if self.motion is None:
            return None
        speed = node_speed(self.motion) + node_speed(self.motion, ANGULAR_VELOCITY)  # (SMPL-X has only angular)
        return standardise(np.log(speed.mean(axis=1) + 1e-4))

    def edge_sources(self) -> np.ndarray:
        """(E,) int32 source node of every edge, expanded from the CSR row pointer."""
        degrees = np.diff(self.indptr)
        return np.repeat(np.arange(self.num_nodes, dtype=np.int32), degrees)

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], fps: float = 30.0) -> "RetrievalGraph":
        """Builds the graph from the keys of `graph.npz` (+ `motion_low`/`motion_high` of the
        `embedded_graph` artifact); optional keys may be absent."""
        return cls(
            indptr=np.asarray(arrays["indptr"], dtype=np.int64),
            indices=np.asarray(arrays["indices"], dtype=np.int32),
            edge_continue=np.asarray(arrays["edge_continue"], dtype=bool),
            edge_cost=np.asarray(arrays["edge_cost"], dtype=np.float32),
            motion_low=np.asarray(arrays["motion_low"], dtype=np.float32),
            motion_high=np.asarray(arrays["motion_high"], dtype=np.float32),
            motion=_optional(arrays, "motion", np.float32),
            node_video=_optional(arrays, "node_video", np.int32),
            node_start_frame=_optional(arrays, "node_start_frame", np.int32),
            edge_turn=_optional(arrays, "edge_turn", np.float32),
            fps=float(fps),
        )


@dataclasses.dataclass(frozen=True)
class TargetFeatures:
    """Per-step features of the target audio (T steps of 4 frames)."""

    audio_low: np.ndarray  # (T*4, D) float32 L2-normalised low-level features at 30 fps
    audio_high: np.ndarray  # (T, D) float32 L2-normalised high-level feature of the window covering step t
    waveform: np.ndarray | None = None  # (S,) float32 mono waveform (onset baseline)
    loudness: np.ndarray | None = None  # (T,) float32 each step's loudness, standardised over the target
    sample_rate: int = 16_000
    fps: float = 30.0

    @property
    def steps(self) -> int:
        return int(self.audio_high.shape[0])

    @property
    def dim(self) -> int:
        return int(self.audio_high.shape[-1])


def node_speed(motion: np.ndarray, channels: slice = VELOCITY) -> np.ndarray:
    """(N, 4) float64 speed of each node's frames: the mean over joints of |velocity| (or of the `channels` given,
    e.g. `ANGULAR_VELOCITY`)."""
    speed = np.linalg.norm(motion[..., channels], axis=-1).mean(axis=-1)  # (N, 4)
    return np.nan_to_num(speed.astype(np.float64))


def standardise(values: np.ndarray) -> np.ndarray:
    """float32 z-scores (all 0 for a constant array)."""
    values = np.asarray(values, np.float64)
    spread = values.std()
    return ((values - values.mean()) / spread if spread > 1e-9 else np.zeros_like(values)).astype(np.float32)


def _optional(arrays: dict[str, np.ndarray], key: str, dtype: type) -> np.ndarray | None:
    return np.asarray(arrays[key], dtype=dtype) if key in arrays else None

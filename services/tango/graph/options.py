"""Options of a motion-graph build (mirrors `tango.graph.v1.GraphOptions`, plus tuning knobs)."""
from __future__ import annotations

from dataclasses import dataclass

from tango.graph.prune import STRATEGY_LARGEST_SCC, STRATEGY_MERGE


@dataclass(frozen=True)
class GraphOptions:
    pose_weight: float = 1.0  # w_pose of d_ij
    iou_weight: float = 1.0  # w_iou of d_ij
    keep_no_person: bool = False  # keep clips with a frame where no person was found
    exclude_blurry_hands: bool = False  # drop clips whose hand clarity < blurry_hand_ratio * video median
    blurry_hand_ratio: float = 0.25
    pruning: str = STRATEGY_MERGE  # "merge" | "largest_scc"
    merge_ratio: float = 2.0  # a re-attachment edge needs d_ij <= merge_ratio * t_i
    resample: bool = False  # resample inputs of another frame rate (nearest frame) instead of refusing them
    near_jump_clips: int = 1  # same-video targets j with -k <= j - i <= k are no jump edges (i+1 is "continue")
    max_jumps_per_node: int = 64  # keep only the cheapest k jump edges of each node (0 = all): bounds the
    # edge count (memory, pruning, retrieval DP) on long footage where thousands of clips pass t_i
    pose_joints: str = "upper_body"  # MediaPipe joints of D_pose: "upper_body" (17 joints, see features.py) or "all"
    velocity_smoothing_frames: float = 2.0  # Gaussian sigma (frames) on MediaPipe positions before the
    # junction velocity of D_pose (0 = the raw per-frame velocity of the motion representation)
    mask_downsample: int = 2  # OR-pool factor of the body masks before IoU
    block_size: int = 2048  # distance blocks are block_size x block_size
    walks: int = 1000  # random walks of the dead-end rate
    seed: int = 0

    def __post_init__(self) -> None:
        if self.pruning not in (STRATEGY_MERGE, STRATEGY_LARGEST_SCC):
            raise ValueError(f"pruning must be {STRATEGY_MERGE!r} or {STRATEGY_LARGEST_SCC!r}, got {self.pruning!r}")
        if self.pose_joints not in ("upper_body", "all"):
            raise ValueError(f"pose_joints must be 'upper_body' or 'all', got {self.pose_joints!r}")
        if self.pose_weight < 0 or self.iou_weight < 0 or self.pose_weight + self.iou_weight <= 0:
            raise ValueError("weights must be >= 0 and not both 0")
        if self.block_size < 16 or self.mask_downsample < 1 or self.near_jump_clips < 0:
            raise ValueError("block_size >= 16, mask_downsample >= 1, near_jump_clips >= 0")
        if self.velocity_smoothing_frames < 0 or self.merge_ratio < 0:
            raise ValueError("velocity_smoothing_frames and merge_ratio must be >= 0")

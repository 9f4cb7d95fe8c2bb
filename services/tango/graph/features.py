"""Per-node features: the junction features the distances need and the motion stored in the graph artifact.

Node n is clip `node_clip[n]` of video `node_video[n]`; its junctions are the clip's first frame (start)
and last frame (end). Body masks are OR-pooled by `mask_downsample` before the IoU (96x72 -> 48x36 by
default: the same silhouettes at a quarter of the cost).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from tango.graph.clips import VideoClips
from tango.graph.distances import JunctionFeatures
from tango.graph.inputs import PerceptionLike
from tango.graph.motion_repr import ANGULAR_VELOCITY, POSITION, ROTATION_6D, VELOCITY
from tango.runtime.errors import InputMismatch

UPPER_BODY_JOINTS = np.arange(25)  # MediaPipe face, arms, hands and hips: what an upper-body video shows
_POOL_CHUNK = 8192


def pool_masks(bits: np.ndarray, mask_shape: tuple[int, int], factor: int) -> tuple[np.ndarray, int]:
    """Packed masks (K, B) of (Hm, Wm) -> OR-pooled packed masks (K, B') and their pixel count."""
    height, width = int(mask_shape[0]), int(mask_shape[1])
    if factor <= 1:
        return np.ascontiguousarray(bits), height * width
    pooled_h, pooled_w = height // factor, width // factor
    parts = []
    for start in range(0, bits.shape[0], _POOL_CHUNK):
        masks = np.unpackbits(bits[start:start + _POOL_CHUNK], axis=1, count=height * width)
        masks = masks.reshape(-1, height, width)[:, :pooled_h * factor, :pooled_w * factor]
        pooled = masks.reshape(-1, pooled_h, factor, pooled_w, factor).max(axis=(2, 4))  # (k, h', w')
        parts.append(np.packbits(pooled.reshape(pooled.shape[0], -1), axis=1))
    empty = np.zeros((0, (pooled_h * pooled_w + 7) // 8), dtype=np.uint8)
    return (np.concatenate(parts) if parts else empty), pooled_h * pooled_w


def node_frames(videos: Sequence[VideoClips], node_video: np.ndarray, node_clip: np.ndarray) -> np.ndarray:
    """-> (N, 4) int64 perception frame index of each node's frames."""
    frames = np.zeros((node_video.shape[0], 4), dtype=np.int64)
    for clips in videos:  # loop over input videos, not nodes
        here = node_video == clips.video
        frames[here] = clips.frame_index[clips.clip_frames[node_clip[here]]]
    return frames


def node_motion(videos: Sequence[VideoClips], node_video: np.ndarray, node_clip: np.ndarray) -> np.ndarray:
    """-> (N, 4, J, 15) float32 motion representation of each node's frames."""
    joints = videos[0].motion.shape[1]
    motion = np.zeros((node_video.shape[0], 4, joints, videos[0].motion.shape[2]), dtype=np.float32)
    for clips in videos:
        here = node_video == clips.video
        motion[here] = clips.motion[clips.clip_frames[node_clip[here]]]
    return motion


def _channel_groups(representation: str, has_joints: bool, joint_set: str) -> tuple[slice, slice, np.ndarray | slice]:
    if representation == "smplx":
        return (POSITION, VELOCITY, slice(None)) if has_joints else (ROTATION_6D, ANGULAR_VELOCITY, slice(None))
    return POSITION, VELOCITY, (UPPER_BODY_JOINTS if joint_set == "upper_body" else slice(None))


def junction_features(artifacts: Sequence[PerceptionLike], videos: Sequence[VideoClips], motion: np.ndarray,
                      frames: np.ndarray, node_video: np.ndarray, representation: str,
                      joint_set: str, mask_downsample: int) -> JunctionFeatures:
    """motion (N, 4, J, 15), frames (N, 4) perception frames -> JunctionFeatures of the N nodes."""
    has_joints = "smplx_joints" in artifacts[0].arrays
    first, second, joints = _channel_groups(representation, has_joints, joint_set)
    end, start = motion[:, -1][:, joints], motion[:, 0][:, joints]  # (N, J', 15)
    pose = dict(end_a=np.ascontiguousarray(end[..., first]), end_b=np.ascontiguousarray(end[..., second]),
                start_a=np.ascontiguousarray(start[..., first]), start_b=np.ascontiguousarray(start[..., second]))
    if not all("mask_bits" in a.arrays and "hand_boxes" in a.arrays for a in artifacts):
        return JunctionFeatures(**pose)
    shapes = {tuple(int(v) for v in a.arrays["mask_shape"]) for a in artifacts}
    if len(shapes) > 1:
        raise InputMismatch(f"inputs have different mask shapes {sorted(shapes)}")
    mask_shape = shapes.pop()
    nodes = node_video.shape[0]
    raw_bytes = artifacts[0].arrays["mask_bits"].shape[1]
    end_bits = np.zeros((nodes, raw_bytes), np.uint8)
    start_bits = np.zeros((nodes, raw_bytes), np.uint8)
    end_hands = np.full((nodes, 2, 4), np.nan, np.float32)
    start_hands = np.full((nodes, 2, 4), np.nan, np.float32)
    for clips in videos:
        here = node_video == clips.video
        arrays = artifacts[clips.video].arrays
        end_bits[here] = arrays["mask_bits"][frames[here, -1]]
        start_bits[here] = arrays["mask_bits"][frames[here, 0]]
        end_hands[here] = arrays["hand_boxes"][frames[here, -1]]
        start_hands[here] = arrays["hand_boxes"][frames[here, 0]]
    end_pooled, pixels = pool_masks(end_bits, mask_shape, mask_downsample)
    start_pooled, _ = pool_masks(start_bits, mask_shape, mask_downsample)
    return JunctionFeatures(**pose, end_mask=end_pooled, start_mask=start_pooled, mask_pixels=pixels,
                            end_hands=end_hands, start_hands=start_hands)

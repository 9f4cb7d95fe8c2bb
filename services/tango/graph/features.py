"""Per-node features: the junction features the distances need and the motion stored in the graph artifact.

Node n is clip `node_clip[n]` of video `node_video[n]`; its junctions are the clip's first frame (start)
and last frame (end). Body masks are OR-pooled by `mask_downsample` before the IoU (96x72 -> 48x36 by
default: the same silhouettes at a quarter of the cost); masks of videos with another mask grid are first
resampled onto the first input's grid.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from tango.graph.clips import VideoClips
from tango.graph.distances import JunctionFeatures
from tango.graph.inputs import PerceptionLike
from tango.graph.motion_repr import ANGULAR_VELOCITY, POSITION, ROTATION_6D, VELOCITY

# MediaPipe joints of D_pose for upper-body footage: nose and ears (three points fix the head; the other
# eight face landmarks move rigidly with them and would outweigh the arms), shoulders, elbows, wrists,
# pinky / index / thumb of both hands and the hips. Legs are mostly out of frame and guessed.
UPPER_BODY_JOINTS = np.array([0, 7, 8] + list(range(11, 25)))
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


def resize_masks(bits: np.ndarray, shape: tuple[int, int], target: tuple[int, int]) -> np.ndarray:
    """Packed masks (K, B) of `shape` -> packed masks of `target` by nearest-pixel sampling in normalised
    image coordinates (videos of other aspect ratios compare on one grid)."""
    if tuple(shape) == tuple(target):
        return bits
    rows = np.minimum(((np.arange(target[0]) + 0.5) * shape[0] / target[0]).astype(np.int64), shape[0] - 1)
    cols = np.minimum(((np.arange(target[1]) + 0.5) * shape[1] / target[1]).astype(np.int64), shape[1] - 1)
    pixel = (rows[:, None] * shape[1] + cols[None, :]).ravel()  # (Ht*Wt,) source pixel of each target pixel
    parts = [np.packbits(np.unpackbits(bits[start:start + _POOL_CHUNK], axis=1, count=shape[0] * shape[1])[:, pixel], axis=1)
             for start in range(0, bits.shape[0], _POOL_CHUNK)]
    return np.concatenate(parts) if parts else np.zeros((0, (target[0] * target[1] + 7) // 8), np.uint8)


def node_frames(videos: Sequence[VideoClips], node_video: np.ndarray, node_clip: np.ndarray) -> np.ndarray:
    """-> (N, 4) int64 perception frame index of each node's frames."""
    frames = np.zeros((node_video.shape[0], 4), dtype=np.int64)
    for clips in videos:  # loop over input videos, not nodes
        here = node_video == clips.video
        frames[here] = clips.frame_index[clips.clip_frames[node_clip[here]]]
    return frames


def node_motion(videos: Sequence[VideoClips], node_video: np.ndarray, node_clip: np.ndarray) -> np.ndarray:
    """-> (N, 4, J, 15) float32 motion representation of each node's frames."""
    return _gather(videos, node_video, node_clip, "motion")


def node_smooth_velocity(videos: Sequence[VideoClips], node_video: np.ndarray, node_clip: np.ndarray) -> np.ndarray | None:
    """-> (N, 4, J, 3) float32 smoothed velocity of each node's frames, or None where not computed."""
    if any(clips.smooth_velocity is None for clips in videos):
        return None
    return _gather(videos, node_video, node_clip, "smooth_velocity")


def _gather(videos: Sequence[VideoClips], node_video: np.ndarray, node_clip: np.ndarray, name: str) -> np.ndarray:
    first = getattr(videos[0], name)
    out = np.zeros((node_video.shape[0], 4) + first.shape[1:], dtype=np.float32)
    for clips in videos:  # loop over input videos, not nodes
        here = node_video == clips.video
        out[here] = getattr(clips, name)[clips.clip_frames[node_clip[here]]]
    return out


def _channel_groups(representation: str, has_joints: bool, joint_set: str) -> tuple[slice, slice, np.ndarray | slice]:
    if representation == "smplx":
        return (POSITION, VELOCITY, slice(None)) if has_joints else (ROTATION_6D, ANGULAR_VELOCITY, slice(None))
    return POSITION, VELOCITY, (UPPER_BODY_JOINTS if joint_set == "upper_body" else slice(None))


def junction_features(artifacts: Sequence[PerceptionLike], videos: Sequence[VideoClips], motion: np.ndarray,
                      frames: np.ndarray, node_video: np.ndarray, representation: str,
                      joint_set: str, mask_downsample: int, velocity: np.ndarray | None = None) -> JunctionFeatures:
    """motion (N, 4, J, 15), frames (N, 4) perception frames, velocity (N, 4, J, 3) replacing the motion's
    velocity channels when given -> JunctionFeatures of the N nodes."""
    has_joints = "smplx_joints" in artifacts[0].arrays
    first, second, joints = _channel_groups(representation, has_joints, joint_set)
    end, start = motion[:, -1][:, joints], motion[:, 0][:, joints]  # (N, J', 15)
    end_b, start_b = end[..., second], start[..., second]
    if velocity is not None:
        end_b, start_b = velocity[:, -1][:, joints], velocity[:, 0][:, joints]
    pose = dict(end_a=np.ascontiguousarray(end[..., first]), end_b=np.ascontiguousarray(end_b),
                start_a=np.ascontiguousarray(start[..., first]), start_b=np.ascontiguousarray(start_b))
    if not all("mask_bits" in a.arrays and "hand_boxes" in a.arrays for a in artifacts):
        return JunctionFeatures(**pose)
    mask_shape = tuple(int(v) for v in artifacts[0].arrays["mask_shape"])  # the common mask grid
    nodes = node_video.shape[0]
    raw_bytes = (mask_shape[0] * mask_shape[1] + 7) // 8
    end_bits = np.zeros((nodes, raw_bytes), np.uint8)
    start_bits = np.zeros((nodes, raw_bytes), np.uint8)
    end_hands = np.full((nodes, 2, 4), np.nan, np.float32)
    start_hands = np.full((nodes, 2, 4), np.nan, np.float32)
    for clips in videos:
        here = node_video == clips.video
        arrays = artifacts[clips.video].arrays
        own_shape = tuple(int(v) for v in arrays["mask_shape"])
        end_bits[here] = resize_masks(arrays["mask_bits"][frames[here, -1]], own_shape, mask_shape)
        start_bits[here] = resize_masks(arrays["mask_bits"][frames[here, 0]], own_shape, mask_shape)
        end_hands[here] = arrays["hand_boxes"][frames[here, -1]]
        start_hands[here] = arrays["hand_boxes"][frames[here, 0]]
    end_pooled, pixels = pool_masks(end_bits, mask_shape, mask_downsample)
    start_pooled, _ = pool_masks(start_bits, mask_shape, mask_downsample)
    return JunctionFeatures(**pose, end_mask=end_pooled, start_mask=start_pooled, mask_pixels=pixels,
                            end_hands=end_hands, start_hands=start_hands)

"""Synthetic but plausible perception arrays (smooth joints, body masks, hand boxes) for tests and benchmarks.

The speaker stands still and gestures with both arms: every joint follows a base skeleton plus a sum of
slow sinusoids (arms move most, the head a little, the legs hardly), so trajectories are smooth and
recur — the motion graph finds real jumps. Image landmarks are an orthographic projection, the body
mask a union of discs around the projected torso, head and arm joints (drawn at quarter resolution and
upsampled), the hand boxes enclose the wrist / finger landmarks.
"""
from __future__ import annotations

import numpy as np

from tango.graph.inputs import InMemoryPerception
from tango.graph.motion_repr import MEDIAPIPE_JOINTS

MASK_SHAPE = (96, 72)  # (Hm, Wm): long side 96, portrait aspect
_MASK_UPSAMPLE = 4
_CHUNK = 4096

# Base skeleton in MediaPipe world metres (x right, y down, hip-centred).
_BASE = np.array([
    [0.00, -0.62, -0.08], [-0.02, -0.66, -0.07], [-0.03, -0.66, -0.07], [-0.05, -0.66, -0.07],
    [0.02, -0.66, -0.07], [0.03, -0.66, -0.07], [0.05, -0.66, -0.07], [-0.08, -0.64, 0.0],
    [0.08, -0.64, 0.0], [-0.02, -0.58, -0.07], [0.02, -0.58, -0.07], [-0.18, -0.45, 0.0],
    [0.18, -0.45, 0.0], [-0.24, -0.20, 0.02], [0.24, -0.20, 0.02], [-0.22, 0.02, -0.05],
    [0.22, 0.02, -0.05], [-0.22, 0.08, -0.06], [0.22, 0.08, -0.06], [-0.20, 0.09, -0.08],
    [0.20, 0.09, -0.08], [-0.18, 0.05, -0.08], [0.18, 0.05, -0.08], [-0.10, 0.0, 0.0],
    [0.10, 0.0, 0.0], [-0.11, 0.42, 0.0], [0.11, 0.42, 0.0], [-0.11, 0.82, 0.02],
    [0.11, 0.82, 0.02], [-0.11, 0.86, 0.06], [0.11, 0.86, 0.06], [-0.11, 0.90, -0.08],
    [0.11, 0.90, -0.08],
], dtype=np.float64)
_LEFT_ARM, _RIGHT_ARM = [13, 15, 17, 19, 21], [14, 16, 18, 20, 22]
_MASK_JOINTS = np.array([0, 11, 12, 13, 14, 15, 16, 23, 24])
_MASK_RADII = np.array([0.09, 0.10, 0.10, 0.06, 0.06, 0.05, 0.05, 0.12, 0.12])  # image units


def _joint_amplitudes() -> np.ndarray:
    amplitude = np.full(MEDIAPIPE_JOINTS, 0.01)
    amplitude[:11] = 0.02
    amplitude[[13, 14]] = 0.06
    amplitude[_LEFT_ARM[1:] + _RIGHT_ARM[1:]] = 0.12
    return amplitude


def synthetic_pose_world(frames: int, fps: float, seed: int) -> np.ndarray:
    """(F, 33, 3) smooth gesturing trajectories: base + 3 sinusoids per body part on harmonics of 0.25 Hz
    (the motion recurs about every 4 s, as a speaker's gestures do), slowly varying amplitude, 1 mm jitter."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames, dtype=np.float64)[:, None] / fps  # (F, 1)
    groups = np.zeros(MEDIAPIPE_JOINTS, dtype=np.int64)  # 0 body, 1 left arm, 2 right arm
    groups[[11, 13] + _LEFT_ARM[1:]] = 1
    groups[[12, 14] + _RIGHT_ARM[1:]] = 2
    frequencies = 0.25 * rng.integers(1, 4, size=(3, 3))  # (group, component) Hz
    phases = rng.uniform(0, 2 * np.pi, size=(3, 3, 3))  # (group, component, axis)
    weights = rng.uniform(0.4, 1.0, size=(3, 3, 3))
    envelope = 1.0 + 0.2 * np.sin(2 * np.pi * 0.031 * t + rng.uniform(0, 2 * np.pi, size=(1, 3)))  # (F, 3)
    pose = np.repeat(_BASE[None], frames, axis=0)  # (F, 33, 3)
    amplitude = _joint_amplitudes()
    for group in range(3):  # three body parts
        waves = np.zeros((frames, 3))
        for component in range(3):
            waves += weights[group, component] * np.sin(
                2 * np.pi * frequencies[group, component] * t + phases[group, component])
        members = groups == group
        pose[:, members] += (waves * envelope[:, group:group + 1])[:, None, :] * amplitude[members][None, :, None] / 1.5
    return pose + rng.normal(0.0, 0.001, size=pose.shape)


def _project(pose_world: np.ndarray) -> np.ndarray:
    """Orthographic projection to normalised image coordinates: (F, 33, 3) -> (F, 33, 2)."""
    return np.stack([0.5 + pose_world[..., 0] * 0.7, 0.55 + pose_world[..., 1] * 0.7], axis=-1)


def synthetic_masks(pose_image: np.ndarray, mask_shape: tuple[int, int] = MASK_SHAPE) -> np.ndarray:
    """Body masks as unions of discs, packed: (F, 33, 2) -> (F, ceil(Hm*Wm/8)) uint8."""
    height, width = mask_shape[0] // _MASK_UPSAMPLE, mask_shape[1] // _MASK_UPSAMPLE
    ys = (np.arange(height) + 0.5) / height
    xs = (np.arange(width) + 0.5) / width
    grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2).astype(np.float32)  # (P, 2) x,y
    packed = []
    for start in range(0, pose_image.shape[0], _CHUNK):
        centres = pose_image[start:start + _CHUNK, _MASK_JOINTS].astype(np.float32)  # (f, K, 2)
        squared = ((grid[None, None] - centres[:, :, None]) ** 2).sum(-1)  # (f, K, P)
        small = (squared <= (_MASK_RADII[None, :, None] ** 2)).any(axis=1).reshape(-1, height, width)
        full = small.repeat(_MASK_UPSAMPLE, axis=1).repeat(_MASK_UPSAMPLE, axis=2)  # (f, Hm, Wm)
        packed.append(np.packbits(full.reshape(full.shape[0], -1), axis=1))
    return np.concatenate(packed, axis=0) if packed else np.zeros((0, (mask_shape[0] * mask_shape[1] + 7) // 8), np.uint8)


def synthetic_hand_boxes(pose_image: np.ndarray) -> np.ndarray:
    """(F, 33, 2) -> (F, 2, 4) [x0, y0, x1, y1] around wrist and finger landmarks, 0 = left hand."""
    boxes = []
    for hand in (_LEFT_ARM[1:], _RIGHT_ARM[1:]):
        points = pose_image[:, hand]  # (F, 4, 2)
        boxes.append(np.concatenate([points.min(axis=1) - 0.03, points.max(axis=1) + 0.03], axis=-1))
    return np.clip(np.stack(boxes, axis=1), 0.0, 1.0).astype(np.float32)


def synthetic_perception(frames: int, seed: int = 0, fps: float = 30.0,
                         absent_frames: np.ndarray | None = None) -> InMemoryPerception:
    """A MediaPipe-representation perception artifact in memory; `absent_frames` marks frames with no person."""
    rng = np.random.default_rng(seed + 7919)
    pose_world = synthetic_pose_world(frames, fps, seed)
    pose_image = _project(pose_world)
    present = np.ones(frames, dtype=bool)
    if absent_frames is not None:
        present[np.asarray(absent_frames, dtype=np.int64)] = False
    masks = synthetic_masks(pose_image)
    masks[~present] = 0
    hand_boxes = synthetic_hand_boxes(pose_image)
    clarity = rng.normal(20.0, 3.0, size=(frames, 2)).clip(1.0).astype(np.float32)
    pose_world[~present] = np.nan
    pose_image[~present] = np.nan
    hand_boxes[~present] = np.nan
    clarity[~present] = np.nan
    arrays = {
        "timestamps_s": np.arange(frames, dtype=np.float64) / fps,
        "source_frame": np.arange(frames, dtype=np.int32),
        "person_present": present,
        "pose_world": pose_world.astype(np.float32),
        "pose_visibility": np.where(present[:, None], 0.9, 0.0).repeat(MEDIAPIPE_JOINTS, 1).astype(np.float32),
        "pose_image": pose_image.astype(np.float32),
        "mask_bits": masks,
        "mask_shape": np.array(MASK_SHAPE, dtype=np.int32),
        "hand_boxes": hand_boxes,
        "hand_clarity": clarity,
    }
    meta = {"kind": "perception", "schema_version": 1, "representation": "mediapipe", "fields": sorted(arrays),
            "fps": float(fps), "frames": int(frames), "duration_s": frames / fps, "width": 720, "height": 960,
            "source": {"uri": f"synthetic://seed-{seed}", "sha256": ""}, "has_audio": False, "stats": {}}
    return InMemoryPerception(arrays=arrays, meta=meta)

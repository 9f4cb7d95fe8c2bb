"""Per-frame, per-joint motion representation (CONTRACTS.md "Motion representation"; NeMF-style, C = 15).

Channel layout of the last axis (identical for both skeletons):

    [0:3]   position          world metres (MediaPipe: hip-centred landmarks; SMPL-X: `smplx_joints` or 0)
    [3:6]   velocity          backward difference (p_t - p_{t-1}) * fps; frame 0 copies frame 1
    [6:12]  6-D rotation      MediaPipe: unit bone direction parent->joint (6:9) then joint->first child (9:12)
                              SMPL-X: first column (6:9) then second column (9:12) of the joint's rotation matrix
    [12:15] angular velocity  MediaPipe: cross(u_{t-1}, u_t) * fps of the parent->joint unit direction u
                              SMPL-X: axis-angle of R_t R_{t-1}^T * fps; frame 0 copies frame 1

Missing values (NaN: frames without a person) are filled forward, then backward, per joint and axis, before
any derivative; a joint that is NaN in every frame becomes 0. Sequences of one frame get zero derivatives.

MediaPipe topology: the 33 landmarks form a tree hung from two virtual joints, the mid-hip (index 33 of
the extended array) and the mid-shoulder (34). `MEDIAPIPE_PARENT[j]` is the parent of joint j in that
extended array, `MEDIAPIPE_CHILD[j]` its first child (-1 for leaves: a leaf's joint->child direction
repeats its parent->joint direction).
"""
from __future__ import annotations

import numpy as np

MOTION_CHANNELS = 15
POSITION = slice(0, 3)
VELOCITY = slice(3, 6)
ROTATION_6D = slice(6, 12)
ANGULAR_VELOCITY = slice(12, 15)

MEDIAPIPE_JOINTS = 33
SMPLX_JOINTS = 55
MID_HIP, MID_SHOULDER = 33, 34  # virtual joints of the extended MediaPipe skeleton

MEDIAPIPE_JOINT_NAMES = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index",
    "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
    "right_ankle", "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)
MEDIAPIPE_PARENT = np.array([
    MID_SHOULDER, 0, 1, 2, 0, 4, 5, 3, 6, 0, 0,          # face: nose hangs from the mid-shoulder
    MID_SHOULDER, MID_SHOULDER, 11, 12, 13, 14,          # shoulders, elbows, wrists
    15, 16, 15, 16, 15, 16,                              # pinky, index, thumb of each hand
    MID_HIP, MID_HIP, 23, 24, 25, 26, 27, 28, 29, 30,    # hips, knees, ankles, heels, foot tips
], dtype=np.int64)
MEDIAPIPE_CHILD = np.array([
    1, 2, 3, 7, 5, 6, 8, -1, -1, -1, -1,
    13, 14, 15, 16, 19, 20,
    -1, -1, -1, -1, -1, -1,
    25, 26, 27, 28, 29, 30, 31, 32, -1, -1,
], dtype=np.int64)

_EPS = 1e-8


def fill_missing(values: np.ndarray) -> np.ndarray:
    """Forward- then backward-fills NaN along axis 0, independently for every other index; all-NaN -> 0."""
    filled = np.array(values, dtype=np.float64, copy=True)  # (F, ...)
    frames = filled.shape[0]
    if frames == 0:
        return filled
    flat = filled.reshape(frames, -1)  # (F, K)
    valid = ~np.isnan(flat)
    steps = np.arange(frames)[:, None]
    last_valid = np.maximum.accumulate(np.where(valid, steps, -1), axis=0)  # (F, K) forward source
    next_valid = np.minimum.accumulate(np.where(valid, steps, frames)[::-1], axis=0)[::-1]  # backward source
    source = np.where(last_valid >= 0, last_valid, next_valid)
    never = source >= frames
    source = np.where(never, 0, source)
    flat[:] = np.take_along_axis(flat, source, axis=0)
    flat[never] = 0.0
    return filled


def time_derivative(values: np.ndarray, fps: float) -> np.ndarray:
    """Backward difference along axis 0 times fps; frame 0 copies frame 1 (zeros for one frame)."""
    derivative = np.zeros_like(values)
    if values.shape[0] >= 2:
        derivative[1:] = (values[1:] - values[:-1]) * fps
        derivative[0] = derivative[1]
    return derivative


def _unit(vectors: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norm, _EPS)


def _angular_velocity_of_directions(directions: np.ndarray, fps: float) -> np.ndarray:
    """directions (F, J, 3) unit vectors -> (F, J, 3) cross(u_{t-1}, u_t) * fps; frame 0 copies frame 1."""
    omega = np.zeros_like(directions)
    if directions.shape[0] >= 2:
        omega[1:] = np.cross(directions[:-1], directions[1:]) * fps
        omega[0] = omega[1]
    return omega


def mediapipe_motion(pose_world: np.ndarray, fps: float) -> np.ndarray:
    """pose_world (F, 33, 3) metres, NaN where no person -> motion (F, 33, 15) float32 (layout above)."""
    if pose_world.ndim != 3 or pose_world.shape[1:] != (MEDIAPIPE_JOINTS, 3):
        raise ValueError(f"pose_world must be (F, 33, 3), got {pose_world.shape}")
    positions = fill_missing(pose_world)  # (F, 33, 3)
    mid_hip = positions[:, [23, 24]].mean(axis=1, keepdims=True)  # (F, 1, 3)
    mid_shoulder = positions[:, [11, 12]].mean(axis=1, keepdims=True)
    extended = np.concatenate([positions, mid_hip, mid_shoulder], axis=1)  # (F, 35, 3)
    to_joint = _unit(positions - extended[:, MEDIAPIPE_PARENT])  # (F, 33, 3) parent -> joint
    has_child = MEDIAPIPE_CHILD >= 0
    child_index = np.where(has_child, MEDIAPIPE_CHILD, np.arange(MEDIAPIPE_JOINTS))
    to_child = _unit(extended[:, child_index] - positions)  # (F, 33, 3) joint -> first child
    to_child = np.where(has_child[None, :, None], to_child, to_joint)
    motion = np.concatenate([
        positions,
        time_derivative(positions, fps),
        to_joint,
        to_child,
        _angular_velocity_of_directions(to_joint, fps),
    ], axis=-1)
    return motion.astype(np.float32)


def axis_angle_to_matrix(axis_angle: np.ndarray) -> np.ndarray:
    """Rodrigues: (..., 3) -> (..., 3, 3)."""
    angle = np.linalg.norm(axis_angle, axis=-1, keepdims=True)[..., None]  # (..., 1, 1)
    axis = axis_angle / np.maximum(angle[..., 0], _EPS)  # (..., 3)
    x, y, z = axis[..., 0], axis[..., 1], axis[..., 2]
    zero = np.zeros_like(x)
    skew = np.stack([zero, -z, y, z, zero, -x, -y, x, zero], axis=-1).reshape(axis.shape[:-1] + (3, 3))
    eye = np.broadcast_to(np.eye(3), skew.shape)
    return eye + np.sin(angle) * skew + (1.0 - np.cos(angle)) * (skew @ skew)


def matrix_to_axis_angle(matrix: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices -> (..., 3) axis-angle (log map; exact near 0, stable near pi)."""
    trace = np.trace(matrix, axis1=-2, axis2=-1)
    angle = np.arccos(np.clip((trace - 1.0) / 2.0, -1.0, 1.0))  # (...,)
    skew_part = np.stack([
        matrix[..., 2, 1] - matrix[..., 1, 2],
        matrix[..., 0, 2] - matrix[..., 2, 0],
        matrix[..., 1, 0] - matrix[..., 0, 1],
    ], axis=-1)  # (..., 3) = 2 sin(angle) axis
    sin = np.sin(angle)[..., None]
    small = sin < 1e-6
    scale = np.where(small, 0.5, angle[..., None] / np.maximum(2.0 * sin, _EPS))
    result = skew_part * scale
    near_pi = (small[..., 0]) & (angle > np.pi / 2)
    if np.any(near_pi):  # sin ~ 0 at pi: axis from the diagonal of (R + I) / 2
        diag = np.sqrt(np.clip((np.diagonal(matrix[near_pi], axis1=-2, axis2=-1) + 1.0) / 2.0, 0.0, None))
        signs = np.sign(skew_part[near_pi])
        signs = np.where(signs == 0, 1.0, signs)
        result[near_pi] = diag * signs * angle[near_pi][..., None]
    return result


def smplx_motion(poses_axis_angle: np.ndarray, fps: float, joints: np.ndarray | None = None) -> np.ndarray:
    """poses (F, 55, 3) axis-angle, joints (F, 55, 3) or None -> motion (F, 55, 15) float32 (layout above)."""
    if poses_axis_angle.ndim != 3 or poses_axis_angle.shape[1:] != (SMPLX_JOINTS, 3):
        raise ValueError(f"SMPL-X poses must be (F, 55, 3), got {poses_axis_angle.shape}")
    frames = poses_axis_angle.shape[0]
    if joints is None:
        positions = np.zeros((frames, SMPLX_JOINTS, 3))
    elif joints.shape != poses_axis_angle.shape:
        raise ValueError(f"SMPL-X joints must be {poses_axis_angle.shape}, got {joints.shape}")
    else:
        positions = fill_missing(joints)
    rotations = axis_angle_to_matrix(fill_missing(poses_axis_angle))  # (F, 55, 3, 3)
    rotation_6d = np.concatenate([rotations[..., :, 0], rotations[..., :, 1]], axis=-1)  # (F, 55, 6)
    omega = np.zeros((frames, SMPLX_JOINTS, 3))
    if frames >= 2:
        relative = rotations[1:] @ np.swapaxes(rotations[:-1], -1, -2)  # R_t R_{t-1}^T
        omega[1:] = matrix_to_axis_angle(relative) * fps
        omega[0] = omega[1]
    motion = np.concatenate([positions, time_derivative(positions, fps), rotation_6d, omega], axis=-1)
    return motion.astype(np.float32)

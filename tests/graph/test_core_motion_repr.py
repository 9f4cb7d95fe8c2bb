"""Motion representation (CONTRACTS.md): channel layout, NaN filling, derivatives, SMPL-X rotations."""
from __future__ import annotations

import numpy as np
import pytest

from tango.graph.motion_repr import (
    ANGULAR_VELOCITY, MEDIAPIPE_CHILD, MEDIAPIPE_PARENT, POSITION, ROTATION_6D, VELOCITY,
    axis_angle_to_matrix, fill_missing, matrix_to_axis_angle, mediapipe_motion, smplx_motion,
)
from tango.graph.synthetic import synthetic_perception


def test_mediapipe_layout_shapes_and_values():
    pose = synthetic_perception(40, seed=1).arrays["pose_world"]  # (40, 33, 3)
    motion = mediapipe_motion(pose, fps=25.0)
    assert motion.shape == (40, 33, 15) and motion.dtype == np.float32
    assert np.all(np.isfinite(motion))
    np.testing.assert_allclose(motion[:, :, POSITION], pose, atol=1e-6)
    np.testing.assert_allclose(motion[5, :, VELOCITY], (pose[5] - pose[4]) * 25.0, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(motion[0, :, VELOCITY], motion[1, :, VELOCITY])
    directions = motion[:, :, ROTATION_6D].reshape(40, 33, 2, 3)
    np.testing.assert_allclose(np.linalg.norm(directions, axis=-1), 1.0, atol=1e-5)
    # left elbow (13): parent->joint is shoulder(11)->elbow, joint->child is elbow->wrist(15)
    expected = (pose[7, 13] - pose[7, 11]) / np.linalg.norm(pose[7, 13] - pose[7, 11])
    np.testing.assert_allclose(directions[7, 13, 0], expected, atol=1e-5)
    u0, u1 = directions[6, 13, 0], directions[7, 13, 0]
    np.testing.assert_allclose(motion[7, 13, ANGULAR_VELOCITY], np.cross(u0, u1) * 25.0, rtol=1e-3, atol=1e-4)


def test_topology_is_a_tree_with_valid_children():
    assert MEDIAPIPE_PARENT.shape == (33,) and MEDIAPIPE_CHILD.shape == (33,)
    for joint, child in enumerate(MEDIAPIPE_CHILD):
        if child >= 0:
            assert MEDIAPIPE_PARENT[child] == joint


def test_nan_frames_are_filled_before_derivatives():
    pose = synthetic_perception(12, seed=2).arrays["pose_world"].copy()
    pose[:3] = np.nan
    pose[8] = np.nan
    motion = mediapipe_motion(pose, fps=30.0)
    assert np.all(np.isfinite(motion))
    np.testing.assert_allclose(motion[0, :, POSITION], pose[3], atol=1e-6)
    np.testing.assert_allclose(motion[8, :, POSITION], pose[7], atol=1e-6)
    np.testing.assert_allclose(motion[1, :, VELOCITY], 0.0, atol=1e-6)


def test_fill_missing_all_nan_and_mixed():
    values = np.array([[np.nan, np.nan], [1.0, np.nan], [np.nan, np.nan], [3.0, np.nan]])
    filled = fill_missing(values)
    np.testing.assert_array_equal(filled[:, 0], [1.0, 1.0, 1.0, 3.0])
    np.testing.assert_array_equal(filled[:, 1], [0.0, 0.0, 0.0, 0.0])


def test_rotation_round_trip_and_smplx_motion():
    rng = np.random.default_rng(0)
    directions = rng.normal(size=(20, 55, 3))
    axis_angle = directions / np.linalg.norm(directions, axis=-1, keepdims=True) * rng.uniform(0, 3.0, (20, 55, 1))
    np.testing.assert_allclose(matrix_to_axis_angle(axis_angle_to_matrix(axis_angle)), axis_angle, atol=1e-6)
    pi_rotation = np.array([[0.0, 0.0, np.pi]])
    np.testing.assert_allclose(np.abs(matrix_to_axis_angle(axis_angle_to_matrix(pi_rotation))), np.abs(pi_rotation), atol=1e-6)
    step = np.zeros((3, 55, 3))
    step[:, 4, 2] = np.array([0.0, 0.1, 0.2])  # joint 4 turns 0.1 rad per frame about z
    joints = rng.normal(size=(3, 55, 3))
    motion = smplx_motion(step, fps=30.0, joints=joints)
    assert motion.shape == (3, 55, 15) and motion.dtype == np.float32
    np.testing.assert_allclose(motion[2, 4, ANGULAR_VELOCITY], [0.0, 0.0, 3.0], atol=1e-4)
    np.testing.assert_allclose(motion[0, 4, ANGULAR_VELOCITY], [0.0, 0.0, 3.0], atol=1e-4)
    rotation = axis_angle_to_matrix(step[1, 4])
    np.testing.assert_allclose(motion[1, 4, ROTATION_6D], np.concatenate([rotation[:, 0], rotation[:, 1]]), atol=1e-6)
    np.testing.assert_allclose(motion[:, :, POSITION], joints, atol=1e-6)
    assert np.all(smplx_motion(step, fps=30.0)[:, :, POSITION] == 0.0)


def test_wrong_shapes_raise():
    with pytest.raises(ValueError):
        mediapipe_motion(np.zeros((4, 32, 3)), 30.0)
    with pytest.raises(ValueError):
        smplx_motion(np.zeros((4, 54, 3)), 30.0)

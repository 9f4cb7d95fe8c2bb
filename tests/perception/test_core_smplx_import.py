"""tango.perception.smplx_import: BEAT2 npz import, joints with a (tiny synthetic) SMPL-X model, bad files."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from support import shared_media

from tango.perception.artifact_io import PerceptionArtifact, write_perception_artifact
from tango.perception.smplx_import import SMPLX_JOINTS, import_smplx_motion
from tango.runtime.errors import ArtifactNotFound, FailedPrecondition, InvalidArgument


# SMPL-X kinematic tree (kintree_table[0]) of the 55 joints, root first.
SMPLX_PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 15, 15, 15, 20, 25, 26,
                 20, 28, 29, 20, 31, 32, 20, 34, 35, 20, 37, 38, 21, 40, 41, 21, 43, 44, 21, 46, 47, 21, 49, 50, 21,
                 52, 53]


def _motion(name: str) -> Path:
    return shared_media(f"motion/{name}")


def _tiny_model(directory: Path, vertices: int = 80) -> dict[str, np.ndarray]:
    """A random SMPL-X-shaped body model (real weights cannot be downloaded here)."""
    rng = np.random.default_rng(0)
    regressor = rng.random((SMPLX_JOINTS, vertices))
    model = {
        "v_template": rng.normal(size=(vertices, 3)),
        "shapedirs": rng.normal(scale=0.01, size=(vertices, 3, 20)),
        "J_regressor": regressor / regressor.sum(axis=1, keepdims=True),
        "kintree_table": np.stack([np.array(SMPLX_PARENTS) % (2 ** 32), np.arange(SMPLX_JOINTS)]).astype(np.int64),
    }
    directory.mkdir(parents=True, exist_ok=True)
    np.savez(directory / "SMPLX_NEUTRAL.npz", **model)
    return model


def test_import_beat2_motion_with_speech(tmp_path):
    result = import_smplx_motion(_motion("2_scott_0_1_1.npz"), _motion("2_scott_0_1_1.wav"))
    arrays, meta = result.arrays, result.meta
    assert arrays["smplx_poses"].shape == (1906, 55, 3) and arrays["smplx_poses"].dtype == np.float32
    assert arrays["smplx_trans"].shape == (1906, 3) and arrays["smplx_betas"].shape == (300,)
    assert "smplx_joints" not in arrays and arrays["person_present"].all()
    assert meta["representation"] == "smplx" and meta["fps"] == 30.0 and meta["frames"] == 1906
    assert result.audio.size / 16000 == pytest.approx(64.1, abs=0.1)
    write_perception_artifact(tmp_path, result)
    loaded = PerceptionArtifact.load(tmp_path)
    np.testing.assert_array_equal(loaded.arrays["smplx_poses"], arrays["smplx_poses"])
    assert loaded.meta["stats"]["hands_ratio"] is None


def test_joints_with_a_model_directory(tmp_path):
    model = _tiny_model(tmp_path / "models" / "smplx")
    frames = 4
    poses = np.zeros((frames, 165), np.float32)
    poses[1, 3 * 18 + 2] = np.pi / 2  # rotate joint 18 (left elbow) about z in frame 1
    trans = np.tile(np.array([[1.0, 2.0, 3.0]], np.float32), (frames, 1))
    np.savez(tmp_path / "motion.npz", poses=poses, trans=trans, betas=np.zeros(300, np.float32),
             mocap_frame_rate=np.array(30))
    result = import_smplx_motion(tmp_path / "motion.npz", None, tmp_path / "models")
    joints = result.arrays["smplx_joints"]  # (F, 55, 3)
    assert joints.shape == (frames, 55, 3) and joints.dtype == np.float32
    rest = model["J_regressor"] @ model["v_template"]  # (55, 3): zero pose, zero betas
    np.testing.assert_allclose(joints[0], rest + [1.0, 2.0, 3.0], atol=1e-4)
    # rotating the elbow moves only its descendants (wrist 20 and the left-hand fingers)
    moved = np.abs(joints[1] - joints[0]).max(axis=1) > 1e-5
    descendants = {20} | {j for j in range(25, 40)}
    assert set(np.flatnonzero(moved)) <= descendants and moved[20]
    bone = np.linalg.norm(joints[:, 20] - joints[:, 18], axis=1)  # rotation keeps bone length
    np.testing.assert_allclose(bone, bone[0], rtol=1e-5)


def test_model_dir_without_model_files(tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "SMPLX_NEUTRAL.pkl").write_bytes(b"not accepted")
    with pytest.raises(FailedPrecondition) as caught:
        import_smplx_motion(_motion("2_scott_0_1_1.npz"), None, tmp_path / "models")
    assert caught.value.reason == "SMPLX_MODEL_MISSING" and "SMPLX_NEUTRAL.npz" in caught.value.message


@pytest.mark.parametrize("case", ["garbage", "no_poses", "bad_shape", "pickled", "nan", "single_array"])
def test_bad_motion_files(tmp_path, case):
    path = tmp_path / "motion.npz"
    poses = np.zeros((10, 165), np.float32)
    trans = np.zeros((10, 3), np.float32)
    if case == "garbage":
        path.write_bytes(b"\x00\x01garbage" * 100)
    elif case == "no_poses":
        np.savez(path, trans=trans)
    elif case == "bad_shape":
        np.savez(path, poses=np.zeros((10, 99), np.float32), trans=trans)
    elif case == "pickled":
        np.savez(path, poses=np.array([{"a": 1}], dtype=object), trans=trans)
    elif case == "nan":
        poses[3, 4] = np.nan
        np.savez(path, poses=poses, trans=trans)
    else:
        with open(path, "wb") as handle:
            np.save(handle, poses)
    with pytest.raises(InvalidArgument) as caught:
        import_smplx_motion(path)
    assert caught.value.reason == "INVALID_MOTION_FILE"


def test_missing_motion_file(tmp_path):
    with pytest.raises(ArtifactNotFound):
        import_smplx_motion(tmp_path / "absent.npz")

"""Import SMPL-X motion (BEAT2-style .npz) as a perception result of representation "smplx".

The motion file holds `poses` (N, 165) axis-angle of the 55 SMPL-X joints (global orient, 21 body, jaw,
two eyes, 2 x 15 finger joints), `trans` (N, 3), `betas` (B,), optionally `expressions` and
`mocap_frame_rate`. Joint positions need an SMPL-X body model: when `model_dir` is given, the joints
are posed with the `smplx` package's kinematics (`smplx.lbs`) from the model's rest joints
(J_regressor x shaped template). The model file is read with numpy without pickle, so only the
`SMPLX_<GENDER>.npz` release is accepted (not the .pkl one). Pose blend shapes and expressions do not
move the joints and are not applied.
"""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch
from smplx.lbs import batch_rigid_transform, batch_rodrigues, blend_shapes, vertices2joints

from tango.artifacts.hashing import file_sha256
from tango.media.audio import load_audio
from tango.perception.result import ARTIFACT_KIND, AUDIO_SAMPLE_RATE, SCHEMA_VERSION, PerceptionResult
from tango.perception.summary import summarize
from tango.runtime.errors import ArtifactNotFound, FailedPrecondition, InvalidArgument

SMPLX_JOINTS = 55
DEFAULT_MOCAP_FPS = 30.0
_MODEL_KEYS = ("v_template", "shapedirs", "J_regressor", "kintree_table")
_JOINT_BATCH = 1024  # frames posed at once (bounds the (B, 55, 4, 4) transforms)


def _invalid(message: str) -> InvalidArgument:
    return InvalidArgument(message, reason="INVALID_MOTION_FILE")


def _read_motion(npz_path: Path) -> dict[str, np.ndarray]:
    if not npz_path.is_file():
        raise ArtifactNotFound(f"motion file {npz_path} does not exist", metadata={"path": str(npz_path)})
    try:
        loaded = np.load(npz_path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise _invalid(f"{npz_path.name} is not a readable pickle-free .npz: {exc}") from exc
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise _invalid(f"{npz_path.name} is a single array, not an .npz archive of SMPL-X parameters")
    try:
        with loaded as npz:
            wanted = [k for k in ("poses", "trans", "betas", "mocap_frame_rate", "gender") if k in npz.files]
            return {key: npz[key] for key in wanted}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise _invalid(f"{npz_path.name} holds an unreadable or pickled array: {exc}") from exc


def _validated_motion(raw: dict[str, np.ndarray], name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """-> poses (N, 55, 3) float32, trans (N, 3) float32, betas (B,) float32, fps."""
    for key in ("poses", "trans"):
        if key not in raw:
            raise _invalid(f"{name} lacks the key {key!r} (BEAT2-style SMPL-X .npz expected)")
    poses, trans = raw["poses"], raw["trans"]
    if poses.ndim != 2 or poses.shape[1] != SMPLX_JOINTS * 3 or poses.shape[0] == 0:
        raise _invalid(f"{name}: poses must be (N, {SMPLX_JOINTS * 3}) with N >= 1, got {poses.shape}")
    if trans.shape != (poses.shape[0], 3):
        raise _invalid(f"{name}: trans must be ({poses.shape[0]}, 3), got {trans.shape}")
    betas = np.asarray(raw.get("betas", np.zeros(10)), np.float32).reshape(-1)  # (B,)
    if not all(np.issubdtype(a.dtype, np.number) for a in (poses, trans, betas)):
        raise _invalid(f"{name}: poses, trans and betas must be numeric")
    poses, trans = poses.astype(np.float32), trans.astype(np.float32)
    if not (np.isfinite(poses).all() and np.isfinite(trans).all() and np.isfinite(betas).all()):
        raise _invalid(f"{name}: poses, trans or betas hold NaN or infinite values")
    fps = float(np.asarray(raw.get("mocap_frame_rate", DEFAULT_MOCAP_FPS)).reshape(-1)[0])
    if not np.isfinite(fps) or fps <= 0:
        raise _invalid(f"{name}: mocap_frame_rate must be positive, got {fps}")
    return poses.reshape(-1, SMPLX_JOINTS, 3), trans, betas, fps


def find_smplx_model(model_dir: Path, gender: str = "neutral") -> Path:
    """The SMPLX_<GENDER>.npz model file in `model_dir` or `model_dir/smplx` (falls back to NEUTRAL)."""
    names = [f"SMPLX_{gender.upper()}.npz", "SMPLX_NEUTRAL.npz"]
    for folder in (model_dir, model_dir / "smplx"):
        for name in names:
            if (folder / name).is_file():
                return folder / name
    raise FailedPrecondition(
        f"no SMPL-X body model in {model_dir}: expected {names[-1]} (the .npz release of SMPL-X) there or in "
        f"{model_dir / 'smplx'}; pickled .pkl models are not accepted",
        reason="SMPLX_MODEL_MISSING", metadata={"model_dir": str(model_dir)},
    )


def _load_model(model_file: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(model_file, allow_pickle=False) as npz:
            missing = [k for k in _MODEL_KEYS if k not in npz.files]
            if missing:
                raise FailedPrecondition(f"{model_file} lacks {missing}", reason="SMPLX_MODEL_INVALID")
            return {key: np.asarray(npz[key]) for key in _MODEL_KEYS}
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        raise FailedPrecondition(f"{model_file} cannot be read: {exc}", reason="SMPLX_MODEL_INVALID") from exc


def smplx_joints(poses: np.ndarray, trans: np.ndarray, betas: np.ndarray, model: dict[str, np.ndarray]) -> np.ndarray:
    """(N, 55, 3) float32 world joint positions of axis-angle poses (N, 55, 3), trans (N, 3), betas (B,)."""
    v_template = torch.as_tensor(model["v_template"], dtype=torch.float32)  # (V, 3)
    shapedirs = torch.as_tensor(model["shapedirs"], dtype=torch.float32)  # (V, 3, S)
    regressor = torch.as_tensor(np.asarray(model["J_regressor"], np.float32))  # (J, V)
    parents = torch.as_tensor(model["kintree_table"][0].astype(np.int64))  # (J,)
    parents[0] = -1
    if regressor.shape[0] != SMPLX_JOINTS or v_template.shape[0] != regressor.shape[1]:
        raise FailedPrecondition(
            f"SMPL-X model has {regressor.shape[0]} joints / {v_template.shape[0]} vertices, "
            f"regressor {tuple(regressor.shape)}", reason="SMPLX_MODEL_INVALID",
        )
    shape_count = min(betas.shape[0], shapedirs.shape[2])
    betas_t = torch.as_tensor(betas[:shape_count], dtype=torch.float32)[None]  # (1, S')
    v_shaped = v_template[None] + blend_shapes(betas_t, shapedirs[:, :, :shape_count])  # (1, V, 3)
    rest = vertices2joints(regressor, v_shaped)  # (1, J, 3)
    out = np.empty((poses.shape[0], SMPLX_JOINTS, 3), np.float32)
    with torch.no_grad():
        for start in range(0, poses.shape[0], _JOINT_BATCH):
            chunk = torch.as_tensor(poses[start:start + _JOINT_BATCH])  # (b, J, 3)
            rotations = batch_rodrigues(chunk.reshape(-1, 3)).reshape(chunk.shape[0], SMPLX_JOINTS, 3, 3)
            posed, _ = batch_rigid_transform(rotations, rest.expand(chunk.shape[0], -1, -1), parents)  # (b, J, 3)
            out[start:start + chunk.shape[0]] = posed.numpy() + trans[start:start + _JOINT_BATCH, None]
    return out


def import_smplx_motion(
    npz_path: Path | str, wav_path: Path | str | None = None, model_dir: Path | str | None = None, *,
    source_uri: str | None = None, source_sha256: str | None = None,
) -> PerceptionResult:
    """BEAT2-style SMPL-X motion (+ optional paired speech) -> perception result (representation smplx)."""
    npz_path = Path(npz_path)
    raw = _read_motion(npz_path)
    poses, trans, betas, fps = _validated_motion(raw, npz_path.name)  # (N, 55, 3), (N, 3), (B,)
    frames = poses.shape[0]
    arrays = {
        "timestamps_s": np.arange(frames, dtype=np.float64) / fps,
        "source_frame": np.arange(frames, dtype=np.int32),
        "person_present": np.ones(frames, bool),
        "smplx_poses": poses,
        "smplx_trans": trans,
        "smplx_betas": betas,
    }
    if model_dir is not None:
        gender = str(raw["gender"]) if "gender" in raw and raw["gender"].dtype.kind == "U" else "neutral"
        arrays["smplx_joints"] = smplx_joints(poses, trans, betas, _load_model(find_smplx_model(Path(model_dir), gender)))
    audio = load_audio(wav_path, AUDIO_SAMPLE_RATE) if wav_path is not None else None
    meta = {
        "kind": ARTIFACT_KIND,
        "schema_version": SCHEMA_VERSION,
        "representation": "smplx",
        "fields": list(arrays),
        "fps": fps,
        "frames": frames,
        "duration_s": frames / fps,
        "width": 0,
        "height": 0,
        "source": {"uri": source_uri or npz_path.resolve().as_uri(), "sha256": source_sha256 or file_sha256(npz_path)},
        "has_audio": audio is not None,
    }
    meta["stats"] = summarize(arrays, meta)
    return PerceptionResult(arrays=arrays, meta=meta, audio=audio)

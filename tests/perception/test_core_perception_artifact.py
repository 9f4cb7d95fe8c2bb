"""tango.perception.artifact_io: write / load round trip, masks, kind checks."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tango.perception.core import heard
from tango.perception.artifact_io import PerceptionArtifact, write_perception_artifact
from tango.perception.result import SCHEMA_VERSION, PerceptionResult
from tango.perception.summary import summarize
from tango.runtime.errors import ArtifactNotFound, FailedPrecondition, WrongArtifactKind


def _synthetic_result(frames: int = 5, with_audio: bool = True) -> tuple[PerceptionResult, np.ndarray]:
    rng = np.random.default_rng(0)
    height, width = 72, 96
    masks = rng.random((frames, height, width)) > 0.5  # (F, Hm, Wm)
    boxes = np.full((frames, 2, 4), np.nan, np.float32)
    boxes[1, 0] = [0.1, 0.2, 0.3, 0.4]
    clarity = np.full((frames, 2), np.nan, np.float32)
    clarity[1, 0] = 12.5
    arrays = {
        "timestamps_s": np.arange(frames) / 30.0,
        "source_frame": np.arange(frames, dtype=np.int32),
        "person_present": np.array([True] * (frames - 1) + [False]),
        "pose_world": rng.normal(size=(frames, 33, 3)).astype(np.float32),
        "pose_visibility": rng.random((frames, 33)).astype(np.float32),
        "pose_image": rng.random((frames, 33, 2)).astype(np.float32),
        "mask_bits": np.packbits(masks.reshape(frames, -1), axis=1),
        "mask_shape": np.array([height, width], np.int32),
        "hand_boxes": boxes,
        "hand_clarity": clarity,
        "face_present": np.array([True] * (frames - 1) + [False]),
        "face_landmarks": rng.random((frames, 95, 3)).astype(np.float32),
        "head_pose": rng.normal(size=(frames, 3)).astype(np.float32),
    }
    meta = {"kind": "perception", "schema_version": SCHEMA_VERSION, "representation": "mediapipe", "fields": list(arrays),
            "fps": 30.0, "frames": frames, "duration_s": frames / 30.0, "width": 1280, "height": 960,
            "source": {"uri": "file:///x.mp4", "sha256": "0" * 64}, "has_audio": with_audio}
    meta["stats"] = summarize(arrays, meta)
    audio = (0.3 * np.sin(np.arange(8000) / 5.0)).astype(np.float32) if with_audio else None
    return PerceptionResult(arrays=arrays, meta=meta, audio=audio), masks


def test_round_trip(tmp_path):
    result, masks = _synthetic_result()
    write_perception_artifact(tmp_path / "art", result)
    assert sorted(p.name for p in (tmp_path / "art").iterdir()) == ["arrays.npz", "audio.wav", "meta.json"]
    loaded = PerceptionArtifact.load(tmp_path / "art")
    assert loaded.meta == json.loads(json.dumps(result.meta))
    assert loaded.frames == 5 and loaded.fps == 30.0
    for key, value in result.arrays.items():
        np.testing.assert_array_equal(loaded.arrays[key], value)
        assert loaded.arrays[key].dtype == value.dtype
    np.testing.assert_array_equal(loaded.masks(), masks)
    np.testing.assert_array_equal(loaded.mask(3), masks[3])
    audio = loaded.audio()
    assert audio.dtype == np.float32 and audio.size == 8000
    np.testing.assert_allclose(audio, result.audio, atol=1e-4)  # PCM16 quantisation


def test_stats_of_synthetic_result():
    result, _ = _synthetic_result()
    stats = result.meta["stats"]
    assert stats["pose_ratio"] == pytest.approx(0.8)
    assert stats["hands_ratio"] == pytest.approx(0.2)
    assert stats["mean_hand_clarity"] == pytest.approx(12.5)


def test_without_audio(tmp_path):
    result, _ = _synthetic_result(with_audio=False)
    write_perception_artifact(tmp_path, result)
    assert not (tmp_path / "audio.wav").exists()
    assert PerceptionArtifact.load(tmp_path).audio() is None


def test_wrong_kind_and_version(tmp_path):
    result, _ = _synthetic_result()
    write_perception_artifact(tmp_path, result)
    meta = json.loads((tmp_path / "meta.json").read_text())
    (tmp_path / "meta.json").write_text(json.dumps(meta | {"kind": "graph"}))
    with pytest.raises(WrongArtifactKind):
        PerceptionArtifact.load(tmp_path)
    for old in (1, 2):  # before face mesh, before the transcript: re-analysed, not misread
        (tmp_path / "meta.json").write_text(json.dumps(meta | {"schema_version": old}))
        with pytest.raises(WrongArtifactKind):
            PerceptionArtifact.load(tmp_path)


def test_the_audio_transcript_is_heard_once_and_kept(tmp_path):
    """Ingest keeps what the recogniser heard in the reference's audio (a tone: no speech, with its reason)."""
    result, _ = _synthetic_result()
    assert PerceptionArtifact.load(write_perception_artifact(tmp_path / "plain", result)).speech() is None
    kept = PerceptionArtifact.load(write_perception_artifact(tmp_path / "heard", heard(result)))
    speech = kept.speech()
    assert speech is not None and speech.status != "ok" and speech.words == () and speech.reason
    assert speech.phones is not None or speech.status != "ok"
    without_audio, _ = _synthetic_result(with_audio=False)
    assert heard(without_audio).speech is None


def test_missing_artifact(tmp_path):
    with pytest.raises(ArtifactNotFound):
        PerceptionArtifact.load(tmp_path / "nothing")


def test_pickled_arrays_are_refused(tmp_path):
    result, _ = _synthetic_result()
    write_perception_artifact(tmp_path, result)
    arrays = dict(result.arrays) | {"hand_boxes": np.array([{"evil": 1}], dtype=object)}
    np.savez(tmp_path / "arrays.npz", **arrays)
    with pytest.raises(Exception) as caught:
        PerceptionArtifact.load(tmp_path)
    assert getattr(caught.value, "reason", "") == "CORRUPT_ARTIFACT"


def test_smplx_artifact_has_no_masks(tmp_path):
    arrays = {"timestamps_s": np.arange(3) / 30.0, "source_frame": np.arange(3, dtype=np.int32),
              "person_present": np.ones(3, bool), "smplx_poses": np.zeros((3, 55, 3), np.float32),
              "smplx_trans": np.zeros((3, 3), np.float32), "smplx_betas": np.zeros(10, np.float32)}
    meta = {"kind": "perception", "schema_version": SCHEMA_VERSION, "representation": "smplx", "fields": list(arrays),
            "fps": 30.0, "frames": 3, "duration_s": 0.1, "width": 0, "height": 0,
            "source": {"uri": "file:///m.npz", "sha256": "1" * 64}, "has_audio": False, "stats": {}}
    write_perception_artifact(tmp_path, PerceptionResult(arrays, meta, None))
    loaded = PerceptionArtifact.load(tmp_path)
    with pytest.raises(FailedPrecondition):
        loaded.masks()

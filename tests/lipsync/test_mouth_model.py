"""tango.lipsync.mouth_model: learns an audio -> lip relation, saves and loads strictly."""
from __future__ import annotations

import numpy as np
import pytest

from tango.lipsync.mouth_model import MouthModel, MouthModelConfig, frame_features, train_mouth_model
from tango.runtime.errors import CheckpointMismatch


def _speech_with_envelope(seconds: float, fps: float, rng) -> tuple[np.ndarray, np.ndarray]:
    """Noise bursts whose loudness follows a random 'mouth opening' per video frame."""
    frames = int(seconds * fps)
    opening = np.clip(np.convolve(rng.random(frames), np.ones(5) / 5, mode="same"), 0, 1)  # (F,)
    gain = np.repeat(opening, int(16000 / fps))
    speech = (rng.normal(size=gain.size) * gain * 0.3).astype(np.float32)
    return speech, opening


def test_learns_loudness_to_opening_and_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    fps = 25.0
    speech, opening = _speech_with_envelope(20.0, fps, rng)
    targets = np.stack([opening, -opening], axis=1).astype(np.float32)  # (F, 2)
    targets[::7] = np.nan  # frames without a face are skipped
    config = MouthModelConfig()
    model = train_mouth_model(frame_features(speech, len(opening), fps, config), targets, config)
    test_speech, test_opening = _speech_with_envelope(6.0, fps, rng)
    predicted = model.predict(test_speech, len(test_opening), fps)
    assert predicted.shape == (len(test_opening), 2)
    assert np.corrcoef(predicted[:, 0], test_opening)[0, 1] > 0.7
    model.save(tmp_path / "mouth.safetensors")
    loaded = MouthModel.load(tmp_path / "mouth.safetensors")
    np.testing.assert_allclose(loaded.predict(test_speech, len(test_opening), fps), predicted, rtol=1e-4, atol=1e-4)


def test_too_few_faces_and_bad_files(tmp_path):
    with pytest.raises(ValueError):
        train_mouth_model(np.zeros((40, 220), np.float32), np.zeros((40, 2), np.float32))
    (tmp_path / "bad.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(CheckpointMismatch):
        MouthModel.load(tmp_path / "bad.safetensors")

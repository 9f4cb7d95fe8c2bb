"""tango.lipsync.mouth_model: learns an audio -> lip relation, saves and loads strictly."""
from __future__ import annotations

import numpy as np
import pytest

from tango.lipsync.mouth_model import (
    MouthModel, MouthModelConfig, frame_features, train_mouth_model, viseme_feature_count, viseme_features,
)
from tango.lipsync.visemes import VISEMES
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


def test_viseme_features_one_hot_with_context_inside_the_span():
    config = MouthModelConfig(viseme_context=1)
    features = viseme_features(np.array([0, 3, 5]), config)  # (3, 3 V)
    count = len(VISEMES)
    assert features.shape == (3, 3 * count) == (3, viseme_feature_count(config))
    blocks = features.reshape(3, 3, count)  # (frame, offset -1..1, class)
    assert (blocks.sum(axis=2) == 1).all()
    assert blocks[1, 0].argmax() == 0 and blocks[1, 1].argmax() == 3 and blocks[1, 2].argmax() == 5
    assert blocks[0, 0].argmax() == 0 and blocks[2, 2].argmax() == 5  # edges replicated


def test_phone_model_hears_what_the_audio_does_not_and_round_trips(tmp_path):
    """Lips set by the viseme while the audio is loudness-matched noise: only a phone model can learn them."""
    rng = np.random.default_rng(1)
    fps, config = 25.0, MouthModelConfig()

    def data(seconds):
        frames = int(seconds * fps)
        visemes = np.repeat(rng.integers(0, len(VISEMES), frames // 5 + 1), 5)[:frames]
        speech = (rng.normal(size=int(frames * 16000 / fps)) * 0.1).astype(np.float32)
        shape = np.sin(np.arange(len(VISEMES)) * 1.7)[visemes]  # (F,) lip coefficient of each class
        return speech, visemes, np.stack([shape, np.cos(shape)], axis=1).astype(np.float32)

    speech, visemes, targets = data(30.0)
    audio = frame_features(speech, len(visemes), fps, config)
    heard = np.concatenate([audio, viseme_features(visemes, config)], axis=1)
    phone_model = train_mouth_model(heard, targets, config, phones=True)
    audio_model = train_mouth_model(audio, targets, config)
    test_speech, test_visemes, truth = data(8.0)
    predicted = phone_model.predict(test_speech, len(test_visemes), fps, visemes=test_visemes)
    assert np.corrcoef(predicted[:, 0], truth[:, 0])[0, 1] > 0.8
    deaf = audio_model.predict(test_speech, len(test_visemes), fps)
    assert abs(np.corrcoef(deaf[:, 0], truth[:, 0])[0, 1]) < 0.3
    with pytest.raises(ValueError):
        phone_model.predict(test_speech, len(test_visemes), fps)  # a phone model needs the visemes
    phone_model.save(tmp_path / "phones.safetensors")
    loaded = MouthModel.load(tmp_path / "phones.safetensors")
    assert loaded.phones
    np.testing.assert_allclose(loaded.predict(test_speech, len(test_visemes), fps, visemes=test_visemes), predicted,
                               rtol=1e-4, atol=1e-4)
    audio_model.save(tmp_path / "audio.safetensors")
    assert not MouthModel.load(tmp_path / "audio.safetensors").phones

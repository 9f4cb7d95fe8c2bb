"""tango.lipsync.mouth_model's slow context: kept where the lips follow how the speech runs over a second, left out
where they follow the phones, and stored so that a loaded model hears what it was trained on."""
from __future__ import annotations

import numpy as np

from tango.lipsync.mouth_model import (
    MouthModel, MouthModelConfig, fit_mouth_model, frame_features, slow_context,
)
from test_mouth_model_kernel import FPS, RATE, _band

PIECE = RATE // 25  # one video frame of speech


def _speech(seconds: float, rng, slow: bool) -> tuple[np.ndarray, np.ndarray]:
    """Frame-long pieces of low-band (300-700 Hz) or high-band (3-5 kHz) noise. slow=True: the chance of a high
    piece is a posture held for 1.2 s, which the lips (F, 2) follow; one frame's neighbourhood holds too few
    pieces to tell it. slow=False: the lips follow each piece's own band."""
    frames = int(seconds * FPS)
    posture = np.repeat(rng.random(frames // 30 + 1), 30)[:frames]
    high = rng.random(frames) < (posture if slow else 0.5)
    samples = frames * PIECE
    speech = np.where(np.repeat(high, PIECE), _band(rng.normal(size=samples), 3000, 5000),
                      _band(rng.normal(size=samples), 300, 700)) + 0.01 * rng.normal(size=samples)  # a room's floor
    lips = posture if slow else high.astype(np.float64)
    return (speech * 0.1).astype(np.float32), np.stack([lips, 1.0 - lips], axis=1).astype(np.float32)


def _fit(speech: np.ndarray, lips: np.ndarray, config: MouthModelConfig = MouthModelConfig()) -> MouthModel:
    return fit_mouth_model(frame_features(speech, len(lips), FPS, config, slow=True), lips, config)


def _correlation(model: MouthModel, speech: np.ndarray, lips: np.ndarray) -> float:
    return float(np.corrcoef(model.predict(speech, len(lips), FPS)[:, 0], lips[:, 0])[0, 1])


def test_slow_context_is_kept_where_the_lips_follow_the_speech_over_a_second(tmp_path):
    rng = np.random.default_rng(0)
    speech, lips = _speech(40.0, rng, slow=True)
    model = _fit(speech, lips)
    near = _fit(speech, lips, MouthModelConfig(slow_bins=0))
    assert model.slow and not near.slow
    assert model.centres.shape[1] == MouthModelConfig().feature_count(slow=True)
    test_speech, test_lips = _speech(12.0, rng, slow=True)
    assert _correlation(model, test_speech, test_lips) > _correlation(near, test_speech, test_lips) + 0.03
    model.save(tmp_path / "slow.safetensors")
    loaded = MouthModel.load(tmp_path / "slow.safetensors")
    assert loaded.slow
    np.testing.assert_allclose(loaded.predict(test_speech, len(test_lips), FPS),
                               model.predict(test_speech, len(test_lips), FPS), rtol=1e-4, atol=1e-4)


def test_slow_context_is_left_out_where_the_lips_follow_the_phones():
    speech, lips = _speech(40.0, np.random.default_rng(1), slow=False)
    assert not _fit(speech, lips).slow


def test_slow_context_is_the_mean_over_bins_cut_to_the_utterance():
    config = MouthModelConfig(slow_bin_s=0.03, slow_bins=1, mel_bands=2)
    mel = np.arange(20, dtype=np.float32).reshape(10, 2)  # (M, bands): band 0 holds 0, 2, 4, ...
    bins = slow_context(mel, np.array([0, 5]), config).reshape(2, 3, 2)  # (frames, bins, bands)
    np.testing.assert_allclose(bins[1, :, 0], [4.0, 10.0, 16.0])  # mel frames 1-3, 4-6, 7-9
    np.testing.assert_allclose(bins[0, :, 0], [0.0, 1.0, 6.0])  # cut: frame 0 alone, frames 0-1, frames 2-4
    speech = np.random.default_rng(2).normal(size=RATE).astype(np.float32)
    features = frame_features(speech, 25, FPS, MouthModelConfig(), slow=True)
    assert features.shape == (25, MouthModelConfig().feature_count(slow=True))
    np.testing.assert_array_equal(features[:, : MouthModelConfig().feature_count()],
                                  frame_features(speech, 25, FPS, MouthModelConfig()))

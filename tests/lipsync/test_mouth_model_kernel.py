"""tango.lipsync.mouth_model's kernel ridge: hears what a linear model cannot, bounded by Nystroem, strictly stored."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from tango.lipsync.mouth_model import (
    MouthModel, MouthModelConfig, frame_features, gaussian_kernel, train_mouth_model,
)
from tango.runtime.errors import CheckpointMismatch

FPS, RATE = 25.0, 16000


def _band(noise: np.ndarray, low: float, high: float) -> np.ndarray:
    spectrum = np.fft.rfft(noise)
    frequency = np.fft.rfftfreq(len(noise), 1.0 / RATE)
    spectrum[(frequency < low) | (frequency > high)] = 0.0
    band = np.fft.irfft(spectrum, len(noise))
    return band / band.std()


def _xor_speech(seconds: float, rng) -> tuple[np.ndarray, np.ndarray]:
    """Speech of 200-ms pieces, each with a loud low band (300-700 Hz) or not and a loud high band (3-5 kHz) or
    not; the lips (F, 2) open exactly when one band is loud (XOR): no sum of band energies tells them apart."""
    pieces = int(seconds * 5)
    low_on, high_on = rng.integers(0, 2, pieces), rng.integers(0, 2, pieces)
    samples = pieces * RATE // 5
    envelope = lambda on: np.repeat(0.03 + on, RATE // 5)  # noqa: E731 - (S,) per-sample gain
    speech = (_band(rng.normal(size=samples), 300, 700) * envelope(low_on)
              + _band(rng.normal(size=samples), 3000, 5000) * envelope(high_on)
              + 0.01 * rng.normal(size=samples)) * 0.1  # a room's noise floor in every band
    opening = np.repeat(low_on ^ high_on, int(FPS / 5)).astype(np.float32)  # (F,)
    return speech.astype(np.float32), np.stack([opening, 1.0 - opening], axis=1)


def _correlation(model: MouthModel, speech: np.ndarray, lips: np.ndarray) -> float:
    return float(np.corrcoef(model.predict(speech, len(lips), FPS)[:, 0], lips[:, 0])[0, 1])


def test_kernel_model_hears_what_a_linear_one_cannot():
    rng = np.random.default_rng(0)
    speech, lips = _xor_speech(30.0, rng)
    features = frame_features(speech, len(lips), FPS, MouthModelConfig())
    kernel = train_mouth_model(features, lips, MouthModelConfig())
    linear = train_mouth_model(features, lips, MouthModelConfig(kernel="linear"))
    assert kernel.centres is not None and kernel.centres.shape == (len(lips), features.shape[1])  # exact: all
    assert linear.centres is None
    test_speech, test_lips = _xor_speech(10.0, rng)
    assert _correlation(kernel, test_speech, test_lips) > 0.8
    assert _correlation(linear, test_speech, test_lips) < 0.4
    with pytest.raises(ValueError):
        train_mouth_model(features, lips, MouthModelConfig(kernel="cubic"))


def test_nystroem_beyond_max_centres_agrees_with_the_exact_fit_and_round_trips(tmp_path):
    rng = np.random.default_rng(1)
    speech, lips = _xor_speech(30.0, rng)
    config = MouthModelConfig()
    features = frame_features(speech, len(lips), FPS, config)
    exact = train_mouth_model(features, lips, config)
    bounded = train_mouth_model(features, lips, dataclasses.replace(config, max_centres=200))
    assert bounded.centres.shape == (200, features.shape[1]) and bounded.weights.shape == (200, 2)
    test_speech, test_lips = _xor_speech(10.0, rng)
    exact_lips = exact.predict(test_speech, len(test_lips), FPS)
    bounded_lips = bounded.predict(test_speech, len(test_lips), FPS)
    assert np.corrcoef(exact_lips[:, 0], bounded_lips[:, 0])[0, 1] > 0.9
    assert _correlation(bounded, test_speech, test_lips) > 0.75
    bounded.save(tmp_path / "kernel.safetensors")
    loaded = MouthModel.load(tmp_path / "kernel.safetensors")
    np.testing.assert_allclose(loaded.predict(test_speech, len(test_lips), FPS), bounded_lips, rtol=1e-4, atol=1e-4)
    # centres of another feature count, or weights not over the centres: not this model
    tensors = load_file(str(tmp_path / "kernel.safetensors"))
    for name, value in (("centres", tensors["centres"][:, :-1]), ("weights", tensors["weights"][:-1])):
        save_file({**tensors, name: np.ascontiguousarray(value)}, str(tmp_path / "bad.safetensors"),
                  metadata={"phones": "False"})
        with pytest.raises(CheckpointMismatch):
            MouthModel.load(tmp_path / "bad.safetensors")


def test_gaussian_kernel_is_one_at_a_centre_and_falls_with_distance():
    centres = np.zeros((1, 4))
    values = gaussian_kernel(np.array([[0.0, 0, 0, 0], [1.0, 1, 0, 0], [2.0, 2, 0, 0]]), centres)[:, 0]
    np.testing.assert_allclose(values, np.exp(-np.array([0.0, 2.0, 8.0]) / 4))


def test_nystroem_cross_validation_takes_each_block_out_of_the_shared_products():
    """Each fold of a Nystroem model's cross-validation is the fit on the other blocks' rows (same centres)."""
    from tango.lipsync.mouth_model import _held_out_errors, _jitter, _nystroem_centres

    rng = np.random.default_rng(2)
    x = rng.normal(size=(700, 30))
    y = rng.normal(size=(700, 3)) + np.sin(x[:, :3])
    config = MouthModelConfig(max_centres=200, kernel_alphas=(0.3, 3.0))
    centres = _nystroem_centres(x, 200)
    cross, inner = gaussian_kernel(x, centres), gaussian_kernel(centres, centres)
    block = np.arange(len(x)) * config.holdout_blocks // len(x)
    expected = np.zeros((2, 3))
    for held in range(config.holdout_blocks):
        fit, out = block != held, block == held
        mean = y[fit].mean(axis=0)
        for k, alpha in enumerate(config.kernel_alphas):
            weights = np.linalg.solve(cross[fit].T @ cross[fit] + alpha * inner + _jitter(inner),
                                      cross[fit].T @ (y[fit] - mean))
            expected[k] += np.sum((cross[out] @ weights + mean - y[out]) ** 2, axis=0)
    np.testing.assert_allclose(_held_out_errors(x, y, config.kernel_alphas, config), expected, rtol=1e-8)

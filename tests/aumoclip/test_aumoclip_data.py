from __future__ import annotations

import numpy as np
import pytest
from aumoclip_testkit import BEAT2_PREFIX, require_media

from tango.aumoclip.data import (gather_clips, load_pairs, pairs_from_perception, prepare_audio, split_pair,
                                 window_starts)
from tango.runtime.errors import InvalidArgument, NoPerson, SilentAudio


def _speech_like(seconds: float, rate: int = 16000) -> np.ndarray:
    rng = np.random.default_rng(1)
    return (rng.standard_normal(int(seconds * rate)) * 0.1).astype(np.float32)


def _perception(frames: int, fps: float, nan_frames: slice | None = None) -> tuple[dict, dict]:
    rng = np.random.default_rng(2)
    pose = rng.standard_normal((frames, 33, 3)).astype(np.float32) * 0.1
    if nan_frames is not None:
        pose[nan_frames] = np.nan
    arrays = {"pose_world": pose, "timestamps_s": np.arange(frames) / fps}
    return arrays, {"representation": "mediapipe", "fps": fps}


def test_beat2_pair_and_time_splits():
    require_media()
    (pair,) = load_pairs(BEAT2_PREFIX)
    assert pair.motion.shape == (1906, 55, 15) and pair.representation == "smplx"
    assert pair.audio.shape[0] == round(1906 * 16000 / 30)
    first, last = split_pair(pair, "first80"), split_pair(pair, "last20")
    assert (first.frames, last.frames) == (1525, 381)
    assert first.audio.shape[0] + last.audio.shape[0] == pair.audio.shape[0]
    assert np.array_equal(last.motion[0], pair.motion[1525])


def test_perception_pair_resamples_25_fps_and_fills_nans():
    arrays, meta = _perception(frames=125, fps=25.0, nan_frames=slice(10, 20))
    (pair,) = pairs_from_perception(arrays, meta, _speech_like(5.0))
    assert pair.motion.shape[1:] == (33, 15) and pair.representation == "mediapipe"
    assert pair.frames == 149  # poses span 0..4.96 s: frames 0..148 at 30 fps
    assert np.isfinite(pair.motion).all()


def test_stereo_and_44k_audio_is_resampled():
    stereo = np.stack([_speech_like(5.0, 44100), _speech_like(5.0, 44100)], axis=1)  # (S, 2)
    mono = prepare_audio(stereo, 44100)
    assert mono.ndim == 1 and abs(mono.shape[0] - 80000) <= 1
    arrays, meta = _perception(frames=150, fps=30.0)
    (pair,) = pairs_from_perception(arrays, meta, stereo, sample_rate=44100)
    assert pair.frames == 150 and pair.audio.shape[0] == 80000


def test_bad_inputs_raise_domain_errors():
    arrays, meta = _perception(frames=150, fps=30.0)
    with pytest.raises(InvalidArgument) as short:
        pairs_from_perception(arrays, meta, _speech_like(2.0))
    assert short.value.reason == "AUDIO_TOO_SHORT"
    with pytest.raises(SilentAudio):
        pairs_from_perception(arrays, meta, np.zeros(16000 * 5, np.float32))
    nan_arrays, _ = _perception(frames=150, fps=30.0, nan_frames=slice(None))
    with pytest.raises(NoPerson):
        pairs_from_perception(nan_arrays, meta, _speech_like(5.0))
    with pytest.raises(InvalidArgument) as split:
        split_pair(pairs_from_perception(arrays, meta, _speech_like(5.0))[0], "middle")
    assert split.value.reason == "UNKNOWN_SPLIT"


def test_windows_and_clip_gathering():
    assert window_starts(130, 120, 5).tolist() == [0, 5, 10]
    assert window_starts(100, 120, 5).size == 0
    arrays, meta = _perception(frames=150, fps=30.0)
    pairs = pairs_from_perception(arrays, meta, _speech_like(5.0))
    batch = gather_clips(pairs, np.array([0, 0]), np.array([0, 30]), 120)
    assert batch.wave.shape == (2, 64000) and batch.motion.shape == (2, 120, 33, 15) and batch.text is None
    assert np.array_equal(batch.motion[1], pairs[0].motion[30:150])
    assert np.array_equal(batch.wave[1], pairs[0].audio[16000:80000])

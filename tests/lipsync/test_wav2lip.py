"""Wav2Lip: published checkpoint layout (strict loading), mel front end, and the sync post-process."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from support import shared_media
from tango.lipsync.wav2lip import (Wav2Lip, Wav2LipConfig, Wav2LipSyncer, build_wav2lip, mel_windows,
                                   melspectrogram, pad_boxes, smooth_boxes, write_random_wav2lip)
from tango.media.audio import extract_audio
from tango.media.video import probe_video, read_frames
from tango.render.lipsync import WAV2LIP_SPEC, LipSyncWeights, Ready, resolve_lipsync, validate_state_dict
from tango.runtime.errors import CheckpointMismatch


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """A random Wav2Lip written as a user would drop it: <dir>/1/wav2lip.pth."""
    folder = tmp_path_factory.mktemp("wav2lip") / "1"
    folder.mkdir()
    return write_random_wav2lip(folder / "wav2lip.pth", seed=0)


@pytest.fixture(scope="module")
def state(checkpoint) -> dict[str, torch.Tensor]:
    return torch.load(str(checkpoint), map_location="cpu", weights_only=True)


def syncer(state, face_boxes=None) -> Wav2LipSyncer:
    return build_wav2lip(LipSyncWeights(Path("random.pth"), "0" * 64, state), face_boxes=face_boxes)


def save_variant(tmp_path: Path, state: dict[str, torch.Tensor]) -> Path:
    (tmp_path / "1").mkdir()
    torch.save(state, str(tmp_path / "1" / "wav2lip.pth"))
    return tmp_path


def test_random_network_matches_the_spec(state):
    validate_state_dict(state, WAV2LIP_SPEC, Path("wav2lip.pth"))
    assert len(state) == 352  # 122 conv/BN groups: weights, biases, running stats, num_batches_tracked
    assert sum(v.numel() for v in state.values() if v.is_floating_point()) == 36_320_787


def test_resolve_with_the_architecture_is_ready(checkpoint):
    model, status = resolve_lipsync(checkpoint.parent.parent, build=build_wav2lip)
    assert isinstance(status, Ready) and status.model == "wav2lip" and len(status.sha256) == 64
    assert isinstance(model, Wav2LipSyncer) and not model.net.training


def test_wrong_shape_is_refused(tmp_path, state):
    bad = dict(state)
    bad["face_decoder_blocks.4.1.conv_block.0.weight"] = torch.zeros(256, 256, 1, 1)  # not in the spec
    with pytest.raises(CheckpointMismatch, match="does not load"):
        resolve_lipsync(save_variant(tmp_path, bad), build=build_wav2lip)


def test_missing_key_is_refused(tmp_path, state):
    bad = {k: v for k, v in state.items() if k != "audio_encoder.7.conv_block.1.bias"}
    with pytest.raises(CheckpointMismatch, match="audio_encoder.7.conv_block.1.bias"):
        resolve_lipsync(save_variant(tmp_path, bad), build=build_wav2lip)


@pytest.mark.parametrize("extra, message", [("output_block.3.weight", "does not load"),
                                            ("disc.weight", "unexpected")])
def test_extra_key_is_refused(tmp_path, state, extra, message):
    bad = {**state, extra: torch.zeros(3)}
    with pytest.raises(CheckpointMismatch, match=message):
        resolve_lipsync(save_variant(tmp_path, bad), build=build_wav2lip)


def test_official_wrapped_format_loads(tmp_path, state):
    wrapped = {"state_dict": {"module." + k: v for k, v in state.items()}, "global_step": 3}
    model, status = resolve_lipsync(save_variant(tmp_path, wrapped), build=build_wav2lip)
    assert isinstance(status, Ready)
    assert torch.equal(model.net.output_block[1].weight, state["output_block.1.weight"])


def test_forward_shapes(state):
    net = Wav2Lip().eval()
    net.load_state_dict(state, strict=True)
    with torch.inference_mode():
        out = net(torch.randn(2, 1, 80, 16), torch.rand(2, 6, 96, 96))
    assert out.shape == (2, 3, 96, 96) and float(out.min()) >= 0.0 and float(out.max()) <= 1.0


def test_melspectrogram_and_windows():
    wav = np.sin(2 * np.pi * 220 * np.arange(16000) / 16000).astype(np.float32) * 0.3
    mel = melspectrogram(wav)
    assert mel.shape == (80, 81) and mel.dtype == np.float32
    assert -4.0 <= mel.min() and mel.max() <= 4.0 and np.ptp(mel) > 1.0
    windows = mel_windows(mel, 25, 25.0)
    assert windows.shape == (25, 1, 80, 16)
    np.testing.assert_array_equal(windows[2, 0], mel[:, 6:22])  # int(2 * 80 / 25) = 6
    np.testing.assert_array_equal(windows[-1, 0], mel[:, 65:81])  # int(24 * 3.2) = 76 clamped to 81 - 16
    np.testing.assert_array_equal(mel_windows(mel, 3, 25.0, first=2), windows[2:5])
    short = mel_windows(mel[:, :5], 2, 25.0)
    assert short.shape == (2, 1, 80, 16) and (short[:, 0, :, 5:] == -4.0).all()


def test_box_padding_and_smoothing():
    boxes = np.array([[10, 10, 50, 50], [-1, -1, -1, -1], [12, 20, 52, 95]])
    padded = pad_boxes(boxes, 100, 100, Wav2LipConfig().pads)
    np.testing.assert_array_equal(padded, [[10, 10, 50, 60], [-1, -1, -1, -1], [12, 20, 52, 100]])
    run = np.array([[0, 0, 10, 10], [2, 2, 12, 12], [4, 4, 14, 14], [-1, -1, -1, -1], [7, 7, 9, 9]])
    smooth = smooth_boxes(run, 2)
    np.testing.assert_array_equal(smooth, [[1, 1, 11, 11], [3, 3, 13, 13], [3, 3, 13, 13], [-1] * 4, [7, 7, 9, 9]])


def test_sync_with_given_boxes_changes_only_the_box(state):
    frames = np.random.default_rng(0).integers(0, 256, (3, 64, 80, 3), dtype=np.uint8)
    boxes = np.array([[10, 5, 60, 55], [-1, -1, -1, -1], [70, 40, 200, 200]])  # last clipped to the frame
    model = syncer(state, face_boxes=lambda f: boxes)
    out = model.sync(frames, 10, 25.0, np.zeros(8000, np.float32), 16000)
    assert out.shape == frames.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(model.last_boxes, [[10, 5, 60, 55], [-1, -1, -1, -1], [70, 40, 80, 64]])
    outside = np.ones(frames.shape[:3], bool)
    outside[0, 5:55, 10:60] = outside[2, 40:64, 70:80] = False
    assert np.array_equal(out[outside], frames[outside]) and not np.array_equal(out, frames)
    assert (model.frames_changed, model.frames_left) == (2, 1)


def test_sync_on_real_frames(state):
    video = shared_media("video/mimictalk_German_20s.mp4")
    frames = np.stack([f for _, f in sorted(read_frames(video, [0, 1, 2, 3]).items())])  # (4, H, W, 3)
    audio = extract_audio(video)
    model = syncer(state)
    try:
        out = model.sync(frames, 0, probe_video(video).fps, audio, 16000)
    finally:
        model.close()
    assert out.shape == frames.shape and out.dtype == np.uint8
    boxes = model.last_boxes  # (4, 4)
    assert (boxes >= 0).all() and model.frames_changed == 4 and model.frames_left == 0
    outside = np.ones(frames.shape[:3], bool)
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        assert 0 < x1 - x0 < frames.shape[2] and 0 < y1 - y0 < frames.shape[1]
        outside[i, y0:y1, x0:x1] = False
    assert np.array_equal(out[outside], frames[outside]) and not np.array_equal(out, frames)


def test_sync_without_a_face_passes_frames_unchanged(state):
    frames = np.full((2, 128, 128, 3), 128, np.uint8)
    model = syncer(state)
    try:
        out = model.sync(frames, 0, 25.0, np.zeros(16000, np.float32), 16000)
    finally:
        model.close()
    assert np.array_equal(out, frames) and (model.frames_changed, model.frames_left) == (0, 2)
    assert (model.last_boxes == -1).all()

"""Lip-sync weight loading (absent / corrupt / mismatched / valid) and the JSON sidecar."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from tango.media.audio import AudioTrack
from tango.media.encode import Mp4Writer, probe_output
from tango.render.lipsync import (WAV2LIP_SPEC, Applied, Ready, Skipped, lipsync_video, load_weights,
                                  resolve_lipsync)
from tango.render.renderer import RenderReport
from tango.render.sidecar import build_sidecar, sidecar_path, write_sidecar
from tango.runtime.errors import CheckpointMismatch


def spec_tensors(prefix: str = "") -> dict[str, torch.Tensor]:
    """Small random tensors under the Wav2Lip names and shapes the spec requires (not a trained model)."""
    generator = torch.Generator().manual_seed(0)
    return {prefix + k: torch.randn(shape, generator=generator) for k, shape in WAV2LIP_SPEC.required.items()}


def test_absent_weights_are_skipped_with_a_reason(tmp_path):
    model, status = resolve_lipsync(tmp_path / "wav2lip")
    assert model is None and isinstance(status, Skipped)
    assert status.to_dict() == {"status": "skipped", "reason": f"no lip-sync weights in {tmp_path / 'wav2lip'}"}


def test_corrupt_weights_raise_checkpoint_mismatch(tmp_path):
    (tmp_path / "1").mkdir()
    (tmp_path / "1" / "model.safetensors").write_bytes(b"\x00garbage" * 64)
    with pytest.raises(CheckpointMismatch):
        resolve_lipsync(tmp_path)
    (tmp_path / "1" / "model.safetensors").unlink()
    (tmp_path / "1" / "wav2lip.pth").write_bytes(b"PK\x03\x04 truncated zip")
    with pytest.raises(CheckpointMismatch):
        load_weights(tmp_path)


class NotATensor:
    """An arbitrary object a malicious or foreign .pth could carry."""


def test_pth_with_objects_is_refused_without_running_them(tmp_path):
    (tmp_path / "1").mkdir()
    torch.save({"state_dict": spec_tensors(), "extra": NotATensor()}, str(tmp_path / "1" / "wav2lip.pth"))
    with pytest.raises(CheckpointMismatch):
        load_weights(tmp_path)


def test_wrong_architecture_raises_checkpoint_mismatch(tmp_path):
    (tmp_path / "1").mkdir()
    tensors = spec_tensors()
    tensors["output_block.1.weight"] = torch.zeros(3, 16, 1, 1)
    save_file(tensors, str(tmp_path / "1" / "model.safetensors"))
    with pytest.raises(CheckpointMismatch, match="output_block.1.weight"):
        load_weights(tmp_path)
    save_file({"encoder.weight": torch.zeros(2)}, str(tmp_path / "1" / "model.safetensors"))
    with pytest.raises(CheckpointMismatch, match="unexpected"):
        load_weights(tmp_path)


def test_valid_weights_without_architecture_are_skipped_not_faked(tmp_path):
    (tmp_path / "1").mkdir()
    # Wav2Lip's own format: torch.save({"state_dict": DataParallel keys}) -> unwrapped, "module." stripped
    torch.save({"state_dict": spec_tensors("module."), "global_step": 7}, str(tmp_path / "1" / "wav2lip.pth"))
    weights = load_weights(tmp_path)
    assert set(weights.state_dict) == set(WAV2LIP_SPEC.required)
    model, status = resolve_lipsync(tmp_path)
    assert model is None and "no lip-sync architecture is installed" in status.reason


def test_builder_errors_become_checkpoint_mismatch(tmp_path):
    (tmp_path / "1").mkdir()
    save_file(spec_tensors(), str(tmp_path / "1" / "model.safetensors"))

    def strict_build(weights):
        torch.nn.Linear(2, 2).load_state_dict(weights.state_dict, strict=True)

    with pytest.raises(CheckpointMismatch):
        resolve_lipsync(tmp_path, build=strict_build)


class PassThrough:
    """Test double exercising the post-process plumbing only: returns frames unchanged."""

    name = "pass-through-test-double"

    def __init__(self):
        self.batches = []

    def sync(self, frames, first_frame, fps, audio, audio_rate):
        self.batches.append((first_frame, len(frames)))
        return frames


def test_lipsync_video_plumbing(tmp_path):
    (tmp_path / "1").mkdir()
    save_file(spec_tensors(), str(tmp_path / "1" / "model.safetensors"))
    double = PassThrough()
    model, status = resolve_lipsync(tmp_path, build=lambda weights: double)
    assert isinstance(status, Ready) and status.model == double.name and len(status.sha256) == 64
    audio = np.zeros(16000, np.float32)
    with Mp4Writer(tmp_path / "in.mp4", 32, 32, 25.0, AudioTrack.mono(audio, 16000)) as writer:
        for i in range(25):
            writer.write(np.full((32, 32, 3), i * 8, np.uint8))
    stereo = AudioTrack(np.zeros((2, 44100), np.float32), 44100)
    applied = lipsync_video(model, status, tmp_path / "in.mp4", tmp_path / "out.mp4", audio, 16000, stereo,
                            batch_frames=10)
    assert isinstance(applied, Applied) and applied.frames == 25
    assert double.batches == [(0, 10), (10, 10), (20, 5)]
    probe = probe_output(tmp_path / "out.mp4")
    assert probe["frames"] == 25 and (probe["audio_rate"], probe["audio_channels"]) == (44100, 2)


def test_sidecar_round_trip(tmp_path):
    report = RenderReport(out_path=str(tmp_path / "out.mp4"), frames=32, real_frames=24, generated_frames=8,
                          fps=30.0, duration_s=32 / 30, audio_duration_s=1.066, width=50, height=36,
                          windows=[[8, 16]], jumps=[{"step": 3, "time_s": 0.4}],
                          timings_s={"encode": 0.1, "total": 0.2}, render_fps=160.0)
    output = {"beat_consistency": np.float64(0.4), "diversity": 2.0, "mean_hand_clarity": float("nan")}
    document = build_sidecar(report, np.array([0, 1, 2, 7], np.int32), output, None,
                             Skipped("no lip-sync weights in /models/wav2lip").to_dict())
    path = write_sidecar(sidecar_path(report.out_path), document)
    assert path == tmp_path / "out.json"
    loaded = json.loads(path.read_text())
    assert loaded["path"] == [0, 1, 2, 7] and loaded["video"] == "out.mp4"
    assert loaded["jumps"] == [{"step": 3, "time_s": 0.4}]
    assert loaded["metrics"]["output"] == {"beat_consistency": 0.4, "diversity": 2.0, "mean_hand_clarity": None}
    assert loaded["metrics"]["reference"] is None
    assert loaded["lipsync"]["status"] == "skipped"
    assert loaded["timings_s"]["total"] == 0.2 and loaded["schema_version"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]

"""Optional enrichment: frozen Wav2Vec2 features (low + high level) at the tower's frame rate.

Loads a `transformers.Wav2Vec2Model` from a LOCAL directory only (nothing is downloaded). Low level = the
projected CNN features entering the transformer (`hidden_states[0]`), high level = the last hidden state;
both (B, L, H) at 50 fps, concatenated and linearly resampled to `fps` -> (B, T, 2H). Not an nn.Module on
purpose: the frozen weights stay in their own directory and never enter an AuMoCLIP checkpoint.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch.nn import functional as F

from tango.aumoclip.audio_tower import frames_for_samples
from tango.runtime.errors import CheckpointMismatch


class Wav2VecFeatures:
    """Callable: wave (B, S) at 16 kHz -> (B, T, 2 * hidden_size) at `fps`, without gradients."""

    def __init__(self, model_dir: str | Path, fps: int = 30, sample_rate: int = 16000):
        from transformers import Wav2Vec2Model  # heavy import kept local to this optional path

        directory = Path(model_dir)
        if not (directory / "config.json").is_file():
            raise CheckpointMismatch(f"no Wav2Vec2 model in {directory} (config.json missing)")
        self.model = Wav2Vec2Model.from_pretrained(str(directory), local_files_only=True).eval()
        self.model.requires_grad_(False)
        self.fps, self.sample_rate = fps, sample_rate
        self.dim = 2 * self.model.config.hidden_size
        self.min_samples = 400  # receptive field of the wav2vec2 feature encoder

    @torch.no_grad()
    def __call__(self, wave: torch.Tensor) -> torch.Tensor:
        frames = frames_for_samples(wave.shape[1], self.sample_rate, self.fps)
        wave = (wave - wave.mean(dim=1, keepdim=True)) / (wave.std(dim=1, keepdim=True) + 1e-5)
        if wave.shape[1] < self.min_samples:
            wave = F.pad(wave, (0, self.min_samples - wave.shape[1]))
        output = self.model(wave, output_hidden_states=True)
        both = torch.cat([output.hidden_states[0], output.last_hidden_state], dim=-1)  # (B, L, 2H)
        both = F.interpolate(both.transpose(1, 2), size=frames, mode="linear", align_corners=False)
        return both.transpose(1, 2)  # (B, T, 2H)

"""Per-speaker AuMoCLIP at ingest: train on the speaker's own footage (self-supervised audio-motion pairs).

Used where no corpus checkpoint fits the speaker's motion representation (METHOD.md section 3): ~20 s of
footage trains in about a minute on 2 CPU cores with `speaker_config`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from tango.aumoclip.config import AuMoCLIPConfig
from tango.aumoclip.data import SAMPLE_RATE, pairs_from_perception
from tango.aumoclip.train import ProgressFn, TrainConfig, TrainResult, train

SPEAKER_TRAINING = TrainConfig(batch_size=16, window_stride_frames=6)


def speaker_config(representation: str) -> AuMoCLIPConfig:
    """The default architecture for a per-speaker model of `representation` ("mediapipe" | "smplx")."""
    return AuMoCLIPConfig.for_representation(representation)


def train_speaker_model(arrays: dict, meta: dict, audio: np.ndarray, out_dir: str | Path, *,
                        sample_rate: int = SAMPLE_RATE, max_minutes: float = 1.0, epochs: int = 1000,
                        seed: int = 0, progress: ProgressFn | None = None,
                        config: AuMoCLIPConfig | None = None) -> TrainResult:
    """Perception artifact (arrays.npz dict + meta.json dict) + its audio -> checkpoint in `out_dir`."""
    pairs = pairs_from_perception(arrays, meta, audio, sample_rate=sample_rate, name=str(meta.get("source", "")))
    config = config or speaker_config(pairs[0].representation)
    return train(pairs, out_dir, config, max_minutes=max_minutes, epochs=epochs, seed=seed, progress=progress,
                 train_config=SPEAKER_TRAINING)

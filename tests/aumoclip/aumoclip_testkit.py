"""Small helpers shared by the AuMoCLIP tests: tiny configs, synthetic pairs, the shared media folder."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from support import MEDIA_DIR

from tango.aumoclip.config import AuMoCLIPConfig
from tango.aumoclip.data import AudioMotionPair, frame_to_sample

BEAT2_PREFIX = MEDIA_DIR / "motion" / "2_scott_0_1_1"


def settle_torch_triton_probe() -> None:
    """tests/triton (a folder without __init__) is importable as `triton` while tests/ is on sys.path, and
    torch's cached "is the triton package installed" probe then breaks optimizers and transformers' model
    imports. Run the probe once with the tests folder off the path so it caches the true answer."""
    from torch.utils._triton import has_triton_package

    tests_dir = Path(__file__).resolve().parents[1]
    shadow = sys.modules.get("triton")
    if shadow is not None and getattr(shadow, "__file__", None) is None:
        del sys.modules["triton"]
    saved = list(sys.path)
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != tests_dir]
    try:
        has_triton_package()
    finally:
        sys.path[:] = saved
        if shadow is not None and "triton" not in sys.modules:
            sys.modules["triton"] = shadow


settle_torch_triton_probe()


def require_media() -> Path:
    if not MEDIA_DIR.is_dir():
        pytest.skip("../shared/media is absent")
    return MEDIA_DIR


def tiny_config(**overrides) -> AuMoCLIPConfig:
    values = dict(representation="smplx", joints=55, clip_seconds=1.0, embed_dim=8,
                  audio_conv_channels=(8, 8, 8, 8, 8, 8, 16), audio_context_layers=1, motion_hidden=16,
                  motion_layers=3, motion_low_layers=1, motion_kernel=3, transformer_dim=16, transformer_heads=2,
                  transformer_ff=32, dropout=0.0, joint_dropout=0.0)
    values.update(overrides)
    return AuMoCLIPConfig(**values).validate()


def synthetic_pair(seconds: float = 4.0, joints: int = 55, seed: int = 0, representation: str = "smplx",
                   text_dim: int = 0) -> AudioMotionPair:
    """Audio bursts whose envelope also drives the motion: a learnable audio-motion coupling."""
    rng = np.random.default_rng(seed)
    frames = int(round(seconds * 30))
    envelope = np.clip(np.convolve(rng.random(frames) > 0.85, np.ones(4), mode="same"), 0, 1)  # (F,)
    samples = frame_to_sample(frames)
    carrier = rng.standard_normal(samples).astype(np.float32) * 0.3
    audio = carrier * (0.05 + np.repeat(envelope, int(np.ceil(samples / frames)))[:samples])
    motion = (rng.standard_normal((frames, joints, 15)) * 0.1 + envelope[:, None, None]).astype(np.float32)
    text = rng.standard_normal((frames, text_dim)).astype(np.float32) if text_dim else None
    return AudioMotionPair(f"synthetic{seed}", audio.astype(np.float32), motion, representation, text)

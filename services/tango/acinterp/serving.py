"""What the Triton model `interp_acinterp` serves, without Triton: settings from its parameters and one
loaded pipeline (model_repository/interp_acinterp/1/model.py is a thin adapter over this).

Weights directory: the `weights_dir` parameter, relative to the model's version folder unless absolute
(default `weights`, i.e. model_repository/interp_acinterp/1/weights); the env var TANGO_ACINTERP_WEIGHTS
overrides it. `num_inference_steps` / `guidance_scale` parameters override acinterp.json ("" = keep);
`precision` is the networks' ("" = auto: bfloat16 on a GPU, float32 on the CPU; float32, bfloat16, float16).
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping

import numpy as np

from tango.acinterp.config import ACInterpConfig, check_precision
from tango.runtime.errors import InvalidArgument

if TYPE_CHECKING:
    from tango.acinterp.pipeline import ACInterpPipeline

WEIGHTS_ENV = "TANGO_ACINTERP_WEIGHTS"
DEFAULT_WEIGHTS_DIR = "weights"


@dataclasses.dataclass(frozen=True)
class ACInterpServingConfig:
    weights_dir: Path
    device: str = "cpu"
    num_inference_steps: int | None = None  # None = acinterp.json's
    guidance_scale: float | None = None
    precision: str = "auto"

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, str], version_dir: Path, device: str = "cpu",
                        env: Mapping[str, str] | None = None) -> "ACInterpServingConfig":
        env = os.environ if env is None else env
        weights = Path(env.get(WEIGHTS_ENV) or parameters.get("weights_dir") or DEFAULT_WEIGHTS_DIR)
        if not weights.is_absolute():
            weights = Path(version_dir) / weights
        steps = _optional(parameters, "num_inference_steps", int)
        guidance = _optional(parameters, "guidance_scale", float)
        if (steps is not None and steps < 1) or (guidance is not None and guidance < 1.0):
            raise InvalidArgument(f"need num_inference_steps >= 1 and guidance_scale >= 1, got {steps}, {guidance}",
                                  reason="BAD_CONFIG")
        precision = check_precision((parameters.get("precision") or "").strip() or "auto")
        return cls(weights_dir=weights, device=device, num_inference_steps=steps, guidance_scale=guidance,
                   precision=precision)


def _optional(parameters: Mapping[str, str], key: str, cast: Callable):
    text = (parameters.get(key) or "").strip()
    if not text:
        return None
    try:
        return cast(text)
    except ValueError as exc:
        raise InvalidArgument(f"model parameter {key}={text!r} is not a number", reason="BAD_CONFIG") from exc


class ACInterpServing:
    """Loads the weights once; interpolate() serves one request at a time."""

    def __init__(self, config: ACInterpServingConfig, loader: Callable[..., "ACInterpPipeline"] | None = None):
        ACInterpConfig.locate(config.weights_dir)  # a missing directory fails before torch and diffusers load
        if loader is None:
            from tango.acinterp.weights import load_acinterp as loader
        self.config = config
        self.pipeline = loader(config.weights_dir, config.device, precision=config.precision)

    def interpolate(self, before: np.ndarray, after: np.ndarray, num_frames: int) -> np.ndarray:
        """before, after (k, H, W, 3) uint8 -> (num_frames, H, W, 3) uint8."""
        return self.pipeline(before, after, num_frames, num_inference_steps=self.config.num_inference_steps,
                             guidance_scale=self.config.guidance_scale)

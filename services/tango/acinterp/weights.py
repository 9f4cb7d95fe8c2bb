"""ACInterp weights on disk: load a directory into a pipeline, save one, or make a random one.

Layout of a weights directory (every sub-folder in diffusers / transformers `save_pretrained` format,
safetensors only - pickled `.bin` files are never read):

    acinterp.json          ACInterpConfig: sampling settings + the sizes every sub-model must have
    vae/                   AutoencoderKL          config.json + diffusion_pytorch_model.safetensors
    unet/                  UNet2DConditionModel   the denoising UNet's spatial (2-D) part
    motion_adapter/        MotionAdapter          AnimateDiff motion modules, joined to unet/ by from_unet2d
    reference_net/         UNet2DConditionModel   ReferenceNet (same block layout as unet/)
    image_encoder/         CLIPVisionModelWithProjection   config.json + model.safetensors
    pose_guider/           PoseGuider             config.json + model.safetensors
    background_guider/     BackgroundGuider       config.json + model.safetensors

Sharded weights (`*.safetensors.index.json` + shards) load too. Nothing touches a model hub
(`local_files_only=True`). Errors: no directory / no acinterp.json -> NotFound
(ACINTERP_WEIGHTS_NOT_FOUND); a sub-folder or file missing -> FailedPrecondition
(ACINTERP_WEIGHTS_INCOMPLETE); a sub-model whose config disagrees with acinterp.json, or weights that do
not fit their config exactly (missing, unexpected or reshaped tensors) -> CheckpointMismatch.
"""
from __future__ import annotations

import importlib.util
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from diffusers import AutoencoderKL, ModelMixin, MotionAdapter, UNet2DConditionModel
from transformers import CLIPVisionModelWithProjection

from tango.acinterp.background_guider import BackgroundGuider
from tango.acinterp.config import CONFIG_FILE, ACInterpConfig
from tango.acinterp.guider import load_guider, save_guider
from tango.acinterp.networks import (
    ACInterpNetworks,
    guider_config,
    image_encoder_kwargs,
    motion_adapter_kwargs,
    motion_unet,
    random_networks,
    split_motion_unet,
    unet2d_kwargs,
    vae_kwargs,
)
from tango.acinterp.pipeline import ACInterpPipeline
from tango.acinterp.pose_guider import PoseGuider
from tango.acinterp.pose_render import Observer, observe_video
from tango.runtime.errors import CheckpointMismatch, FailedPrecondition

# sub-folder -> (class name its config must declare, config key holding it)
PRETRAINED_PARTS = {
    "vae": ("AutoencoderKL", "_class_name"),
    "unet": ("UNet2DConditionModel", "_class_name"),
    "motion_adapter": ("MotionAdapter", "_class_name"),
    "reference_net": ("UNet2DConditionModel", "_class_name"),
    "image_encoder": ("CLIPVisionModelWithProjection", "architectures"),
}
GUIDER_PARTS = ("pose_guider", "background_guider")
PARTS = (*PRETRAINED_PARTS, *GUIDER_PARTS)


def random_acinterp(config: ACInterpConfig, seed: int = 0, device: torch.device | str = "cpu",
                    observe: Observer = observe_video, precision: str = "auto") -> ACInterpPipeline:
    """A pipeline with randomly initialised networks (tests; checking an install end to end)."""
    return ACInterpPipeline(config, random_networks(config, seed), device=device, observe=observe,
                            precision=precision)


def save_acinterp(pipeline: ACInterpPipeline, directory: str | Path) -> Path:
    """Writes the layout above into `directory` (replaced as a whole, via a temporary sibling)."""
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}-", dir=directory.parent))
    try:
        _write_parts(pipeline.config, pipeline.networks, staging)
        if directory.exists():
            shutil.rmtree(directory)
        staging.rename(directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return directory


def _write_parts(config: ACInterpConfig, networks: ACInterpNetworks, directory: Path) -> None:
    unet2d, adapter = split_motion_unet(networks.unet, config)
    for name, module in (("vae", networks.vae), ("unet", unet2d), ("motion_adapter", adapter),
                         ("reference_net", networks.reference_net), ("image_encoder", networks.image_encoder)):
        module.save_pretrained(str(directory / name), safe_serialization=True)
    save_guider(networks.pose_guider, directory / "pose_guider")
    save_guider(networks.background_guider, directory / "background_guider")
    (directory / CONFIG_FILE).write_text(config.to_json())


def load_acinterp(weights_dir: str | Path, device: torch.device | str = "cpu",
                  observe: Observer = observe_video, precision: str = "auto") -> ACInterpPipeline:
    """The pipeline stored in `weights_dir` (strict), on `device` in `precision` (pipeline.network_dtype),
    in eval mode."""
    directory = Path(weights_dir)
    config = ACInterpConfig.load(ACInterpConfig.locate(directory))
    _check_complete(directory)
    for part in PRETRAINED_PARTS:
        _check_part_config(directory / part, part, _expected_config(config, part))
    unet2d = _load_pretrained(UNet2DConditionModel, directory / "unet")
    adapter = _load_pretrained(MotionAdapter, directory / "motion_adapter")
    networks = ACInterpNetworks(
        vae=_load_pretrained(AutoencoderKL, directory / "vae"), unet=motion_unet(unet2d, adapter),
        reference_net=_load_pretrained(UNet2DConditionModel, directory / "reference_net"),
        image_encoder=_load_pretrained(CLIPVisionModelWithProjection, directory / "image_encoder"),
        pose_guider=load_guider(PoseGuider, directory / "pose_guider", guider_config(config, "pose_guider")),
        background_guider=load_guider(BackgroundGuider, directory / "background_guider",
                                      guider_config(config, "background_guider")),
    )
    return ACInterpPipeline(config, networks, device=device, observe=observe, precision=precision)


def _check_complete(directory: Path) -> None:
    problems = []
    for part in PARTS:
        folder = directory / part
        if not (folder / "config.json").is_file():
            problems.append(f"{part}/config.json")
        if not (any(folder.glob("*.safetensors")) or any(folder.glob("*.safetensors.index.json"))):
            problems.append(f"{part}/*.safetensors")
    if problems:
        raise FailedPrecondition(f"ACInterp weights at {directory} are incomplete; missing: {', '.join(problems)}",
                                 reason="ACINTERP_WEIGHTS_INCOMPLETE", metadata={"weights_dir": str(directory)})


def _expected_config(config: ACInterpConfig, part: str) -> dict[str, Any]:
    return {"vae": vae_kwargs, "unet": unet2d_kwargs, "motion_adapter": motion_adapter_kwargs,
            "reference_net": unet2d_kwargs, "image_encoder": image_encoder_kwargs}[part](config)


def _plain(value: Any) -> Any:
    return tuple(_plain(v) for v in value) if isinstance(value, (list, tuple)) else value


def _check_part_config(folder: Path, part: str, expected: dict[str, Any]) -> None:
    """CheckpointMismatch unless the sub-model's config.json declares the right class and the expected sizes."""
    try:
        stored = json.loads((folder / "config.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointMismatch(f"cannot read {folder / 'config.json'}: {exc}") from exc
    class_name, key = PRETRAINED_PARTS[part]
    declared = stored.get(key)
    if class_name not in (declared if isinstance(declared, list) else [declared]):
        raise CheckpointMismatch(f"{part}/ holds {declared!r}, expected {class_name}")
    differing = [f"{name}: stored {_plain(stored.get(name))!r} != acinterp.json {_plain(value)!r}"
                 for name, value in expected.items() if _plain(stored.get(name)) != _plain(value)]
    if differing:
        raise CheckpointMismatch(f"{part}/config.json disagrees with {CONFIG_FILE}: {'; '.join(differing[:6])}",
                                 metadata={"part": part})


def _load_pretrained(cls: type, folder: Path) -> torch.nn.Module:
    """from_pretrained from a local folder, safetensors only, every tensor used and none missing."""
    options = dict(local_files_only=True, use_safetensors=True, output_loading_info=True)
    if issubclass(cls, ModelMixin):  # diffusers: stream weights only where accelerate can (else it warns)
        options["low_cpu_mem_usage"] = importlib.util.find_spec("accelerate") is not None
    try:
        model, info = cls.from_pretrained(str(folder), **options)
    except (OSError, ValueError, RuntimeError, TypeError, KeyError) as exc:
        raise CheckpointMismatch(f"cannot load {folder.name}/ ({cls.__name__}): {exc}") from exc
    problems = {kind: sorted(str(k) for k in info.get(kind) or ())
                for kind in ("missing_keys", "unexpected_keys", "mismatched_keys", "error_msgs")}
    problems = {kind: keys for kind, keys in problems.items() if keys}
    if problems:
        shown = "; ".join(f"{kind} {keys[:3]}{' ...' if len(keys) > 3 else ''}" for kind, keys in problems.items())
        raise CheckpointMismatch(f"weights in {folder.name}/ do not fit its config: {shown}",
                                 metadata={"part": folder.name})
    return model.eval()


def main(argv: list[str] | None = None) -> int:
    """`python -m tango.acinterp.weights DIR [--tiny] [--seed N]`: write a RANDOM model (checks an install
    end to end: Triton loads it and serves noise-like frames; never a substitute for trained weights)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tango.acinterp.weights", description=main.__doc__)
    parser.add_argument("directory", type=Path)
    parser.add_argument("--tiny", action="store_true", help="ACInterpConfig.tiny() instead of the real sizes")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    config = ACInterpConfig.tiny() if args.tiny else ACInterpConfig()
    print(save_acinterp(random_acinterp(config, seed=args.seed), args.directory))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

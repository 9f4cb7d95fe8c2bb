"""AuMoCLIP checkpoints: `model.safetensors` (weights + motion input statistics) and `config.json`.

Loading is strict: the config is rebuilt from `config.json`, the model constructed from it, and every key and
shape of the stored weights must match exactly; anything else raises `CheckpointMismatch` naming the keys.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from tango.aumoclip.config import AuMoCLIPConfig
from tango.aumoclip.model import AuMoCLIP
from tango.aumoclip.wav2vec_features import Wav2VecFeatures
from tango.runtime.errors import CheckpointMismatch

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"


def save_checkpoint(model: AuMoCLIP, directory: str | Path) -> Path:
    """Writes config.json and model.safetensors into `directory` (created); returns the directory."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {name: tensor.detach().to("cpu", copy=True).contiguous() for name, tensor in model.state_dict().items()}
    save_file(state, str(directory / (WEIGHTS_FILE + ".tmp")), metadata={"format": "pt"})
    (directory / (WEIGHTS_FILE + ".tmp")).replace(directory / WEIGHTS_FILE)
    (directory / CONFIG_FILE).write_text(model.config.to_json())
    return directory


def _describe_mismatch(expected: dict[str, torch.Tensor], stored: dict[str, torch.Tensor]) -> list[str]:
    problems = [f"missing {k}" for k in sorted(set(expected) - set(stored))]
    problems += [f"unexpected {k}" for k in sorted(set(stored) - set(expected))]
    problems += [f"{k}: stored {tuple(stored[k].shape)} != model {tuple(v.shape)}"
                 for k, v in sorted(expected.items()) if k in stored and stored[k].shape != v.shape]
    return problems


def load_checkpoint(directory: str | Path, wav2vec: Wav2VecFeatures | None = None,
                    expect: AuMoCLIPConfig | None = None) -> AuMoCLIP:
    """Rebuilds the model of `directory` in eval mode. `expect`: a config the stored one must equal."""
    directory = Path(directory)
    if not (directory / WEIGHTS_FILE).is_file() or not (directory / CONFIG_FILE).is_file():
        raise CheckpointMismatch(f"{directory} is not an AuMoCLIP checkpoint (needs {WEIGHTS_FILE} and {CONFIG_FILE})")
    config = AuMoCLIPConfig.load(directory / CONFIG_FILE)
    if expect is not None and _architecture(expect) != _architecture(config):
        changed = sorted(k for k, v in _architecture(expect).items() if _architecture(config)[k] != v)
        raise CheckpointMismatch(f"checkpoint {directory} was trained with a different config: {changed}",
                                 metadata={"fields": ",".join(changed)})
    model = AuMoCLIP(config, wav2vec)
    try:
        stored = load_file(str(directory / WEIGHTS_FILE))
    except (SafetensorError, OSError) as exc:
        raise CheckpointMismatch(f"cannot read {directory / WEIGHTS_FILE}: {exc}") from exc
    problems = _describe_mismatch(model.state_dict(), stored)
    if problems:
        shown = "; ".join(problems[:8]) + (f"; ... {len(problems) - 8} more" if len(problems) > 8 else "")
        raise CheckpointMismatch(f"weights in {directory} do not fit its config.json: {shown}")
    model.load_state_dict(stored, strict=True)
    return model.eval()


def _architecture(config: AuMoCLIPConfig) -> dict:
    """The config fields that shape the network (free-form `extra` excluded)."""
    return {k: v for k, v in dataclasses.asdict(config).items() if k != "extra"}

"""The conv encoder shared by the PoseGuider and the BackgroundGuider, and how both are stored.

AnimateAnyone's PoseGuider (a ControlNet-style conditioning embedding): a 3x3 conv in, then per stage a
3x3 conv and a stride-2 3x3 conv (SiLU after each), and a ZERO-initialised 3x3 conv out to the UNet's
first block width. Zero init makes a fresh guider a no-op, so adding it to a pretrained UNet changes
nothing until it is trained. Stored as `config.json` + `model.safetensors`, loaded strictly.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TypeVar

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from tango.runtime.errors import CheckpointMismatch, FailedPrecondition

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"


@dataclasses.dataclass(frozen=True)
class GuiderConfig:
    in_channels: int  # 3 for pose images, 2 for offset flow
    channels: tuple[int, ...]  # widths of the stages; len - 1 stride-2 stages
    out_channels: int  # the UNet's conv_in width (block_out_channels[0])

    @property
    def down_factor(self) -> int:
        return 2 ** (len(self.channels) - 1)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict) -> "GuiderConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        if not isinstance(data, dict) or set(data) != names:
            raise CheckpointMismatch(f"guider config must have exactly the fields {sorted(names)}, got {data!r}")
        return cls(in_channels=int(data["in_channels"]), channels=tuple(int(c) for c in data["channels"]),
                   out_channels=int(data["out_channels"]))


class ConditioningGuider(nn.Module):
    """(N, in_channels, H, W) image -> (N, out_channels, H / f, W / f) features, f = config.down_factor."""

    def __init__(self, config: GuiderConfig):
        super().__init__()
        self.config = config
        channels = config.channels
        self.conv_in = nn.Conv2d(config.in_channels, channels[0], kernel_size=3, padding=1)
        stages = []
        for width, wider in zip(channels[:-1], channels[1:]):
            stages += [nn.Conv2d(width, width, kernel_size=3, padding=1), nn.SiLU(),
                       nn.Conv2d(width, wider, kernel_size=3, padding=1, stride=2), nn.SiLU()]
        self.stages = nn.Sequential(*stages)
        self.conv_out = nn.Conv2d(channels[-1], config.out_channels, kernel_size=3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        hidden = nn.functional.silu(self.conv_in(image))  # (N, c0, H, W)
        hidden = self.stages(hidden)  # (N, c_last, H / f, W / f)
        return self.conv_out(hidden)  # (N, out_channels, H / f, W / f)


GuiderT = TypeVar("GuiderT", bound=ConditioningGuider)


def save_guider(guider: ConditioningGuider, directory: str | Path) -> Path:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {name: tensor.detach().cpu().contiguous().clone() for name, tensor in guider.state_dict().items()}
    save_file(state, str(directory / WEIGHTS_FILE), metadata={"format": "pt"})
    (directory / CONFIG_FILE).write_text(guider.config.to_json())
    return directory


def load_guider(cls: type[GuiderT], directory: str | Path, expect: GuiderConfig) -> GuiderT:
    """Strict load of a guider stored by save_guider; its config must equal `expect`."""
    directory = Path(directory)
    missing = [name for name in (CONFIG_FILE, WEIGHTS_FILE) if not (directory / name).is_file()]
    if missing:
        raise FailedPrecondition(f"{directory} lacks {missing}", reason="ACINTERP_WEIGHTS_INCOMPLETE")
    try:
        config = GuiderConfig.from_dict(json.loads((directory / CONFIG_FILE).read_text()))
        stored = load_file(str(directory / WEIGHTS_FILE))
    except (OSError, json.JSONDecodeError, SafetensorError, TypeError, ValueError) as exc:
        raise CheckpointMismatch(f"cannot read the guider in {directory}: {exc}") from exc
    if config != expect:
        raise CheckpointMismatch(f"guider {directory} has config {config}, expected {expect}")
    guider = cls(config)
    try:
        guider.load_state_dict(stored, strict=True)
    except RuntimeError as exc:  # missing / unexpected keys or shapes
        raise CheckpointMismatch(f"weights in {directory} do not fit its config: {exc}") from exc
    return guider.eval()

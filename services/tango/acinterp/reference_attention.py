"""ReferenceNet -> denoising UNet spatial-attention sharing (AnimateAnyone's "reference attention").

The ReferenceNet (a UNet2DConditionModel) runs once on the reference frame latents; each of its spatial
self-attention layers (`...attentions.N.transformer_blocks.M.attn1`) writes its input tokens into a
`ReferenceBank`. The denoising UNet's self-attention layer of the SAME name reads them: its keys and values
are computed from [own tokens ; reference tokens] (concatenated along the token axis), its queries from its
own tokens only, so each frame can copy identity and background detail from the reference. Temporal
(motion-module) and cross attention keep diffusers' default processor.

Both sides use custom diffusers attention processors (`set_attn_processor`) delegating the attention math
to `AttnProcessor2_0`. A bank belongs to one pipeline and one call at a time (not thread-safe).
"""
from __future__ import annotations

import contextlib
import re
from typing import Iterator

import torch
from diffusers.models.attention_processor import Attention, AttnProcessor2_0

_SPATIAL_SELF_ATTENTION = re.compile(r"(^|\.)attentions\.\d+\.transformer_blocks\.\d+\.attn1\.processor$")


class ReferenceBank:
    """Self-attention input tokens of the ReferenceNet, by processor name.

    `write(...)` fills it (R references per clip), `reading(True)` lets the denoising UNet use it.
    """

    def __init__(self) -> None:
        self.features: dict[str, torch.Tensor] = {}  # name -> (B * R, N, C)
        self.refs_per_clip = 1
        self.writing = False
        self.enabled = False

    @contextlib.contextmanager
    def recording(self, refs_per_clip: int) -> Iterator[None]:
        """Clears the bank, then ReferenceNet calls inside the block write to it."""
        self.features = {}
        self.refs_per_clip = refs_per_clip
        self.writing = True
        try:
            yield
        finally:
            self.writing = False

    @contextlib.contextmanager
    def reading(self, enabled: bool) -> Iterator[None]:
        previous, self.enabled = self.enabled, enabled
        try:
            yield
        finally:
            self.enabled = previous

    def clear(self) -> None:
        self.features = {}

    def tokens_for(self, name: str, rows: int) -> torch.Tensor | None:
        """(rows, R * N, C): the references of each clip, repeated over its frames; None when off/empty."""
        stored = self.features.get(name) if self.enabled else None
        if stored is None:
            return None
        refs, tokens, channels = stored.shape
        clips = refs // self.refs_per_clip
        if clips == 0 or rows % clips:
            raise ValueError(f"{rows} attention rows do not split over {clips} clips")
        per_clip = stored.reshape(clips, self.refs_per_clip * tokens, channels)  # (B, R * N, C)
        return per_clip.repeat_interleave(rows // clips, dim=0)  # (B * F, R * N, C)


class ReferenceWriteProcessor:
    """On the ReferenceNet: records the self-attention input, then attends normally."""

    def __init__(self, bank: ReferenceBank, name: str):
        self.bank, self.name, self.inner = bank, name, AttnProcessor2_0()

    def __call__(self, attn: Attention, hidden_states: torch.Tensor, encoder_hidden_states=None,
                 attention_mask=None, temb=None, **kwargs) -> torch.Tensor:
        if self.bank.writing:
            self.bank.features[self.name] = hidden_states  # (B * R, N, C)
        return self.inner(attn, hidden_states, encoder_hidden_states, attention_mask, temb)


class ReferenceReadProcessor:
    """On the denoising UNet: keys/values from [own tokens ; reference tokens] while the bank is read."""

    def __init__(self, bank: ReferenceBank, name: str):
        self.bank, self.name, self.inner = bank, name, AttnProcessor2_0()

    def __call__(self, attn: Attention, hidden_states: torch.Tensor, encoder_hidden_states=None,
                 attention_mask=None, temb=None, **kwargs) -> torch.Tensor:
        reference = self.bank.tokens_for(self.name, hidden_states.shape[0])  # (B * F, R * N, C) or None
        if reference is not None:
            context = torch.cat([hidden_states, reference.to(hidden_states.dtype)], dim=1)  # (B * F, N + R * N, C)
            return self.inner(attn, hidden_states, context, attention_mask, temb)
        return self.inner(attn, hidden_states, encoder_hidden_states, attention_mask, temb)


def spatial_self_attention_names(model: torch.nn.Module) -> list[str]:
    return sorted(name for name in model.attn_processors if _SPATIAL_SELF_ATTENTION.search(name))


def install_reference_attention(reference_net: torch.nn.Module, unet: torch.nn.Module,
                                bank: ReferenceBank) -> list[str]:
    """Sets writer processors on the ReferenceNet and reader processors on the UNet; returns the paired names.

    Every spatial self-attention layer must exist in both networks (same block layout), else ValueError.
    """
    writers, readers = spatial_self_attention_names(reference_net), spatial_self_attention_names(unet)
    if writers != readers or not writers:
        only_ref, only_unet = sorted(set(writers) - set(readers)), sorted(set(readers) - set(writers))
        raise ValueError(f"ReferenceNet and UNet self-attention layers differ: {only_ref[:3]} vs {only_unet[:3]}")
    reference_net.set_attn_processor({name: ReferenceWriteProcessor(bank, name) if name in writers
                                      else AttnProcessor2_0() for name in reference_net.attn_processors})
    unet.set_attn_processor({name: ReferenceReadProcessor(bank, name) if name in readers
                             else AttnProcessor2_0() for name in unet.attn_processors})
    return writers

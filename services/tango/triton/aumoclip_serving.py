"""What the `aumoclip_audio` / `aumoclip_motion` Triton models do, apart from Triton's tensor plumbing.

Checkpoints are directories `<TANGO_CHECKPOINT_ROOT>/<id>/{model.safetensors,config.json}`; a request names
one by id (or none: the default, TANGO_DEFAULT_AUMOCLIP_CHECKPOINT, an id or an absolute directory). Each
checkpoint is loaded once and kept in a small LRU cache. Requests of one checkpoint and one shape are
concatenated into a single forward pass (Triton's dynamic batcher only groups equal shapes: 4 s windows
batch, odd lengths run alone).
"""
from __future__ import annotations

import collections
import dataclasses
import os
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import torch

from tango.runtime.errors import FailedPrecondition, InvalidArgument, NotFound, TangoError
from tango.triton.model_support import checkpoint_id

KINDS = ("audio", "motion")


@dataclasses.dataclass(frozen=True)
class AuMoCLIPServingConfig:
    kind: str  # "audio" | "motion"
    checkpoint_root: Path | None = None  # TANGO_CHECKPOINT_ROOT
    default_checkpoint: str = ""  # TANGO_DEFAULT_AUMOCLIP_CHECKPOINT: an id under the root, or an absolute dir
    require_default_checkpoint: bool = False  # initialise fails (model NOT READY) without a loadable default
    cache_size: int = 4  # checkpoints kept loaded
    device: str = "cpu"
    torch_threads: int = 0  # intra-op threads of the instance's process (parameter torch_threads; 0: torch's default)

    @classmethod
    def from_env(cls, kind: str, parameters: Mapping[str, str], env: Mapping[str, str] | None = None,
                 device: str = "cpu") -> "AuMoCLIPServingConfig":
        env = os.environ if env is None else env
        root = env.get("TANGO_CHECKPOINT_ROOT", "")
        return cls(
            kind=kind, checkpoint_root=Path(root) if root else None,
            default_checkpoint=env.get("TANGO_DEFAULT_AUMOCLIP_CHECKPOINT", ""),
            require_default_checkpoint=parameters.get("require_default_checkpoint", "false").lower() == "true",
            cache_size=int(parameters.get("checkpoint_cache_size", "4")), device=device,
            torch_threads=int(parameters.get("torch_threads", "0")),
        )


@dataclasses.dataclass(frozen=True)
class EmbedRequest:
    checkpoint: str  # "" = the default checkpoint
    array: np.ndarray  # audio (b, S) float32 | motion (b, T, J, C) float32


class AuMoCLIPServing:
    """embed_many(requests) -> one (low, high) pair or TangoError per request, in order."""

    def __init__(self, config: AuMoCLIPServingConfig, loader: Callable[[Path], torch.nn.Module],
                 on_load: Callable[[str], None] | None = None):
        if config.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {config.kind!r}")
        self.config = config
        self._loader = loader
        self._on_load = on_load
        self._cache: collections.OrderedDict[str, torch.nn.Module] = collections.OrderedDict()
        if config.default_checkpoint:
            try:
                self.model_for("")
            except TangoError:
                if config.require_default_checkpoint:
                    raise
        elif config.require_default_checkpoint:
            raise FailedPrecondition("require_default_checkpoint is set but TANGO_DEFAULT_AUMOCLIP_CHECKPOINT is not",
                                     reason="NO_DEFAULT_CHECKPOINT")

    def _directory(self, checkpoint: str) -> Path:
        if not checkpoint:
            if not self.config.default_checkpoint:
                raise FailedPrecondition("no checkpoint named and no default checkpoint configured",
                                         reason="NO_DEFAULT_CHECKPOINT")
            if Path(self.config.default_checkpoint).is_absolute():
                return Path(self.config.default_checkpoint)
            checkpoint = self.config.default_checkpoint
        checkpoint_id(checkpoint)
        if self.config.checkpoint_root is None:
            raise NotFound(f"checkpoint {checkpoint!r}: no TANGO_CHECKPOINT_ROOT configured", reason="CHECKPOINT_NOT_FOUND")
        return self.config.checkpoint_root / checkpoint

    def model_for(self, checkpoint: str) -> torch.nn.Module:
        """The loaded model of a checkpoint id ("" = default), loading it on first use (LRU-evicted)."""
        key = checkpoint or ":default:"
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        directory = self._directory(checkpoint)
        if not directory.is_dir():
            raise NotFound(f"checkpoint {checkpoint or directory.name!r} not found", reason="CHECKPOINT_NOT_FOUND")
        model = self._loader(directory).to(self.config.device).eval()
        self._cache[key] = model
        while len(self._cache) > max(1, self.config.cache_size):
            self._cache.popitem(last=False)
        if self._on_load is not None:
            self._on_load(checkpoint or "default")
        return model

    def _check(self, array: np.ndarray) -> None:
        rank = 2 if self.config.kind == "audio" else 4
        if array.ndim != rank or array.shape[0] == 0 or array.shape[1] == 0:
            shape = "(B, S)" if rank == 2 else "(B, T, J, C)"
            raise InvalidArgument(f"{self.config.kind} input must be {shape} and non-empty, got {array.shape}",
                                  reason="BAD_EMBED_INPUT")
        if not np.isfinite(array).all():
            raise InvalidArgument(f"{self.config.kind} input holds NaN or inf", reason="BAD_EMBED_INPUT")

    def _forward(self, model: torch.nn.Module, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with torch.inference_mode():
            tensor = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).to(self.config.device)
            embed = model.embed_audio if self.config.kind == "audio" else model.embed_motion
            low, high = embed(tensor)  # (B, T, D), (B, D)
        return low.float().cpu().numpy(), high.float().cpu().numpy()

    def embed_many(self, requests: Sequence[EmbedRequest]) -> list[tuple[np.ndarray, np.ndarray] | TangoError]:
        results: list = [None] * len(requests)
        groups: dict[tuple, list[int]] = collections.defaultdict(list)
        for position, request in enumerate(requests):
            try:
                self._check(request.array)
                groups[(request.checkpoint, request.array.shape[1:])].append(position)
            except TangoError as error:
                results[position] = error
        for (checkpoint, _), positions in groups.items():
            try:
                model = self.model_for(checkpoint)
                batch = np.concatenate([requests[p].array for p in positions])  # (sum b, ...)
                low, high = self._forward(model, batch)
            except TangoError as error:
                for p in positions:
                    results[p] = error
                continue
            except RuntimeError as exc:  # torch refused the input (e.g. a waveform shorter than the receptive field)
                for p in positions:
                    results[p] = TangoError(f"{self.config.kind} embedding failed: {str(exc)[:300]}",
                                            reason="EMBED_FAILED")
                continue
            offset = 0
            for p in positions:
                size = requests[p].array.shape[0]
                results[p] = (low[offset:offset + size], high[offset:offset + size])
                offset += size
        return results

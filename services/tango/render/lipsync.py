"""Optional lip-sync post-process with a pluggable model (Wav2Lip-style), and its status for the sidecar.

No lip-sync weights ship with the product (Wav2Lip's cannot be downloaded here). The loader looks for a
checkpoint in a model directory (`<dir>/1/*.safetensors|*.pth|*.pt`, or directly in `<dir>`):
- none there -> `Skipped(reason="no lip-sync weights in <dir>")`, the render goes on without lip sync;
- one there -> read (safetensors, or torch.load(weights_only=True): tensors only, no code execution),
  unwrapped (`{"state_dict": ...}`, DataParallel's `module.` prefix) and validated strictly against a
  `CheckpointSpec` (every key under the architecture's prefixes, the spec's tensors present with their
  exact shapes, all floating tensors finite); anything else raises `CheckpointMismatch`;
- the validated weights are handed to an architecture builder (`build`) that must load them with
  `strict=True`. Without a builder the status says the weights were found but no architecture is
  installed — the product never pretends to lip-sync.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

import av
import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from tango.media.audio import AudioTrack
from tango.media.encode import Mp4Writer
from tango.runtime.errors import CheckpointMismatch, CorruptMedia

WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pt")


class LipSyncModel(Protocol):
    name: str

    def sync(self, frames: np.ndarray, first_frame: int, fps: float, audio: np.ndarray,
             audio_rate: int) -> np.ndarray:
        """frames (N, H, W, 3) uint8 starting at output frame `first_frame` -> (N, H, W, 3) uint8."""


@dataclass(frozen=True)
class Skipped:
    reason: str

    def to_dict(self) -> dict:
        return {"status": "skipped", "reason": self.reason}


@dataclass(frozen=True)
class Ready:
    model: str
    weights: str
    sha256: str

    def to_dict(self) -> dict:
        return {"status": "ready", "model": self.model, "weights": self.weights, "sha256": self.sha256}


@dataclass(frozen=True)
class Applied:
    model: str
    weights: str
    sha256: str
    frames: int

    def to_dict(self) -> dict:
        return {"status": "applied", "model": self.model, "weights": self.weights, "sha256": self.sha256,
                "frames": self.frames}


LipSyncStatus = Skipped | Ready | Applied


@dataclass(frozen=True)
class CheckpointSpec:
    name: str
    prefixes: tuple[str, ...]  # every parameter name starts with one of these
    required: dict[str, tuple[int, ...]] = field(default_factory=dict)  # name -> exact shape


# Wav2Lip (Prajwal et al. 2020, models/wav2lip.py): face encoder on 6-channel 96x96 crops (masked target +
# reference), audio encoder on 80x16 mel windows, decoder ending in an 80->32 conv and a 32->3 1x1 conv.
WAV2LIP_SPEC = CheckpointSpec(
    name="wav2lip",
    prefixes=("face_encoder_blocks.", "audio_encoder.", "face_decoder_blocks.", "output_block."),
    required={
        "face_encoder_blocks.0.0.conv_block.0.weight": (16, 6, 7, 7),
        "face_encoder_blocks.2.3.conv_block.0.weight": (64, 64, 3, 3),
        "face_encoder_blocks.6.1.conv_block.0.weight": (512, 512, 1, 1),
        "audio_encoder.0.conv_block.0.weight": (32, 1, 3, 3),
        "audio_encoder.3.conv_block.0.weight": (64, 32, 3, 3),
        "audio_encoder.12.conv_block.0.weight": (512, 512, 1, 1),
        "face_decoder_blocks.0.0.conv_block.0.weight": (512, 512, 1, 1),
        "face_decoder_blocks.1.0.conv_block.0.weight": (1024, 512, 3, 3),  # ConvTranspose2d: (in, out, k, k)
        "face_decoder_blocks.3.0.conv_block.0.weight": (768, 384, 3, 3),
        "face_decoder_blocks.6.2.conv_block.1.running_var": (64,),
        "output_block.0.conv_block.0.weight": (32, 80, 3, 3),
        "output_block.1.weight": (3, 32, 1, 1),
        "output_block.1.bias": (3,),
    },
)


@dataclass(frozen=True)
class LipSyncWeights:
    path: Path
    sha256: str
    state_dict: dict[str, torch.Tensor]


def find_weights(model_dir: str | Path) -> Path | None:
    """The one checkpoint file in `<dir>/1/` or `<dir>/`, None if there is none; several -> mismatch."""
    model_dir = Path(model_dir)
    for folder in (model_dir / "1", model_dir):
        found = sorted(p for p in folder.glob("*") if p.is_file() and p.suffix in WEIGHT_SUFFIXES)
        if len(found) > 1:
            raise CheckpointMismatch(f"several lip-sync checkpoints in {folder}: {[p.name for p in found]}")
        if found:
            return found[0]
    return None


# what torch.load(weights_only=True) raises for content other than tensors (no object is ever built)
WEIGHTS_ONLY_REFUSAL = torch.serialization.pickle.UnpicklingError

def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Parameters of a checkpoint file, unwrapped; unreadable or non-tensor content -> CheckpointMismatch."""
    try:
        if path.suffix == ".safetensors":
            loaded = load_file(str(path), device="cpu")
        else:
            loaded = torch.load(str(path), map_location="cpu", weights_only=True)
    except (SafetensorError, WEIGHTS_ONLY_REFUSAL, RuntimeError, OSError, ValueError, EOFError) as exc:
        raise CheckpointMismatch(f"cannot read lip-sync checkpoint {path}: {exc}") from exc
    if isinstance(loaded, dict) and isinstance(loaded.get("state_dict"), dict):
        loaded = loaded["state_dict"]
    if not isinstance(loaded, dict) or not loaded:
        raise CheckpointMismatch(f"{path} holds no parameter dictionary")
    state = {str(k).removeprefix("module."): v for k, v in loaded.items()}
    not_tensors = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if not_tensors:
        raise CheckpointMismatch(f"{path}: non-tensor entries {not_tensors[:5]}")
    return state


def validate_state_dict(state: dict[str, torch.Tensor], spec: CheckpointSpec, path: Path) -> None:
    foreign = [k for k in state if not k.startswith(spec.prefixes)]
    missing = [k for k in spec.required if k not in state]
    wrong = [f"{k}: {tuple(state[k].shape)} != {shape}" for k, shape in spec.required.items()
             if k in state and tuple(state[k].shape) != shape]
    not_finite = [k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    problems = ([f"unexpected {foreign[:5]}"] if foreign else []) + ([f"missing {missing[:5]}"] if missing else [])
    problems += wrong[:5] + ([f"non-finite {not_finite[:5]}"] if not_finite else [])
    if problems:
        raise CheckpointMismatch(f"{path} is not a {spec.name} checkpoint: " + "; ".join(problems),
                                 metadata={"checkpoint": path.name, "spec": spec.name})


def load_weights(model_dir: str | Path, spec: CheckpointSpec = WAV2LIP_SPEC) -> LipSyncWeights | Skipped:
    path = find_weights(model_dir)
    if path is None:
        return Skipped(reason=f"no lip-sync weights in {model_dir}")
    state = read_state_dict(path)
    validate_state_dict(state, spec, path)
    return LipSyncWeights(path=path, sha256=hashlib.sha256(path.read_bytes()).hexdigest(), state_dict=state)


def resolve_lipsync(
    model_dir: str | Path,
    build: Callable[[LipSyncWeights], LipSyncModel] | None = None,
    spec: CheckpointSpec = WAV2LIP_SPEC,
) -> tuple[LipSyncModel | None, LipSyncStatus]:
    """(model, Ready) when weights and an architecture are both there, else (None, Skipped(reason))."""
    weights = load_weights(model_dir, spec)
    if isinstance(weights, Skipped):
        return None, weights
    if build is None:
        return None, Skipped(reason=f"{spec.name} weights {weights.path.name} validated, "
                                    "but no lip-sync architecture is installed")
    try:
        model = build(weights)
    except RuntimeError as exc:  # load_state_dict(strict=True) mismatches
        raise CheckpointMismatch(f"{weights.path} does not load into {spec.name}: {exc}") from exc
    return model, Ready(model=model.name, weights=str(weights.path), sha256=weights.sha256)


def lipsync_video(model: LipSyncModel, ready: Ready, video_path: str | Path, out_path: str | Path,
                  audio: np.ndarray, audio_rate: int, soundtrack: AudioTrack | None,
                  batch_frames: int = 32, crf: int = 18) -> Applied:
    """Re-encodes `video_path` to `out_path` with every frame passed through the model, in batches.
    The model hears `audio` (mono speech at `audio_rate`); the output carries `soundtrack`."""
    try:
        container = av.open(str(video_path))
    except av.FFmpegError as exc:
        raise CorruptMedia(f"cannot open {video_path}: {exc}") from exc
    with container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate)
        width, height = stream.codec_context.width, stream.codec_context.height
        done = 0
        with Mp4Writer(out_path, width, height, fps, soundtrack, crf=crf) as writer:
            batch: list[np.ndarray] = []
            for frame in container.decode(stream):
                batch.append(frame.to_ndarray(format="rgb24"))
                if len(batch) == batch_frames:
                    done = _sync_batch(model, batch, done, fps, audio, audio_rate, writer)
                    batch = []
            if batch:
                done = _sync_batch(model, batch, done, fps, audio, audio_rate, writer)
    return Applied(model=ready.model, weights=ready.weights, sha256=ready.sha256, frames=done)


def _sync_batch(model: LipSyncModel, batch: list[np.ndarray], first: int, fps: float, audio: np.ndarray,
                audio_rate: int, writer: Mp4Writer) -> int:
    frames = np.stack(batch)  # (N, H, W, 3)
    synced = np.asarray(model.sync(frames, first, fps, audio, audio_rate))
    if synced.shape != frames.shape or synced.dtype != np.uint8:
        raise CheckpointMismatch(f"lip-sync model {model.name} returned {synced.shape} {synced.dtype}, "
                                 f"expected {frames.shape} uint8")
    for frame in synced:
        writer.write(frame)
    return first + len(batch)

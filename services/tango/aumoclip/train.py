"""AuMoCLIP training: seeded, a fixed step budget (wall-clock cap only as a safety net), resumable.

One epoch = every `clip_frames` window of every pair at `window_stride_frames`, each start jittered by up to
half a stride (small time shifts), shuffled. Per batch: the second half are copies of the first half's windows
shifted by 8-24 frames (hard negatives: held-out high-level candidates are shifted copies of the true clip),
random EQ, gain and a little noise on the audio (prosody, when configured, is computed once per pair from the
clean audio and centred per clip inside the model, so gain does not reach it), optional KMM key-frame masking of
the motion input,
loss = global InfoNCE (CLS) + local frame-wise contrastive loss.
The learning rate warms up, then decays (cosine) over `total_steps`; after every step an exponential moving
average of the weights is updated, and the CHECKPOINT holds that average (it generalises better and far less
seed-dependently than the last raw weights on ~1 minute of pairs). `train(epochs=None)` runs
ceil(total_steps / batches per epoch) epochs, so a run's result depends only on its data, config and seed.
State is saved at every epoch end and when the time budget runs out: `model.safetensors` + `config.json`
(the checkpoint, averaged weights) and `train_state.safetensors` (optimizer tensors + the raw weights under
`raw.`) + `train_state.json` (step, epoch, ...).
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from scipy.signal import fftconvolve

from tango.aumoclip.checkpoint import load_checkpoint, save_checkpoint
from tango.aumoclip.config import AuMoCLIPConfig
from tango.aumoclip.data import AudioMotionPair, check_audio, gather_clips, window_starts, with_prosody
from tango.aumoclip.keyframes import KeyframeConfig, mask_keyframes
from tango.aumoclip.losses import LocalWindow, global_infonce, local_contrastive
from tango.aumoclip.model import AuMoCLIP
from tango.aumoclip.weight_average import WeightAverage
from tango.runtime.errors import Cancelled, CheckpointMismatch, FailedPrecondition, InputMismatch

ProgressFn = Callable[[str, int, int], None]  # (stage, done, total), as tango.runtime.progress
STATE_TENSORS, STATE_JSON = "train_state.safetensors", "train_state.json"
RAW_PREFIX = "raw."  # train-state tensors holding the raw (not averaged) weights


@dataclass(frozen=True)
class TrainConfig:
    batch_size: int = 24
    learning_rate: float = 1e-3
    weight_decay: float = 0.05
    warmup_steps: int = 20
    max_grad_norm: float = 5.0
    # > 0: intra-op threads while training; 0 = torch's default (one per core). Measured on an idle 2-core box,
    # BEAT2 batches: 0.92 s/step with 2 threads, 1.54 s/step with 1 (1 only wins where another process holds a core)
    torch_threads: int = 0
    window_stride_frames: int = 8
    global_weight: float = 1.0
    local_weight: float = 1.0
    gain_db: float = 6.0  # random gain in +-gain_db
    noise_level: float = 0.005  # additive white noise, relative to each clip's std
    random_eq_taps: int = 32  # > 0: filter each clip with a random decaying FIR (spectral detail unreliable)
    local_window: LocalWindow = field(default_factory=LocalWindow)
    keyframes: KeyframeConfig = field(default_factory=KeyframeConfig)  # KMM masking, off by default
    # the fixed budget: `train(epochs=None)` runs ceil(total_steps / batches per epoch) epochs, so the result
    # never depends on the wall clock (`max_minutes` is only a safety cap)
    total_steps: int = 300
    min_lr_ratio: float = 0.1  # cosine decay from learning_rate to learning_rate * min_lr_ratio at total_steps
    ema_decay: float = 0.99  # > 0: the checkpoint holds an exponential moving average of the weights
    # > 0: the second half of every batch are copies of the first half shifted in time by +-[min, max] frames
    # (hard negatives for the global loss: the high level must tell a clip from its shifted copies)
    shifted_negatives: tuple[int, int] = (8, 24)  # (0, 0) = off


@dataclass(frozen=True)
class TrainResult:
    out_dir: str
    steps: int
    epochs: int
    seconds: float
    seconds_per_epoch: float
    stopped_by: str  # "epochs" | "time"
    history: list[dict]  # per epoch: epoch, loss, global, local, seconds


def _validate(pairs: Sequence[AudioMotionPair], config: AuMoCLIPConfig) -> None:
    if not pairs:
        raise InputMismatch("no training pairs")
    for pair in pairs:
        if pair.representation != config.representation or pair.motion.shape[1:] != (config.joints, config.channels):
            raise InputMismatch(f"pair {pair.name} has {pair.representation} motion {pair.motion.shape[1:]}, the "
                                f"model expects {config.representation} ({config.joints}, {config.channels})")
        if (pair.text is None) != (config.text_dim == 0):
            raise InputMismatch(f"pair {pair.name}: transcript features must be given exactly when text_dim > 0")
        check_audio(pair.audio, config.clip_seconds)


def _motion_statistics(pairs: Sequence[AudioMotionPair]) -> tuple[torch.Tensor, torch.Tensor]:
    flat = np.concatenate([p.motion.reshape(p.frames, -1) for p in pairs])  # (sum F, J*C)
    return torch.from_numpy(flat.mean(0)), torch.from_numpy(flat.std(0))


def _epoch_index(pairs: Sequence[AudioMotionPair], clip: int, stride: int, rng: np.random.Generator):
    """Shuffled (pair_index, start) of one epoch: stride windows jittered by up to +-stride/2."""
    pair_index, starts = [], []
    for number, pair in enumerate(pairs):
        base = window_starts(pair.frames, clip, stride)
        jitter = rng.integers(-(stride // 2), stride // 2 + 1, size=base.shape[0])
        starts.append(np.clip(base + jitter, 0, pair.frames - clip))
        pair_index.append(np.full(base.shape[0], number))
    pair_index, starts = np.concatenate(pair_index), np.concatenate(starts)
    order = rng.permutation(starts.shape[0])
    return pair_index[order], starts[order]


def _with_shifted_copies(pairs, pair_index: np.ndarray, starts: np.ndarray, clip: int, cfg: TrainConfig,
                         rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(B,) windows -> the first half of them + copies shifted by +-shifted_negatives frames (B,) (when on)."""
    low, high = cfg.shifted_negatives
    if high <= 0:
        return pair_index, starts
    half = (starts.shape[0] + 1) // 2
    anchors, anchor_starts = pair_index[:half], starts[:half]
    shift = rng.integers(low, high + 1, size=half) * rng.choice([-1, 1], size=half)
    last = np.array([pair.frames for pair in pairs])[anchors] - clip  # (half,) latest valid start
    moved = np.clip(anchor_starts + shift, 0, last)
    moved = np.where(moved == anchor_starts, np.clip(anchor_starts - shift, 0, last), moved)
    count = starts.shape[0] - half
    return np.concatenate([anchors, anchors[:count]]), np.concatenate([anchor_starts, moved[:count]])


def _augment_audio(wave: np.ndarray, cfg: TrainConfig, rng: np.random.Generator) -> np.ndarray:
    """wave (B, S): optional random EQ, random gain and white noise relative to each clip's level."""
    if cfg.random_eq_taps > 0:
        taps = rng.standard_normal((wave.shape[0], cfg.random_eq_taps)) * np.exp(-np.arange(cfg.random_eq_taps) / 4.0)
        taps[:, 0] += 1.0  # keep a direct path: the envelope survives, the timbre is jittered
        filtered = fftconvolve(wave, taps, mode="full", axes=1)[:, : wave.shape[1]]
        wave = filtered * (wave.std(axis=1, keepdims=True) / (filtered.std(axis=1, keepdims=True) + 1e-8))
    gain = 10.0 ** (rng.uniform(-cfg.gain_db, cfg.gain_db, size=(wave.shape[0], 1)) / 20.0)
    noise = rng.standard_normal(wave.shape) * cfg.noise_level * wave.std(axis=1, keepdims=True)
    return ((wave + noise) * gain).astype(np.float32)


def training_device(name: str = "cpu") -> torch.device:
    """"cpu", "cuda", "cuda:N" or "auto" (the GPU where torch sees one, else the CPU) -> the device to train on.

    A GPU that was asked for and is not there is a FailedPrecondition (CUDA_UNAVAILABLE), never a silent CPU run.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise FailedPrecondition(f"unknown training device {name!r}", reason="BAD_TRAINING_DEVICE") from error
    if device.type == "cuda" and (not torch.cuda.is_available() or (device.index or 0) >= torch.cuda.device_count()):
        raise FailedPrecondition(f"training device {name} asked for, but torch sees no such GPU "
                                 f"(CUDA build: {torch.version.cuda or 'none'})", reason="CUDA_UNAVAILABLE")
    if device.type not in ("cpu", "cuda"):
        raise FailedPrecondition(f"training runs on the CPU or a CUDA GPU, not {name!r}", reason="BAD_TRAINING_DEVICE")
    return device


def _batch_loss(model: AuMoCLIP, batch, cfg: TrainConfig) -> tuple[torch.Tensor, float, float]:
    device = model.log_scale_low.device

    def tensor(array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(array).to(device, non_blocking=True)

    wave, motion = tensor(batch.wave), tensor(batch.motion)
    text = None if batch.text is None else tensor(batch.text)
    prosody = None if batch.prosody is None or not model.config.prosody_dim else tensor(batch.prosody)
    if cfg.keyframes.enabled:
        motion = mask_keyframes(model, motion, cfg.keyframes)
    (audio_low, audio_high), (motion_low, motion_high) = model(wave, motion, text, prosody)
    global_loss = global_infonce(audio_high, motion_high, model.scale_high)
    local_loss = local_contrastive(audio_low, motion_low, model.scale_low, cfg.local_window)
    total = cfg.global_weight * global_loss + cfg.local_weight * local_loss
    return total, global_loss.item(), local_loss.item()


def _save_state(out_dir: Path, model: AuMoCLIP, optimizer: torch.optim.Optimizer, state: dict,
                average: WeightAverage) -> None:
    """The checkpoint gets the averaged weights; the train state the raw weights and the optimizer."""
    with average.applied(model):
        save_checkpoint(model, out_dir)
    opt = optimizer.state_dict()
    tensors = {f"state.{pid}.{key}": value.detach().to("cpu", copy=True).contiguous()
               for pid, entry in opt["state"].items() for key, value in entry.items()}
    tensors.update({RAW_PREFIX + name: value.detach().to("cpu", copy=True).contiguous()
                    for name, value in model.state_dict().items()})
    save_file(tensors, str(out_dir / STATE_TENSORS))
    state = dict(state, param_groups=opt["param_groups"])
    (out_dir / STATE_JSON).write_text(json.dumps(state, indent=1, default=list))


def _load_state(out_dir: Path, config: AuMoCLIPConfig, optimizer_factory, ema_decay: float, device: torch.device):
    """-> (model with the raw weights, optimizer, state dict, weight average) of a saved run, on `device`."""
    model = load_checkpoint(out_dir, expect=config).to(device)
    average = WeightAverage(model, ema_decay)  # the checkpoint holds the averaged weights
    state = json.loads((out_dir / STATE_JSON).read_text())
    tensors = load_file(str(out_dir / STATE_TENSORS))
    raw = {name[len(RAW_PREFIX):]: value for name, value in tensors.items() if name.startswith(RAW_PREFIX)}
    if set(raw) != set(model.state_dict()):
        raise CheckpointMismatch(f"train state in {out_dir} lacks the raw weights of this model; "
                                 f"train again without resume")
    model.load_state_dict(raw, strict=True)
    optimizer = optimizer_factory(model)
    per_param: dict[int, dict] = {}
    for name, value in tensors.items():
        if name.startswith(RAW_PREFIX):
            continue
        _, pid, key = name.split(".", 2)
        per_param.setdefault(int(pid), {})[key] = value
    groups = state.pop("param_groups")
    try:  # the optimizer moves its state to each parameter's device
        optimizer.load_state_dict({"state": per_param, "param_groups": groups})
    except (ValueError, KeyError) as exc:
        raise CheckpointMismatch(f"optimizer state in {out_dir} does not fit the model: {exc}") from exc
    return model, optimizer, state, average


def _new_run(pairs, config: AuMoCLIPConfig, seed: int, optimizer_factory, ema_decay: float, device: torch.device):
    torch.manual_seed(seed)
    model = AuMoCLIP(config)  # initialised on the CPU: a seed gives the same start on any device
    model.motion_tower.set_input_statistics(*_motion_statistics(pairs))
    model.to(device)
    state = {"step": 0, "epoch": 0, "seconds": 0.0, "history": [], "seed": seed}
    return model, optimizer_factory(model), state, WeightAverage(model, ema_decay)


def batches_per_epoch(pairs: Sequence[AudioMotionPair], clip_frames: int, cfg: "TrainConfig") -> int:
    """Optimizer steps of one epoch (full batches of every stride window; the jitter keeps the count)."""
    windows = sum(window_starts(p.frames, clip_frames, cfg.window_stride_frames).shape[0] for p in pairs)
    return max(1, windows // cfg.batch_size)


def planned_epochs(pairs: Sequence[AudioMotionPair], clip_frames: int, cfg: "TrainConfig") -> int:
    """The fixed budget: epochs that make at least `cfg.total_steps` optimizer steps."""
    return max(1, math.ceil(cfg.total_steps / batches_per_epoch(pairs, clip_frames, cfg)))


def learning_rate_at(step: int, cfg: "TrainConfig") -> float:
    """Linear warm-up, then cosine decay to learning_rate * min_lr_ratio at total_steps (flat after)."""
    if step < cfg.warmup_steps:
        return cfg.learning_rate * (step + 1) / cfg.warmup_steps
    span = max(1, cfg.total_steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    floor = cfg.learning_rate * cfg.min_lr_ratio
    return floor + (cfg.learning_rate - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def train(pairs: Sequence[AudioMotionPair], out_dir: str | Path, config: AuMoCLIPConfig, *,
          max_minutes: float = 5.0, epochs: int | None = None, seed: int = 0, resume: bool = True,
          progress: ProgressFn | None = None, train_config: TrainConfig = TrainConfig(),
          should_stop: Callable[[], bool] | None = None, device: str = "cpu") -> TrainResult:
    """Trains AuMoCLIP on `pairs` until `epochs` or `max_minutes` (whichever first); checkpoint in `out_dir`.

    `epochs=None` is the fixed budget of `train_config.total_steps` steps (`planned_epochs`): deterministic,
    with `max_minutes` only a safety cap. The checkpoint holds the EMA weights (`ema_decay`).

    With `resume` and a previous state in `out_dir` (same config, else CheckpointMismatch) it continues from
    the saved step/epoch; epoch e always draws its windows from rng(seed, e), so runs are reproducible.
    `should_stop` returning True raises Cancelled after saving the state.
    `device` (`training_device`): where the steps run; the checkpoint and train state are saved from the CPU,
    so a run resumes and loads on any device. Not part of the recipe: a GPU run computes the same model up to
    float rounding (it is not bit-identical to a CPU run).
    """
    config = config.validate()
    target = training_device(device)
    if config.prosody_dim and any(pair.prosody is None for pair in pairs):
        from tango.aumoclip.prosody import ProsodyFeatures

        pairs = with_prosody(pairs, ProsodyFeatures(config.fps, config.sample_rate).of_audio)  # once, clean audio
    _validate(pairs, config)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    def optimizer_factory(model: AuMoCLIP) -> torch.optim.Optimizer:
        return torch.optim.AdamW(model.parameters(), lr=train_config.learning_rate,
                                 weight_decay=train_config.weight_decay)

    if epochs is None:
        epochs = planned_epochs(pairs, config.clip_frames, train_config)
    if resume and (out_dir / STATE_JSON).is_file():
        model, optimizer, state, average = _load_state(out_dir, config, optimizer_factory, train_config.ema_decay,
                                                       target)
    else:
        model, optimizer, state, average = _new_run(pairs, config, seed, optimizer_factory, train_config.ema_decay,
                                                    target)
    deadline = time.monotonic() + max_minutes * 60.0
    previous_threads = torch.get_num_threads()
    if train_config.torch_threads > 0:
        torch.set_num_threads(train_config.torch_threads)
    try:
        stopped_by = _epochs(model, optimizer, average, pairs, state, out_dir, epochs, train_config, deadline,
                             progress, should_stop)
    finally:
        torch.set_num_threads(previous_threads)
    full = [h for h in state["history"] if h.get("complete")]
    per_epoch = float(np.mean([h["seconds"] for h in full])) if full else 0.0
    model.eval()
    return TrainResult(str(out_dir), state["step"], state["epoch"], state["seconds"], per_epoch, stopped_by,
                       state["history"])


def _epochs(model, optimizer, average: WeightAverage, pairs, state: dict, out_dir: Path, epochs: int,
            train_config: TrainConfig, deadline: float, progress, should_stop) -> str:
    """Runs epochs until `epochs` or the deadline, saving after each; returns "epochs" or "time"."""
    planned_steps = epochs * batches_per_epoch(pairs, model.config.clip_frames, train_config)
    while state["epoch"] < epochs:
        epoch_result = _run_epoch(model, optimizer, average, pairs, state, train_config, deadline, progress,
                                  should_stop, planned_steps)
        state["seconds"] += epoch_result["seconds"]
        if epoch_result["complete"]:
            state["epoch"] += 1
            state["history"].append(dict(epoch_result, epoch=state["epoch"]))
        _save_state(out_dir, model, optimizer, state, average)
        if should_stop is not None and should_stop():
            raise Cancelled("AuMoCLIP training cancelled (state saved)")
        if not epoch_result["complete"]:
            return "time"
    return "epochs"


def _run_epoch(model: AuMoCLIP, optimizer: torch.optim.Optimizer, average: WeightAverage, pairs, state: dict,
               cfg: TrainConfig, deadline: float, progress: ProgressFn | None, should_stop,
               planned_steps: int) -> dict:
    """One epoch (or until the deadline / a stop request). Mutates state['step']; progress counts all steps."""
    started = time.monotonic()
    clip = model.config.clip_frames
    rng = np.random.default_rng([state["seed"], state["epoch"]])
    torch.manual_seed(state["seed"] * 100_003 + state["epoch"])
    pair_index, starts = _epoch_index(pairs, clip, cfg.window_stride_frames, rng)
    batches = max(1, starts.shape[0] // cfg.batch_size)  # drop the ragged tail: InfoNCE wants full batches
    model.train()
    totals = np.zeros(3)
    done = 0
    for number in range(batches):
        if time.monotonic() > deadline or (should_stop is not None and should_stop()):
            break
        chosen = slice(number * cfg.batch_size, (number + 1) * cfg.batch_size)
        batch_pairs, batch_starts = _with_shifted_copies(pairs, pair_index[chosen], starts[chosen], clip, cfg, rng)
        batch = gather_clips(pairs, batch_pairs, batch_starts, clip)
        batch = replace(batch, wave=_augment_audio(batch.wave, cfg, rng))
        for group in optimizer.param_groups:
            group["lr"] = learning_rate_at(state["step"], cfg)
        loss, global_loss, local_loss = _batch_loss(model, batch, cfg)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
        optimizer.step()
        state["step"] += 1
        average.update(model, state["step"])
        done += 1
        totals += (loss.item(), global_loss, local_loss)
        if progress is not None:
            progress("train", min(state["step"], planned_steps), planned_steps)
    mean = totals / max(done, 1)
    return {"complete": done == batches, "loss": float(mean[0]), "global": float(mean[1]),
            "local": float(mean[2]), "seconds": time.monotonic() - started, "steps": done}


def result_json(result: TrainResult) -> str:
    return json.dumps(asdict(result), indent=1)

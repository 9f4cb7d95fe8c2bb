"""Self-reenactment: do the retrieved gestures follow the speech? (`tango reenact eval VIDEO --json`)

A reference video is cut by time: its first `reference_fraction` (75 %) makes the speaker (motion graph +
per-speaker AuMoCLIP, exactly as at ingest), the audio of the rest is the target speech, and the real motion
of that rest is the ground truth the retrieved paths are compared with. Everything runs in this process over
the rooms' own code (graph build, speaker training, the retrieval searches), nothing through a mesh.
With `folds` K > 1 the video is cut into K equal spans instead, each in turn the target and the footage before
and after it (two pieces: two videos of the graph, two training pairs) the speaker, one speaker model per fold;
the figures are means over the folds: K times the target speech behind each figure.

Per search mode (`dp` the product, `random` and `onset` the baselines), on the target stretch at 30 fps:
- `energy_corr`: Pearson correlation of the motion-energy curves (mean joint speed, linear + angular,
  smoothed over `smooth_frames`) of the retrieved and the real motion;
- `beat_align`: the beat-alignment score of Bailando (Li et al. 2022), `render.metrics.beat_consistency` over
  motion beats taken as velocity peaks: mean of exp(-d^2 / 2 sigma^2), d the distance to the nearest audio
  onset (`real` gives the real motion's own score: the ceiling this footage allows);
- `similarity`: the mean per-step score s(t, n) the searches maximise, and `similarity_rank` among the modes
  and the real motion (1 = highest). `real.similarity` scores the real motion's own nodes the same way: a
  model that ranks it above random paths hears something of the speaker's gestures.

One target stretch is a few seconds: a single random walk's energy_corr swings by +-0.2 from seed to seed, so
one draw says little. `random` is therefore `random_draws` walks (seeds seed .. seed + draws - 1): its
figures are their means, with `energy_corr_p05` / `energy_corr_p95` the spread; `dp` and `onset` carry
`energy_corr_above_random` and `beat_align_above_random`, the share of those walks they beat (0.5 = no better
than chance; 0.95 = better than 95 % of them).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from scipy.signal import find_peaks

from tango.aumoclip.data import FPS, SAMPLE_RATE, AudioMotionPair, frame_to_sample, pairs_from_perception
from tango.aumoclip.evaluate import motion_speed
from tango.aumoclip.model import AuMoCLIP
from tango.graph.build import build_graph
from tango.graph.inputs import InMemoryPerception
from tango.render.metrics import beat_consistency
from tango.retrieval.baselines import audio_onset_frames
from tango.retrieval.embedding import audio_features, embed_graph_nodes
from tango.retrieval.inputs import FRAMES_PER_STEP, RetrievalGraph, TargetFeatures
from tango.retrieval.options import SearchOptions
from tango.retrieval.scoring import path_similarity
from tango.retrieval.search import search_path
from tango.runtime.errors import InvalidArgument

MODES = ("dp", "random", "onset")
TrainFn = Callable[[list[AudioMotionPair], Path], AuMoCLIP]  # reference pairs, work dir -> speaker model


@dataclass(frozen=True)
class SelfEvalConfig:
    reference_fraction: float = 0.75
    seed: int = 0
    hop_frames: int = 30  # RetrievalConfig.window_hop_frames: hop of the 4 s high-level windows
    smooth_frames: int = 5  # moving average of the motion-energy curves (1/6 s)
    beat_sigma_frames: float = 3.0  # Bailando's sigma (frames at 30 fps)
    random_draws: int = 200  # random walks scored for the `random` baseline's distribution
    folds: int = 1  # > 1: each 1/folds of the video in turn is the target, the footage around it the speaker
    search: SearchOptions = SearchOptions()  # the product's search options (each mode and seed set per search)
    modes: tuple[str, ...] = MODES


class LocalEmbedder:
    """The TritonClient's embed_audio / embed_motion over an in-process model (one item -> (T, D), (D,))."""

    def __init__(self, model: AuMoCLIP):
        self.model = model.eval()

    @torch.inference_mode()
    def embed_audio(self, wave: np.ndarray, checkpoint: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        low, high = self.model.embed_audio(torch.from_numpy(np.ascontiguousarray(wave, np.float32))[None])
        return low[0].numpy(), high[0].numpy()

    @torch.inference_mode()
    def embed_motion(self, motion: np.ndarray, checkpoint: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        low, high = self.model.embed_motion(torch.from_numpy(np.ascontiguousarray(motion, np.float32))[None])
        return low[0].numpy(), high[0].numpy()


def crop_perception(arrays: dict, meta: dict, stop_s: float, start_s: float = 0.0) -> InMemoryPerception:
    """The perception of [start_s, stop_s): every per-frame array (first axis = frames) cut, meta updated."""
    times = np.asarray(arrays["timestamps_s"], np.float64)
    first, last = (int(np.searchsorted(times, times[0] + t - 1e-6)) for t in (start_s, stop_s))
    cropped = {key: (np.asarray(value)[first:last] if np.ndim(value) and np.shape(value)[0] == times.shape[0]
                     else value) for key, value in arrays.items()}
    frames = last - first
    return InMemoryPerception(cropped, dict(meta, frames=frames, duration_s=frames / float(meta["fps"])))


def motion_energy(motion: np.ndarray, smooth_frames: int) -> np.ndarray:
    """(T, J, 15) -> (T,) mean joint speed, moving-averaged over `smooth_frames` (edges replicated)."""
    speed = motion_speed(motion)
    if smooth_frames <= 1:
        return speed
    padded = np.pad(speed, (smooth_frames // 2, smooth_frames - 1 - smooth_frames // 2), mode="edge")
    return np.convolve(padded, np.ones(smooth_frames) / smooth_frames, mode="valid")


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation (0 when either curve is constant)."""
    a, b = a - a.mean(), b - b.mean()
    scale = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / scale) if scale > 1e-12 else 0.0


def beat_alignment(motion: np.ndarray, onsets: np.ndarray, sigma: float) -> float:
    """Bailando's BA of motion beats (velocity peaks) against onsets; onsets and sigma in frames."""
    beats, _ = find_peaks(motion_speed(motion))
    return beat_consistency(beats / FPS, np.asarray(onsets) / FPS, sigma / FPS)


def _chain_graph(low: np.ndarray, high: np.ndarray) -> RetrievalGraph:
    """A graph whose nodes are the real motion's own steps, each continuing to the next (scoring only)."""
    steps = high.shape[0]
    targets = np.minimum(np.arange(steps) + 1, steps - 1)
    return RetrievalGraph(indptr=np.arange(steps + 1, dtype=np.int64), indices=targets.astype(np.int32),
                          edge_continue=np.ones(steps, bool), edge_cost=np.zeros(steps, np.float32),
                          motion_low=low, motion_high=high)


def _real_similarity(embedder: LocalEmbedder, real: np.ndarray, features: TargetFeatures, options: SearchOptions,
                     hop: int) -> float:
    """Mean score s(t, n) of the real motion's own steps, embedded like graph nodes."""
    steps = real.shape[0] // FRAMES_PER_STEP
    nodes = real[: steps * FRAMES_PER_STEP].reshape(steps, FRAMES_PER_STEP, *real.shape[1:])
    low, high = embed_graph_nodes(embedder, "", nodes, np.zeros(steps, np.int32),
                                  np.arange(steps, dtype=np.int32) * FRAMES_PER_STEP, hop)
    trimmed = dataclasses.replace(features, audio_low=features.audio_low[: steps * FRAMES_PER_STEP],
                                  audio_high=features.audio_high[:steps], loudness=None)
    return float(path_similarity(_chain_graph(low, high), trimmed, options, np.arange(steps)).mean())


def _path_measures(graph: RetrievalGraph, result, real: np.ndarray, onsets: np.ndarray,
                   config: SelfEvalConfig) -> dict[str, float]:
    frames = real.shape[0]
    retrieved = graph.motion[result.path].reshape(-1, *graph.motion.shape[2:])[:frames]  # (F, J, 15)
    return {"energy_corr": correlation(motion_energy(retrieved, config.smooth_frames),
                                       motion_energy(real, config.smooth_frames)),
            "beat_align": beat_alignment(retrieved, onsets, config.beat_sigma_frames),
            "similarity": float(result.similarity), "jumps": int(result.jump_count), "steps": int(result.steps)}


@dataclass
class _Fold:
    """One target stretch: each mode's measures, the random walks' (one value per draw), the real motion's."""

    modes: dict[str, dict[str, float]]
    draws: dict[str, np.ndarray] | None  # measure -> (random_draws,)
    real: dict[str, float]
    reference_frames: int
    target_frames: int
    graph_nodes: int
    onsets: int


def target_spans(frames: int, config: SelfEvalConfig) -> list[tuple[int, int]]:
    """The held-out [start, stop) frame spans: the last 1 - reference_fraction, or each 1/folds in turn."""
    if config.folds > 1:
        spans = [(frames * k // config.folds, frames * (k + 1) // config.folds) for k in range(config.folds)]
    else:
        spans = [(int(round(config.reference_fraction * frames)), frames)]
    if any(stop - start < FRAMES_PER_STEP or stop - start >= frames for start, stop in spans):
        split = f"{config.folds} folds" if config.folds > 1 else f"{config.reference_fraction:.0%}"
        raise InvalidArgument(f"{frames} frames cannot be split at {split}", reason="VIDEO_TOO_SHORT")
    return spans


def _options(config: SelfEvalConfig, mode: str, seed: int) -> SearchOptions:
    return dataclasses.replace(config.search, mode=mode, seed=seed)


def _run_fold(full: AudioMotionPair, arrays: dict, meta: dict, span: tuple[int, int], work_dir: Path,
              train_model: TrainFn, config: SelfEvalConfig) -> _Fold:
    """Speaker from the footage around `span` (one piece before it, one after), its audio reenacted."""
    start, stop = span
    pieces = [(a, b) for a, b in ((0, start), (stop, full.frames)) if b - a >= FRAMES_PER_STEP]
    graph_result = build_graph([crop_perception(arrays, meta, b / FPS, a / FPS) for a, b in pieces])
    embedder = LocalEmbedder(train_model([full.crop(a, b) for a, b in pieces], work_dir))
    g = graph_result.arrays
    low, high = embed_graph_nodes(embedder, "", g["motion"], g["node_video"], g["node_start_frame"],
                                  config.hop_frames)
    graph = RetrievalGraph.from_arrays({**g, "motion_low": low, "motion_high": high})
    target_audio = full.audio[frame_to_sample(start):frame_to_sample(stop)]
    features = audio_features(embedder, "", target_audio, config.hop_frames)
    onsets = audio_onset_frames(target_audio, SAMPLE_RATE, FPS)
    real = full.motion[start:stop][: features.audio_high.shape[0] * FRAMES_PER_STEP]
    modes, draws = {}, None
    for mode in config.modes:
        if mode == "random":  # `random_draws` seeded walks
            walks = [_path_measures(graph, search_path(graph, features, _options(config, mode, config.seed + k)),
                                    real, onsets, config) for k in range(max(config.random_draws, 1))]
            draws = {key: np.array([walk[key] for walk in walks], np.float64) for key in walks[0]}
            modes[mode] = {key: float(values.mean()) for key, values in draws.items()}
        else:
            result = search_path(graph, features, _options(config, mode, config.seed))
            modes[mode] = _path_measures(graph, result, real, onsets, config)
    real_scores = {"beat_align": beat_alignment(real, onsets, config.beat_sigma_frames),
                   "similarity": _real_similarity(embedder, real, features, config.search, config.hop_frames)}
    return _Fold(modes=modes, draws=draws, real=real_scores, reference_frames=sum(b - a for a, b in pieces),
                 target_frames=real.shape[0], graph_nodes=int(graph.num_nodes), onsets=int(onsets.size))


def _summary(folds: list[_Fold], config: SelfEvalConfig) -> dict:
    """Every measure as its mean over the folds (one fold: its own figures); steps and jumps summed. The
    random baseline's spread is that of the fold-mean of walk k, which `dp` and `onset` are placed in."""
    def mean(values) -> float:
        return float(np.mean(values))

    draws = None if folds[0].draws is None else {  # (random_draws,) the fold-mean of walk k
        key: np.mean([fold.draws[key] for fold in folds], axis=0) for key in folds[0].draws}
    report: dict = {}
    for mode in config.modes:
        measures = [fold.modes[mode] for fold in folds]
        entry = {"energy_corr": round(mean([m["energy_corr"] for m in measures]), 4),
                 "beat_align": round(mean([m["beat_align"] for m in measures]), 4),
                 "similarity": round(mean([m["similarity"] for m in measures]), 5),
                 "jumps": sum(m["jumps"] for m in measures), "steps": int(sum(m["steps"] for m in measures))}
        report[mode] = entry
        if mode == "random":
            entry.update(jumps=round(entry["jumps"], 2), draws=max(config.random_draws, 1),
                         energy_corr_p05=round(float(np.percentile(draws["energy_corr"], 5)), 4),
                         energy_corr_p95=round(float(np.percentile(draws["energy_corr"], 95)), 4))
            continue
        if len(folds) > 1:
            entry["energy_corr_per_fold"] = [round(m["energy_corr"], 4) for m in measures]
        for key in ("energy_corr", "beat_align") if draws is not None else ():
            entry[f"{key}_above_random"] = round(float(np.mean(draws[key] < mean([m[key] for m in measures]))), 3)
    report["real"] = {"beat_align": round(mean([fold.real["beat_align"] for fold in folds]), 4),
                      "similarity": round(mean([fold.real["similarity"] for fold in folds]), 5)}
    ranked = sorted(report, key=lambda name: -report[name]["similarity"])
    for name in report:
        report[name]["similarity_rank"] = ranked.index(name) + 1
    report["folds"] = len(folds)
    report["reference_seconds"] = round(mean([fold.reference_frames for fold in folds]) / FPS, 2)
    report["target_seconds"] = round(sum(fold.target_frames for fold in folds) / FPS, 2)
    report["graph_nodes"] = int(round(mean([fold.graph_nodes for fold in folds])))
    report["onsets"] = sum(fold.onsets for fold in folds)
    return report


def self_reenact(arrays: dict, meta: dict, audio: np.ndarray, work_dir: str | Path, train_model: TrainFn,
                 config: SelfEvalConfig = SelfEvalConfig()) -> dict:
    """Perception arrays + meta + 16 kHz audio of one reference video -> the self-reenactment report."""
    full = pairs_from_perception(arrays, meta, audio, min_seconds=0.0, name="reference")[0]
    spans = target_spans(full.frames, config)
    work = Path(work_dir)
    folds = [_run_fold(full, arrays, meta, span, work / f"fold{k}" if len(spans) > 1 else work, train_model, config)
             for k, span in enumerate(spans)]
    return _summary(folds, config)

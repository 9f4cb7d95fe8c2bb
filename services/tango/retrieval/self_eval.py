"""Self-reenactment: do the retrieved gestures follow the speech? (`tango reenact eval VIDEO --json`)

A reference video is cut by time: its first `reference_fraction` (75 %) makes the speaker (motion graph +
per-speaker AuMoCLIP, exactly as at ingest), the audio of the rest is the target speech, and the real motion
of that rest is the ground truth the retrieved paths are compared with. Everything runs in this process over
the rooms' own code (graph build, speaker training, the retrieval searches), nothing through a mesh.

Per search mode (`dp` the product, `random` and `onset` the baselines), on the target stretch at 30 fps:
- `energy_corr`: Pearson correlation of the motion-energy curves (mean joint speed, linear + angular,
  smoothed over `smooth_frames`) of the retrieved and the real motion;
- `beat_align`: the beat-alignment score of Bailando (Li et al. 2022), `render.metrics.beat_consistency` over
  motion beats taken as velocity peaks: mean of exp(-d^2 / 2 sigma^2), d the distance to the nearest audio
  onset (`real` gives the real motion's own score: the ceiling this footage allows);
- `similarity`: the mean per-step score s(t, n) the searches maximise, and `similarity_rank` among the modes
  and the real motion (1 = highest). `real.similarity` scores the real motion's own nodes the same way: a
  model that ranks it above random paths hears something of the speaker's gestures.
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


def crop_perception(arrays: dict, meta: dict, stop_s: float) -> InMemoryPerception:
    """The perception of [0, stop_s): every per-frame array (first axis = frames) cut, meta updated."""
    times = np.asarray(arrays["timestamps_s"], np.float64)
    frames = int(np.searchsorted(times, times[0] + stop_s - 1e-6))
    cropped = {key: (np.asarray(value)[:frames] if np.ndim(value) and np.shape(value)[0] == times.shape[0]
                     else value) for key, value in arrays.items()}
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
                                  audio_high=features.audio_high[:steps])
    return float(path_similarity(_chain_graph(low, high), trimmed, options, np.arange(steps)).mean())


def _mode_scores(graph: RetrievalGraph, result, real: np.ndarray, onsets: np.ndarray, config: SelfEvalConfig) -> dict:
    frames = real.shape[0]
    retrieved = graph.motion[result.path].reshape(-1, *graph.motion.shape[2:])[:frames]  # (F, J, 15)
    corr = correlation(motion_energy(retrieved, config.smooth_frames), motion_energy(real, config.smooth_frames))
    return {"energy_corr": round(corr, 4),
            "beat_align": round(beat_alignment(retrieved, onsets, config.beat_sigma_frames), 4),
            "similarity": round(result.similarity, 5), "jumps": int(result.jump_count), "steps": result.steps}


def split_pair(full: AudioMotionPair, fraction: float) -> tuple[AudioMotionPair, np.ndarray, np.ndarray, int]:
    """-> (reference pair, target audio (S,), real target motion (F, J, C), cut frame)."""
    cut = int(round(fraction * full.frames))
    if not 0 < cut < full.frames - FRAMES_PER_STEP:
        raise InvalidArgument(f"{full.frames} frames cannot be split at {fraction:.0%}", reason="VIDEO_TOO_SHORT")
    return full.crop(0, cut), full.audio[frame_to_sample(cut):], full.motion[cut:], cut


def self_reenact(arrays: dict, meta: dict, audio: np.ndarray, work_dir: str | Path, train_model: TrainFn,
                 config: SelfEvalConfig = SelfEvalConfig()) -> dict:
    """Perception arrays + meta + 16 kHz audio of one reference video -> the self-reenactment report."""
    full = pairs_from_perception(arrays, meta, audio, min_seconds=0.0, name="reference")[0]
    reference, target_audio, real, cut = split_pair(full, config.reference_fraction)
    graph_result = build_graph([crop_perception(arrays, meta, cut / FPS)])
    model = train_model([reference], Path(work_dir))
    embedder = LocalEmbedder(model)
    g = graph_result.arrays
    low, high = embed_graph_nodes(embedder, "", g["motion"], g["node_video"], g["node_start_frame"],
                                  config.hop_frames)
    graph = RetrievalGraph.from_arrays({**g, "motion_low": low, "motion_high": high})
    features = audio_features(embedder, "", target_audio, config.hop_frames)
    onsets = audio_onset_frames(target_audio, SAMPLE_RATE, FPS)
    real = real[: min(real.shape[0], features.audio_high.shape[0] * FRAMES_PER_STEP)]
    report = {}
    for mode in config.modes:
        options = SearchOptions(mode=mode, seed=config.seed)
        report[mode] = _mode_scores(graph, search_path(graph, features, options), real, onsets, config)
    options = SearchOptions(seed=config.seed)
    report["real"] = {"beat_align": round(beat_alignment(real, onsets, config.beat_sigma_frames), 4),
                      "similarity": round(_real_similarity(embedder, real, features, options, config.hop_frames), 5)}
    ranked = sorted(report, key=lambda name: -report[name]["similarity"])
    for name in report:
        report[name]["similarity_rank"] = ranked.index(name) + 1
    report["reference_seconds"] = round(cut / FPS, 2)
    report["target_seconds"] = round(real.shape[0] / FPS, 2)
    report["graph_nodes"] = int(graph.num_nodes)
    report["onsets"] = int(onsets.size)
    return report

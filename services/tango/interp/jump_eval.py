"""Measure transition interpolators on the jumps a rendered path takes, at full source resolution.

`tango interp eval --video V --jumps` (the CLI gets the speaker's perception and motion graph through
the mesh, as `tango graph build` does, and hands their artifacts here):
1. jump windows: jump edges of the graph stratified over edge cost, placed and sized (by the jump's
   difficulty) as the renderer places and sizes them (`tango.interp.jump_windows`);
2. one decode pass keeps 64 px thumbnails of every frame and the full frames the windows, the held-out
   gaps and the background plate need; person masks are perception's, refined at source resolution
   (`tango.interp.masks`); the plate is the masked temporal median of `plate_frames` frames spread over
   the video, the held-out gap windows left out unless that leaves fewer than half of them
   (`tango.interp.plate`); `layered` also gets perception's face landmarks of the context frames;
3. every model draws every window; the no-reference measures of `tango.interp.jump_measures` score it,
   PSNR / SSIM score it against the footage's own continuous stretch where one matches the window's ends;
4. held-out gaps (the protocol of `tango.interp.evaluate`: n real frames cut out, regenerated from the k
   on each side) give PSNR / SSIM on real in-between frames of the same video;
5. a PNG strip of the worst windows (ranked by `rank_model`'s ghosting): per window one row per model,
   before | generated | after, cropped at source scale around the window's worst ghosting.

Result: {"default": the renderer's model, "best": `best_model`, "models": {name: {"psnr", "ssim" (held-out
gaps), "jump_psnr", "jump_ssim" (jump windows with a footage reference; null without one), "ghosting",
"bleed", "warp_error", "face_sharpness", "hand_clarity" (means over the jump windows), "face_sharpness_error",
"hand_clarity_error" (the mean of |ratio - 1| over the windows: a window of doubled edges, above 1, cannot cancel a
blurred one below), "ms_per_frame" (the model call over every frame it generated)}}, "windows",
"reference_windows", "held_out_gaps", "strip", "layer_costs" (plate build, mask refinement: what `layered` needs
besides its call), "per_window": [...]}; NaN becomes null.
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Callable

import numpy as np

from tango.graph.artifact_io import GraphArtifact
from tango.interp.evaluate import gap_starts
from tango.interp.jump_measures import FlowProbe, MeasureConfig, WindowContext, window_measures
from tango.interp.jump_windows import JumpSpec, attach_references, sample_jumps, thumbnail
from tango.interp.layered import preload
from tango.interp.masks import refine_masks
from tango.interp.metrics import psnr, ssim
from tango.interp.plate import Plate, plate_from_low_masks, plate_samples
from tango.interp.strip import StripRow, crop_box, write_strip
from tango.interp.transition import TransitionInterpolator
from tango.media.video import iter_frames, read_frames
from tango.perception.artifact_io import PerceptionArtifact
from tango.render.config import RenderConfig
from tango.render.plan import RenderOptions

MEASURES = ("psnr", "ssim", "jump_psnr", "jump_ssim", "ghosting", "bleed", "warp_error", "face_sharpness",
            "hand_clarity", "ms_per_frame")
RATIOS = ("face_sharpness", "hand_clarity")  # 1 = as sharp as the real ends: also summarised as |ratio - 1|
DEFAULT_MODEL = RenderConfig.transition_method  # what the renderer draws jumps with (Triton `interp_flow`'s method)
PSNR_SLACK_DB = 0.5  # `best`: the least ghosting among models this close to the top held-out PSNR


@dataclasses.dataclass(frozen=True)
class JumpEvalConfig:
    windows: int = 8
    seed: int = 0
    transition_frames: int = RenderOptions().transition_frames  # held-out gap length (jumps: sized by difficulty)
    context: int = RenderOptions().context_frames
    # how the renderer sizes a jump's window; every sampled jump is drawn, those the product cuts included
    render: RenderOptions = RenderOptions(cut_difficulty=0.0)
    gaps: int = 8  # held-out gaps (0 = none)
    plate_frames: int = 32
    models: tuple[str, ...] = ("flow", "crossfade", "layered")
    rank_model: str = "flow"  # the strip shows this model's worst windows
    strip_windows: int = 3
    strip_crop: int = 512
    measures: MeasureConfig = MeasureConfig()


@dataclasses.dataclass(frozen=True)
class TransitionInputs:
    before: np.ndarray  # (k, H, W, 3) uint8
    after: np.ndarray  # (k, H, W, 3) uint8
    num_frames: int
    masks_before: np.ndarray  # (k, H, W) float32
    masks_after: np.ndarray  # (k, H, W) float32
    plate: np.ndarray | None  # (H, W, 3) uint8
    landmarks_before: np.ndarray | None = None  # (k, 95, 3) float32 perception's face points, NaN rows: no face
    landmarks_after: np.ndarray | None = None


Model = Callable[[TransitionInputs], np.ndarray]  # -> (n, H, W, 3) uint8


def models_by_name(names: tuple[str, ...]) -> dict[str, Model]:
    """The interpolators under test, all through `TransitionInterpolator` (layered gets masks, plate and face
    landmarks)."""
    engine = TransitionInterpolator()

    def model(name: str) -> Model:
        def draw(x: TransitionInputs) -> np.ndarray:
            extra = {"masks_before": x.masks_before, "masks_after": x.masks_after, "plate": x.plate,
                     "landmarks_before": x.landmarks_before, "landmarks_after": x.landmarks_after} \
                if name == "layered" else {}
            return engine.interpolate(x.before, x.after, x.num_frames, name, **extra)
        return draw

    return {name: model(name) for name in names}


@dataclasses.dataclass
class _Footage:
    """Decoded frames (by perception frame), thumbnails and masks of one video."""

    frames: dict[int, np.ndarray]
    thumbs: np.ndarray  # (F, h, w) float32
    low_masks: np.ndarray  # (F, Hm, Wm) bool
    perception: PerceptionArtifact

    def stack(self, indices: np.ndarray) -> np.ndarray:
        return np.stack([self.frames[int(i)] for i in indices])  # (k, H, W, 3)

    def inputs(self, before: np.ndarray, after: np.ndarray, n: int, plate: Plate | None) -> TransitionInputs:
        b, a = self.stack(before), self.stack(after)
        masks_b, masks_a = refine_masks(b, self.low_masks[before]), refine_masks(a, self.low_masks[after])
        points = self.perception.arrays.get("face_landmarks")  # (F, 95, 3)
        landmarks = (None, None) if points is None else \
            (points[before].astype(np.float32), points[after].astype(np.float32))
        return TransitionInputs(b, a, n, masks_b, masks_a, None if plate is None else plate.image, *landmarks)


def decode_footage(video: Path, perception: PerceptionArtifact, wanted: set[int]) -> _Footage:
    """One decode pass at perception's frame rate: thumbnails of all frames, full frames of `wanted`."""
    count = perception.frames
    thumbs: list[np.ndarray] = []
    frames: dict[int, np.ndarray] = {}
    for frame in iter_frames(video, perception.fps, max_frames=count):
        thumbs.append(thumbnail(frame.rgb))
        if frame.index in wanted:
            frames[frame.index] = frame.rgb
    return _Footage(frames, np.stack(thumbs), perception.masks(), perception)


def speaker_plate(footage: _Footage, samples: np.ndarray) -> Plate:
    """Background plate from full frames `samples` and their perception masks upsampled (bilinear)."""
    return plate_from_low_masks(footage.stack(samples), footage.low_masks[samples])


def window_context(footage: _Footage, x: TransitionInputs, before_end: int, after_start: int) -> WindowContext:
    arrays = footage.perception.arrays
    return WindowContext(mask0=x.masks_before[-1], mask1=x.masks_after[0], plate=x.plate,
                         pose0=arrays["pose_image"][before_end], pose1=arrays["pose_image"][after_start],
                         hands0=arrays["hand_boxes"][before_end], hands1=arrays["hand_boxes"][after_start])


def _timed(model: Model, x: TransitionInputs) -> tuple[np.ndarray, float]:
    began = time.perf_counter()
    frames = model(x)
    return frames, time.perf_counter() - began


def _reference_scores(generated: np.ndarray, reference: np.ndarray | None) -> dict[str, float]:
    if reference is None:
        return {"jump_psnr": float("nan"), "jump_ssim": float("nan")}
    return {"jump_psnr": float(np.mean([psnr(r, g) for r, g in zip(reference, generated)])),
            "jump_ssim": float(np.mean([ssim(r, g) for r, g in zip(reference, generated)]))}


def measure_jump(spec: JumpSpec, footage: _Footage, plate: Plate | None, models: dict[str, Model],
                 reference: np.ndarray | None, config: JumpEvalConfig, probe: FlowProbe) -> tuple[dict, list[StripRow]]:
    """Every model on one jump window -> ({model: measures}, strip rows cropped around the worst ghosting)."""
    began = time.perf_counter()
    x = footage.inputs(spec.before, spec.after, spec.frames, plate)
    refine_seconds = time.perf_counter() - began
    context = window_context(footage, x, int(spec.before[-1]), int(spec.after[0]))
    first, last = x.before[-1], x.after[0]
    results, rows, box = {"mask_refine_seconds": refine_seconds}, [], None
    for name, model in models.items():
        generated, seconds = _timed(model, x)
        measures, ghost_total = window_measures(generated, first, last, context, probe, config.measures)
        results[name] = {**measures, **_reference_scores(generated, reference), "seconds": seconds}
        if box is None:  # the first model (the ranking one) fixes the crop
            box = crop_box(ghost_total, config.strip_crop)
        tiles = np.concatenate([first[None], generated, last[None]])[:, box[1]:box[3], box[0]:box[2]]
        rows.append(StripRow(f"{spec.source_node}->{spec.target_node} cost {spec.cost:.3f} n {spec.frames} {name} "
                             f"ghost {measures['ghosting']:.3f}", tiles.copy()))
    return results, rows


def measure_gap(start: int, footage: _Footage, plate: Plate | None, models: dict[str, Model],
                config: JumpEvalConfig) -> dict:
    """PSNR / SSIM of every model on one held-out gap [start, start + n) of real frames."""
    n, k = config.transition_frames, config.context
    x = footage.inputs(np.arange(start - k, start), np.arange(start + n, start + n + k), n, plate)
    truth = footage.stack(np.arange(start, start + n))  # (n, H, W, 3)
    results = {}
    for name, model in models.items():
        generated, seconds = _timed(model, x)
        results[name] = {"psnr": float(np.mean([psnr(t, g) for t, g in zip(truth, generated)])),
                         "ssim": float(np.mean([ssim(t, g) for t, g in zip(truth, generated)])), "seconds": seconds}
    return results


def _mean(values: list[float]) -> float | None:
    finite = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(finite)) if finite else None


def _off_one(ratio: float | None) -> float | None:
    return None if ratio is None else abs(ratio - 1.0)


def summarise(jumps: list[dict], gaps: list[dict], names: tuple[str, ...], frames: int) -> dict[str, dict]:
    """{model: {measure: mean over windows (None when never defined)}} with ms per generated frame
    (`frames`: every frame each model generated)."""
    out = {}
    for name in names:
        row = {m: _mean([j[name][m] for j in jumps]) for m in MEASURES[2:-1]}
        row.update({m: _mean([g[name][m] for g in gaps]) for m in ("psnr", "ssim")})
        seconds = sum(j[name]["seconds"] for j in jumps) + sum(g[name]["seconds"] for g in gaps)
        row["ms_per_frame"] = 1000.0 * seconds / max(1, frames)
        out[name] = {m: row[m] for m in MEASURES}
        out[name].update({f"{m}_error": _mean([_off_one(j[name][m]) for j in jumps]) for m in RATIOS})
    return out


def best_model(summary: dict[str, dict]) -> str:
    """The model with the least ghosting among those within PSNR_SLACK_DB of the best held-out PSNR."""
    psnrs = [row["psnr"] for row in summary.values() if row["psnr"] is not None]
    top = max(psnrs) if psnrs else None
    fair = [name for name, row in summary.items()
            if top is None or (row["psnr"] is not None and row["psnr"] >= top - PSNR_SLACK_DB)]
    return min(fair, key=lambda name: (summary[name]["ghosting"] is None, summary[name]["ghosting"] or 0.0))


def _gap_plan(frames: int, config: JumpEvalConfig) -> np.ndarray:
    """(G,) first frames of the held-out gaps: `gaps`, or as many as a short video holds."""
    count = min(config.gaps, frames // (config.transition_frames + 2 * config.context))
    if count <= 0:
        return np.zeros(0, np.int64)
    return gap_starts(frames, count, config.transition_frames, config.context, config.seed)


def evaluate_jumps(video: Path | str, graph: GraphArtifact, perception: PerceptionArtifact, strip_path: Path | str,
                   config: JumpEvalConfig = JumpEvalConfig(), progress: Callable[[str, int, int], None] | None = None,
                   ) -> dict:
    """The jump evaluation of one speaker video (module docstring) -> the JSON-ready summary."""
    video, n, k = Path(video), config.transition_frames, config.context
    names = tuple(dict.fromkeys((config.rank_model, *config.models)))  # the ranking model runs first
    specs = sample_jumps(graph, perception.frames, config.windows, config.seed, k, config.render)
    starts = _gap_plan(perception.frames, config)
    gap_frames = {int(i) for s in starts for i in range(s - k, s + n + k)}
    samples, plate_excludes_gaps = _plate_plan(perception, config.plate_frames, gap_frames)
    wanted = gap_frames | {int(i) for s in specs for i in (*s.before, *s.after)} | {int(i) for i in samples}
    footage = decode_footage(video, perception, wanted)
    specs = attach_references(specs, footage.thumbs)
    began = time.perf_counter()
    plate = speaker_plate(footage, samples) if samples.size else None
    costs = {"plate_seconds": time.perf_counter() - began, "plate_frames": int(samples.size),
             "plate_excludes_gaps": plate_excludes_gaps}
    models, probe = models_by_name(names), FlowProbe(config.measures.flow_max_side)
    preload()  # one-time imports stay out of the timings
    jumps, rows = [], []
    for done, spec in enumerate(specs):
        reference = _load_reference(video, perception, spec)
        result, spec_rows = measure_jump(spec, footage, plate, models, reference, config, probe)
        jumps.append(result)
        rows.append((result[config.rank_model]["ghosting"], spec_rows))
        if progress is not None:
            progress("jumps", done + 1, len(specs))
    gaps = []
    for done, start in enumerate(starts):
        gaps.append(measure_gap(int(start), footage, plate, models, config))
        if progress is not None:
            progress("gaps", done + 1, len(starts))
    worst = sorted(rows, key=lambda item: -item[0])[: config.strip_windows]
    write_strip(Path(strip_path), [row for _, window_rows in worst for row in window_rows])
    costs["mask_refine_ms_per_window"] = 1000.0 * float(np.mean([j.pop("mask_refine_seconds") for j in jumps] or [0.0]))
    return _report(video, footage, specs, jumps, gaps, names, config, strip_path, costs)


def _plate_plan(perception: PerceptionArtifact, count: int, gap_frames: set[int]) -> tuple[np.ndarray, bool]:
    """(plate frames, whether they avoid the held-out gaps): a short video's gaps hold most of its frames,
    and a plate of a handful of frames would be worse than one that has seen them."""
    samples = plate_samples(perception.arrays["person_present"], count, gap_frames)
    if samples.size >= count // 2:
        return samples, True
    return plate_samples(perception.arrays["person_present"], count), False


def _load_reference(video: Path, perception: PerceptionArtifact, spec: JumpSpec) -> np.ndarray | None:
    if spec.reference_start is None:
        return None
    indices = range(spec.reference_start, spec.reference_start + spec.frames)
    frames = read_frames(video, indices, perception.fps)
    return np.stack([frames[i] for i in indices])  # (n, H, W, 3)


def _report(video: Path, footage: _Footage, specs: list[JumpSpec], jumps: list[dict], gaps: list[dict],
            names: tuple[str, ...], config: JumpEvalConfig, strip_path: Path | str, costs: dict) -> dict:
    height, width = next(iter(footage.frames.values())).shape[:2]
    per_window = [{"source": s.source_node, "target": s.target_node, "cost": s.cost, "difficulty": s.difficulty,
                   "frames": s.frames,
                   "before_end": int(s.before[-1]), "after_start": int(s.after[0]),
                   "reference_start": s.reference_start, "reference_distance": s.reference_distance,
                   "models": {name: {m: v for m, v in j[name].items() if m != "seconds"} for name in names}}
                  for s, j in zip(specs, jumps)]
    generated = sum(s.frames for s in specs) + config.transition_frames * len(gaps)
    summary = summarise(jumps, gaps, names, generated)
    return _finite({
        "default": DEFAULT_MODEL if DEFAULT_MODEL in names else names[0], "best": best_model(summary),
        "models": summary,
        "windows": len(specs), "reference_windows": sum(s.reference_start is not None for s in specs),
        "held_out_gaps": len(gaps), "strip": str(strip_path), "video": video.name, "width": int(width),
        "height": int(height), "gap_frames": config.transition_frames, "context": config.context,
        "seed": config.seed, "layer_costs": costs, "per_window": per_window,
    })


def _finite(value):
    """NaN / inf -> None, recursively (strict JSON)."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value

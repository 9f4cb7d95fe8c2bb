"""`tango lipsync eval`: does the mouth say the held-out speech? Measured on the speaker's own footage.

Protocol (no SyncNet needed), repeated over `folds` disjoint spans that tile the video (cross-validation:
one 4-s span is too short to measure a mouth on), figures pooled over all folds:
1. A span of the video is held out: its frames, lips and audio are kept out of the mouth bank, the shape
   basis and the speaker mouth model (plus a margin of `MARGIN_FRAMES` on each side).
2. Its audio drives the mouths of OTHER frames of the video: as many "base" frames, half a video away, are
   shown, each with the mouth that lip sync chooses and composites from the remaining footage.
3. MediaPipe face mesh is run again on the composited frames (full resolution, as perception does); their
   lips, put in the pose-free head frame, are compared with the real held-out frames' lips:
   LMD = mean over frames and the 40 lip points of the 2-D distance, in inter-ocular distances.
   Baseline `lmd_no_lipsync`: the base frames' own lips (what the output shows without lip sync).
4. Mouth opening (inner-lip gap) correlated with the held-out audio's RMS envelope (per video frame):
   `envelope_corr` for the output, `envelope_corr_real` for the real held-out footage, and
   `envelope_corr_no_lipsync` for the base frames.
5. Popping: `jitter` = mean |second difference| over consecutive output frames of the same lips (the
   units of LMD), `jitter_real` the same of the real held-out frames, `jitter_ratio` = jitter / jitter_real
   (1: the output moves as smoothly as real speech; well above 1: the mouth pops at jumps between runs of
   source frames). `jitter_no_lipsync` is that of the base frames. `motion_ratio`: the same ratio of mean
   |first difference| (speed): a mouth that moves less than the real one also has less jitter, so
   jitter_ratio / motion_ratio is the popping per unit of motion.
A PNG strip shows, for a few evenly spaced frames of the first fold, the true mouth (top), the lip-synced
one (middle) and the base frame's own (bottom), cropped at source resolution.
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import cv2
import numpy as np

from tango.lipsync.bank import VisemeFn, build_speaker_mouths
from tango.lipsync.mouth_shape import mouth_shapes, rigid_template, to_pixels
from tango.lipsync.mouths import CROSSFADE_FRAMES, MouthCompositor, plan_mouths
from tango.media.audio import centred_loudness_db
from tango.media.video import read_frames
from tango.perception.artifact_io import PerceptionArtifact
from tango.perception.face import FaceAnalyzer, FaceOptions
from tango.runtime.errors import FailedPrecondition

SPEECH_RATE = 16000
MARGIN_FRAMES = 8  # between the bank and the held-out span


def envelope(speech: np.ndarray, n_frames: int, fps: float, window_s: float = 0.12) -> np.ndarray:
    """(n_frames,) loudness (dB RMS) of the speech in a `window_s` window centred on each video frame:
    the syllable-rate envelope that a mouth follows (frame-length windows follow single phones)."""
    return centred_loudness_db(speech, SPEECH_RATE, (np.arange(n_frames) + 0.5) / fps, window_s)


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
        return float("nan")
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def _lmd(lips: np.ndarray, truth: np.ndarray) -> float:
    return float(np.nanmean(np.linalg.norm(lips[..., :2] - truth[..., :2], axis=-1)))


def jitter(lips: np.ndarray, follows: np.ndarray, order: int = 2) -> float:
    """Mean |second difference| over time of the lip points (2-D, the units of `lips`): 0 for a still or
    uniformly moving mouth, large for one that pops (order=1: the mean speed instead). lips (S, P, >=2);
    follows (S,) bool: frame s continues frame s - 1 of the same shot (an order-k difference needs frames
    s - k .. s to be one stretch)."""
    follows = np.asarray(follows, bool)
    points = lips[..., :2].astype(np.float64)
    stretch = np.ones(len(points) - order, bool)
    for k in range(order):  # frames s - order + 1 .. s each follow their predecessor
        points = points[1:] - points[:-1]
        stretch &= follows[k + 1: len(follows) - order + k + 1]
    norms = np.linalg.norm(points[stretch], axis=-1)
    return float(np.nanmean(norms)) if np.isfinite(norms).any() else float("nan")


def _crop(frame: np.ndarray, points_px: np.ndarray, half: int) -> np.ndarray:
    """(2 half, 2 half, 3) crop at source resolution centred on the points (borders replicated)."""
    x0, y0 = (points_px.mean(axis=0) - half).astype(int)
    matrix = np.array([[1.0, 0.0, -x0], [0.0, 1.0, -y0]])
    return cv2.warpAffine(frame, matrix, (2 * half, 2 * half), flags=cv2.INTER_NEAREST,
                          borderMode=cv2.BORDER_REPLICATE)


@dataclasses.dataclass
class _Fold:
    landmarks: np.ndarray  # (S, 95, 3) face mesh of the lip-synced base frames, normalised
    held: np.ndarray  # (S,) held-out frames
    base: np.ndarray  # (S,) frames shown
    envelope: np.ndarray  # (S,)
    runs: int
    source: str
    tiles: dict[str, list[np.ndarray]]


def _fold_frames(total: int, folds: int, fold: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(held, base, exclude): the fold's span, the frames half a video away, and the bank's exclusion."""
    start, end = total * fold // folds, total * (fold + 1) // folds
    held = np.arange(start, end)
    base = (held + total // 2) % total
    exclude = (np.arange(total) >= start - MARGIN_FRAMES) & (np.arange(total) < end + MARGIN_FRAMES)
    if exclude[base].any():
        raise FailedPrecondition(f"{total} frames are too few for {folds} folds", reason="VIDEO_TOO_SHORT")
    return held, base, exclude


def _run_fold(video: Path, perception: PerceptionArtifact, audio: np.ndarray, folds: int, fold: int, source: str,
              visemes: VisemeFn | None, strip_frames: int, crossfade: int) -> _Fold:
    total, fps = perception.frames, perception.fps
    held, base, exclude = _fold_frames(total, folds, fold)
    speakers = build_speaker_mouths([perception], visemes=visemes, exclude=exclude)
    speech = audio[int(held[0] / fps * SPEECH_RATE): int((held[-1] + 1) / fps * SPEECH_RATE)]
    plan = plan_mouths(speakers, speech, fps, base, source=source, visemes=visemes, crossfade=crossfade)
    width, height = int(perception.meta["width"]), int(perception.meta["height"])
    size = np.array([width, height, width], np.float32)  # normalised (x, y, z) -> pixels
    decoded = perception.arrays["source_frame"]
    mouths = np.r_[plan.mouth, plan.fade_state]
    wanted = sorted(set(base.tolist()) | set(mouths[mouths >= 0].tolist()) | set(held.tolist()))
    frames = read_frames(video, sorted({int(decoded[i]) for i in wanted}))
    frame_of = {i: frames[int(decoded[i])] for i in wanted}
    # the renderer's own finisher draws the outputs (mouths fetched from the frames already read)
    compositor = MouthCompositor(speakers, plan, lambda video, indices: {i: frames[i] for i in indices}, [decoded])
    landmarks = np.full((len(base), *speakers.landmarks.shape[1:]), np.nan, np.float32)
    shown = set(np.linspace(0, len(base) - 1, strip_frames).round().astype(int).tolist()) if strip_frames else set()
    tiles: dict[str, list[np.ndarray]] = {"real": [], "lipsync": [], "base": []}
    half = int(np.nanmedian(np.ptp(speakers.landmarks[:, :, 0], axis=1)) * width * 0.55)  # ~1.1 face widths
    with FaceAnalyzer(FaceOptions()) as faces:
        for n, frame in enumerate(base):
            output = compositor(n, frame_of[int(frame)])
            seen = faces.analyze(output, perception.arrays["pose_image"][frame])
            if seen is not None:
                landmarks[n] = seen.landmarks
            if n in shown:
                anchor = speakers.landmarks[frame, :, :2] * size[:2]
                tiles["lipsync"].append(_crop(output, anchor, half))
                tiles["base"].append(_crop(frame_of[int(frame)], anchor, half))
                tiles["real"].append(_crop(frame_of[int(held[n])], speakers.landmarks[held[n], :, :2] * size[:2], half))
    fold_result = _Fold(landmarks=landmarks, held=held, base=base,
                        envelope=envelope(speech, len(base), fps), runs=plan.jumps + 1, source=plan.source,
                        tiles=tiles)
    return fold_result


def evaluate_lipsync(video: Path, perception: PerceptionArtifact, source: str = "model",
                     visemes: VisemeFn | None = None, folds: int = 5, strip: Path | None = None,
                     strip_frames: int = 8, crossfade: int = CROSSFADE_FRAMES) -> dict:
    """The figures of the protocol above for one video and its perception artifact."""
    started = time.perf_counter()
    audio = perception.audio()
    if audio is None:
        raise FailedPrecondition("the video has no audio to hold out", reason="NO_AUDIO")
    if folds < 2:
        raise FailedPrecondition("lip-sync evaluation needs at least 2 folds", reason="BAD_FOLDS")
    runs = [_run_fold(video, perception, audio, folds, k, source, visemes, strip_frames if k == 0 else 0, crossfade)
               for k in range(folds)]
    width, height = int(perception.meta["width"]), int(perception.meta["height"])
    # one measuring frame for the truth and every output: the rigid face of all the video's frames
    present = perception.arrays["face_present"]
    landmarks = perception.arrays["face_landmarks"]
    template = rigid_template(to_pixels(landmarks[present], width, height).astype(np.float64))
    real = mouth_shapes(landmarks, present, width, height, template)
    held, base = np.concatenate([f.held for f in runs]), np.concatenate([f.base for f in runs])
    meshed = np.concatenate([f.landmarks for f in runs])
    output = mouth_shapes(meshed, np.isfinite(meshed).all(axis=(1, 2)), width, height, template)
    out_lips, out_opening = output.lips, output.opening
    env = np.concatenate([f.envelope for f in runs])
    # consecutive output frames: same fold, base frames following each other (held ones always do)
    follows = np.concatenate([np.r_[False, np.diff(f.base) == 1] for f in runs])
    result = {
        "method": "mouths", "source": runs[0].source, "crossfade": crossfade, "folds": folds, "frames": int(len(held)),
        "lmd": _lmd(out_lips, real.lips[held]), "lmd_no_lipsync": _lmd(real.lips[base], real.lips[held]),
        "envelope_corr": _corr(out_opening, env), "envelope_corr_real": _corr(real.opening[held], env),
        "envelope_corr_no_lipsync": _corr(real.opening[base], env),
        "jitter": jitter(out_lips, follows), "jitter_real": jitter(real.lips[held], follows),
        "jitter_no_lipsync": jitter(real.lips[base], follows),
        "motion_ratio": jitter(out_lips, follows, order=1) / jitter(real.lips[held], follows, order=1),
        "frames_meshed": int(np.isfinite(out_opening).sum()), "mouth_runs": int(sum(f.runs for f in runs)),
        "lmd_per_fold": [round(_lmd(part, real.lips[f.held]), 5)
                         for f, part in zip(runs, np.split(out_lips, np.cumsum([len(f.held) for f in runs])[:-1]))],
        "lmd_no_lipsync_per_fold": [round(_lmd(real.lips[f.base], real.lips[f.held]), 5) for f in runs],
    }
    result["lmd_reduction"] = 1.0 - result["lmd"] / result["lmd_no_lipsync"]
    result["envelope_ratio"] = result["envelope_corr"] / result["envelope_corr_real"]
    result["jitter_ratio"] = result["jitter"] / result["jitter_real"]
    if strip is not None:
        tiles = runs[0].tiles
        strip.parent.mkdir(parents=True, exist_ok=True)
        picture = np.vstack([np.hstack(tiles[k]) for k in ("real", "lipsync", "base")])
        cv2.imwrite(str(strip), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
        result["strip"] = str(strip)
    result["seconds"] = round(time.perf_counter() - started, 2)
    return result

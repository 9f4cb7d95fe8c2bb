"""`tango lipsync eval`: does the mouth say the held-out speech? Measured on the speaker's own footage.

Protocol (no SyncNet needed):
1. The last `holdout` fraction of a reference video (frames [h0, F)) is held out: its frames, lips and
   audio are kept out of the mouth bank, the shape basis and the speaker mouth model (plus a margin).
2. Its audio drives the mouths of OTHER frames of the video: the first F - h0 frames ("base" frames) are
   shown, each with the mouth that lip sync chooses and composites from the remaining footage.
3. MediaPipe face mesh is run again on the composited frames (full resolution, as perception does); their
   lips, put in the pose-free head frame, are compared with the real held-out frames' lips:
   LMD = mean over frames and the 40 lip points of the 2-D distance, in inter-ocular distances.
   Baseline `lmd_no_lipsync`: the base frames' own lips (what the output shows without lip sync).
4. Mouth opening (inner-lip gap) correlated with the held-out audio's RMS envelope (per video frame):
   `envelope_corr` for the output, `envelope_corr_real` for the real held-out footage, and
   `envelope_corr_no_lipsync` for the base frames.
A PNG strip shows, for a few evenly spaced frames, the true mouth (top), the lip-synced one (middle) and
the base frame's own (bottom), cropped at source resolution.
"""
from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np

from tango.lipsync.bank import VisemeFn, build_speaker_mouths
from tango.lipsync.composite import composite_mouth
from tango.lipsync.mouth_shape import mouth_shapes
from tango.lipsync.mouths import plan_mouths
from tango.media.video import read_frames
from tango.perception.artifact_io import PerceptionArtifact
from tango.perception.face import FaceAnalyzer, FaceOptions
from tango.runtime.errors import FailedPrecondition

SPEECH_RATE = 16000
MARGIN_FRAMES = 8  # between the bank and the held-out span


def envelope(speech: np.ndarray, n_frames: int, fps: float, window_s: float = 0.12) -> np.ndarray:
    """(n_frames,) loudness (dB RMS) of the speech in a `window_s` window centred on each video frame:
    the syllable-rate envelope that a mouth follows (frame-length windows follow single phones)."""
    centre = np.round((np.arange(n_frames) + 0.5) / fps * SPEECH_RATE).astype(np.int64)
    half = int(window_s * SPEECH_RATE / 2)
    low, high = np.clip(centre - half, 0, len(speech)), np.clip(centre + half, 0, len(speech))
    squared = np.concatenate([[0.0], np.cumsum(speech.astype(np.float64) ** 2)])
    power = (squared[high] - squared[low]) / np.maximum(high - low, 1)
    return 10.0 * np.log10(power + 1e-8)


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
        return float("nan")
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def _lmd(lips: np.ndarray, truth: np.ndarray) -> float:
    return float(np.nanmean(np.linalg.norm(lips[..., :2] - truth[..., :2], axis=-1)))


def _crop(frame: np.ndarray, points_px: np.ndarray, size: int = 160) -> np.ndarray:
    centre = points_px.mean(axis=0)
    half = max(8, int(np.ptp(points_px[:, 0]) * 0.9))
    x0, y0 = (centre - half).astype(int)
    matrix = np.array([[size / (2 * half), 0, -x0 * size / (2 * half)], [0, size / (2 * half), -y0 * size / (2 * half)]])
    return cv2.warpAffine(frame, matrix, (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)


def evaluate_lipsync(video: Path, perception: PerceptionArtifact, source: str = "both",
                     visemes: VisemeFn | None = None, holdout: float = 0.2, strip: Path | None = None,
                     strip_frames: int = 8) -> dict:
    """The figures of the protocol above for one video and its perception artifact."""
    started = time.perf_counter()
    total, fps = perception.frames, perception.fps
    h0 = int(round(total * (1.0 - holdout)))
    span = total - h0
    if span < 10 or span > h0 - MARGIN_FRAMES:
        raise FailedPrecondition(f"{total} frames cannot hold out {holdout:.0%} with other frames to drive",
                                 reason="VIDEO_TOO_SHORT")
    audio = perception.audio()
    if audio is None:
        raise FailedPrecondition("the video has no audio to hold out", reason="NO_AUDIO")
    exclude = np.arange(total) >= h0 - MARGIN_FRAMES
    speakers = build_speaker_mouths([perception], visemes=visemes, exclude=exclude)
    held_speech = audio[int(h0 / fps * SPEECH_RATE): int(total / fps * SPEECH_RATE)]
    base = np.arange(span)
    plan = plan_mouths(speakers, held_speech, fps, base, source=source, visemes=visemes)
    width, height = int(perception.meta["width"]), int(perception.meta["height"])
    size = np.array([width, height], np.float32)
    wanted = sorted(set(base.tolist()) | set(plan.mouth[plan.mouth >= 0].tolist()) | set(range(h0, total)))
    decoded = perception.arrays["source_frame"]
    frames = read_frames(video, sorted({int(decoded[i]) for i in wanted}))
    frame_of = {i: frames[int(decoded[i])] for i in wanted}
    landmarks = np.full((span, *speakers.landmarks.shape[1:]), np.nan, np.float32)
    shown = np.linspace(0, span - 1, strip_frames).round().astype(int)
    tiles: dict[str, list[np.ndarray]] = {"real": [], "lipsync": [], "base": []}
    with FaceAnalyzer(FaceOptions()) as faces:
        for n in base:
            output = frame_of[int(n)]
            if plan.mouth[n] >= 0:
                output = composite_mouth(output, speakers.landmarks[n, :, :2] * size, frame_of[int(plan.mouth[n])],
                                         speakers.landmarks[plan.mouth[n], :, :2] * size)
                output = frame_of[int(n)] if output is None else output
            seen = faces.analyze(output, perception.arrays["pose_image"][n])
            if seen is not None:
                landmarks[n] = seen.landmarks
            if n in shown:
                anchor = speakers.landmarks[n, :, :2] * size
                tiles["lipsync"].append(_crop(output, anchor))
                tiles["base"].append(_crop(frame_of[int(n)], anchor))
                tiles["real"].append(_crop(frame_of[h0 + int(n)], speakers.landmarks[h0 + n, :, :2] * size))
    out_shapes = mouth_shapes(landmarks, np.isfinite(landmarks).all(axis=(1, 2)), width, height, speakers.template)
    all_shapes = mouth_shapes(speakers.landmarks, perception.arrays["face_present"], width, height, speakers.template)
    truth, base_lips = all_shapes.lips[h0:], all_shapes.lips[:span]
    env = envelope(held_speech, span, fps)
    result = {
        "method": "mouths", "source": plan.source, "frames": int(span), "held_out_s": round(span / fps, 3),
        "lmd": _lmd(out_shapes.lips, truth), "lmd_no_lipsync": _lmd(base_lips, truth),
        "envelope_corr": _corr(out_shapes.opening, env), "envelope_corr_real": _corr(all_shapes.opening[h0:], env),
        "envelope_corr_no_lipsync": _corr(all_shapes.opening[:span], env),
        "frames_meshed": int(np.isfinite(out_shapes.opening).sum()), "mouth_runs": plan.jumps + 1,
        "mouth_model_r2": None if speakers.model is None else round(speakers.model.validation_r2, 4),
    }
    result["lmd_reduction"] = 1.0 - result["lmd"] / result["lmd_no_lipsync"]
    if strip is not None:
        rows = [np.hstack(tiles[k]) for k in ("real", "lipsync", "base")]
        strip.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(strip), cv2.cvtColor(np.vstack(rows), cv2.COLOR_RGB2BGR))
        result["strip"] = str(strip)
    result["seconds"] = round(time.perf_counter() - started, 2)
    return result

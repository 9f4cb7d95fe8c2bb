"""`make bench` figures of lip sync: face mesh at ingest, the mouth bank, planning and compositing per frame."""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from tango.interp.crossfade import crossfade
from tango.lipsync.bank import build_speaker_mouths
from tango.lipsync.mouths import plan_mouths
from tango.lipsync.render_hook import mouth_finisher
from tango.lipsync.visemes import viseme_track
from tango.media.audio import load_audio, load_track
from tango.media.video import iter_frames, read_frames
from tango.perception.artifact_io import InMemoryArtifact
from tango.perception.face import FaceAnalyzer
from tango.perception.pipeline import PerceptionOptions, analyze_video
from tango.render.plan import RenderOptions, RenderPlan
from tango.render.renderer import frames_only, render_video


def _face_mesh_ms(video: Path, perception: InMemoryArtifact, frames: int) -> float:
    with FaceAnalyzer() as faces:
        took = 0.0
        for frame in iter_frames(video, None, max_frames=frames):
            began = time.perf_counter()
            faces.analyze(frame.rgb, perception.arrays["pose_image"][frame.index])
            took += time.perf_counter() - began
    return 1000.0 * took / frames


def _path(perception: InMemoryArtifact, seconds: float) -> tuple[np.ndarray, np.ndarray, int]:
    """Clip starts, jump flags and steps of a path of 12-step runs from spread-out places of the reference (jumps between runs)."""
    steps = int(seconds * perception.fps / 4) + 1
    starts = (np.arange(steps) * 4 + (np.arange(steps) // 12) * 97) % (perception.frames - 8)
    return starts.astype(np.int32), np.r_[False, np.diff(starts) != 4], steps


def lipsync_benchmark(video: Path, audio: Path, seconds: float = 10.0) -> dict:
    perception = InMemoryArtifact(analyze_video(video, PerceptionOptions(max_seconds=seconds)))
    speech, track = load_audio(audio, 16000), load_track(audio)
    figures: dict = {"reference_s": seconds, "face_ratio": perception.meta["stats"]["face_ratio"],
                     "face_mesh_ms_per_frame": round(_face_mesh_ms(video, perception, 60), 2)}
    began = time.perf_counter()
    speakers = build_speaker_mouths([perception])
    figures["bank_model_s"] = round(time.perf_counter() - began, 3)
    began = time.perf_counter()
    speakers = build_speaker_mouths([perception], visemes=viseme_track)
    figures["bank_with_phones_s"] = round(time.perf_counter() - began, 3)
    starts, jump, steps = _path(perception, track.duration_s)
    plan = RenderPlan(np.zeros(steps, np.int32), starts, jump, (perception.arrays["source_frame"],), perception.fps,
                      track)

    def frames(_video: int, indices: list[int]) -> dict[int, np.ndarray]:
        return read_frames(video, indices)

    n = plan.output_frames
    began = time.perf_counter()
    plan_mouths(speakers, speech, perception.fps, np.arange(n) % perception.frames, source="both",
                visemes=viseme_track)
    figures["plan_ms_per_output_frame"] = round(1000 * (time.perf_counter() - began) / n, 3)
    with tempfile.TemporaryDirectory(prefix="tango-bench-lipsync-") as out:
        plain = render_video(plan, frames, frames_only(crossfade), Path(out) / "plain.mp4", RenderOptions())
        finisher = mouth_finisher([perception], plan, RenderOptions(), speech, frames, "both", viseme_track)
        synced = render_video(plan, frames, frames_only(crossfade), Path(out) / "synced.mp4", RenderOptions(), finish=finisher)
    report = finisher.report()
    figures.update({
        "output_frames": n, "frames_changed": report["frames_changed"],
        "render_ms_per_frame_without": round(1000 * plain.timings_s["total"] / n, 2),
        "render_ms_per_frame_with": round(1000 * synced.timings_s["total"] / n, 2),
        "lipsync_ms_per_output_frame": round(1000 * synced.timings_s.get("finish", 0.0) / n, 2),
        "mouth_fetch_ms_per_frame": round(1000 * report["timings_s"]["fetch"] / n, 2),
        "composite_ms_per_changed_frame": round(1000 * report["timings_s"]["composite"]
                                                / max(report["frames_changed"], 1), 2),
    })
    return figures

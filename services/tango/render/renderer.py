"""Path -> mp4: real reference frames in path order, generated transition frames at the jumps, target audio.

See `tango.render.schedule` for exactly which output frames are generated. Output size: the first
fetched frame's size, capped at `RenderOptions.max_height` rows (aspect kept); frames of other videos of
different size are resized to it; the encoder crops an odd dimension by one pixel. Output length:
round(audio duration * fps) frames, so video and audio durations agree to within one frame.
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from tango.media.encode import Mp4Writer, even_size
from tango.render.frames import FrameSource, RealFrameStream
from tango.render.plan import CLIP_FRAMES, RenderOptions, RenderPlan
from tango.render.schedule import FrameSchedule, build_schedule
from tango.runtime.errors import Cancelled, TangoError


@dataclass(frozen=True)
class Window:
    """A generated window and the output positions of the real frames handed to the interpolator."""

    start: int  # first generated output frame
    end: int  # one past the last
    before: np.ndarray  # (k,) int64 output positions of the context frames before the window
    after: np.ndarray  # (k,) int64 output positions of those after it


# (before (k, H, W, 3) uint8, after (k, H, W, 3) uint8, n, window) -> (n, H, W, 3) uint8
Interpolator = Callable[[np.ndarray, np.ndarray, int, Window], np.ndarray]


def frames_only(interpolate: Callable[[np.ndarray, np.ndarray, int], np.ndarray]) -> Interpolator:
    """An interpolator that needs only the frames (crossfade, flow in-process) in the renderer's signature."""
    return lambda before, after, count, _window: interpolate(before, after, count)


# (output position, frame (H, W, 3) uint8) -> frame: a last touch before encoding (lip sync)
FrameFinisher = Callable[[int, np.ndarray], np.ndarray]
ProgressFn = Callable[[str, int, int], None]
StopFn = Callable[[], bool]

__all__ = ["RenderOptions", "RenderPlan", "RenderReport", "Window", "frames_only", "render_video"]


@dataclass
class RenderReport:
    out_path: str
    frames: int
    real_frames: int
    generated_frames: int
    fps: float
    duration_s: float  # frames / fps
    audio_duration_s: float
    width: int  # encoded size (even)
    height: int
    windows: list[list[int]]  # [start, end) output frames of each generated window
    jumps: list[dict]  # {"step": t, "time_s": junction time in the output}
    timings_s: dict[str, float] = field(default_factory=dict)
    render_fps: float = 0.0  # output frames per second of wall time

    def to_dict(self) -> dict:
        return asdict(self)


class _Stages:
    """Accumulates wall time per stage."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def add(self, stage: str, started: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - started


def render_video(
    plan: RenderPlan,
    frame_source: FrameSource,
    interpolate: Interpolator,
    out_path: str | Path,
    options: RenderOptions = RenderOptions(),
    on_progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    finish: FrameFinisher | None = None,
) -> RenderReport:
    """Renders `plan` to `out_path` (written atomically); raises Cancelled when should_stop() turns true.
    `finish`, when given, sees every output frame (real or generated) just before it is encoded."""
    started = time.perf_counter()
    stages = _Stages()
    schedule = build_schedule(plan, options.transition_frames, options.context_frames)
    stages.add("schedule", started)
    stream = RealFrameStream(schedule, frame_source, options.max_height, options.fetch_chunk_frames,
                             options.max_fetch_gap)
    height, width = stream.frame_size()
    with Mp4Writer(out_path, width, height, plan.fps, plan.soundtrack, crf=options.crf,
                   preset=options.preset) as writer:
        _write_frames(schedule, stream, interpolate, writer, options, stages, on_progress, should_stop, finish)
    stages.seconds["fetch"] = stream.fetch_s
    stages.seconds["resize"] = stream.resize_s
    total = time.perf_counter() - started
    stages.seconds["total"] = total
    enc_width, enc_height = even_size(width, height)
    generated = int(schedule.generated.sum())
    return RenderReport(
        out_path=str(out_path),
        frames=schedule.frames,
        real_frames=schedule.frames - generated,
        generated_frames=generated,
        fps=float(plan.fps),
        duration_s=schedule.frames / plan.fps,
        audio_duration_s=plan.duration_s,
        width=enc_width,
        height=enc_height,
        windows=schedule.windows.tolist(),
        jumps=[{"step": int(t), "time_s": float(t * CLIP_FRAMES / plan.fps)} for t in schedule.jump_steps],
        timings_s={k: round(v, 4) for k, v in stages.seconds.items()},
        render_fps=schedule.frames / total if total > 0 else 0.0,
    )


def _write_frames(schedule: FrameSchedule, stream: RealFrameStream, interpolate: Interpolator,
                  writer: Mp4Writer, options: RenderOptions, stages: _Stages,
                  on_progress: ProgressFn | None, should_stop: StopFn | None, finish: FrameFinisher | None) -> None:
    """The output loop: real frames pass through, each window is generated from its context."""
    recent: deque[np.ndarray] = deque(maxlen=options.context_frames)  # last real frames written
    total, position, window = schedule.frames, 0, 0
    while position < total:
        if should_stop is not None and should_stop():
            raise Cancelled("render cancelled", metadata={"frame": position})
        if window < len(schedule.windows) and position == schedule.windows[window, 0]:
            start, end = (int(v) for v in schedule.windows[window])
            frames = _generate(stream, recent, int(schedule.context[window]), start, end, interpolate, stages)
            window += 1
        else:
            index, frame = stream.next()
            if index != position:
                raise TangoError(f"render stream out of order: got frame {index} at {position}")
            recent.append(frame)
            frames = [frame]
        for frame in frames:
            if finish is not None:
                began = time.perf_counter()
                frame = finish(position, frame)
                stages.add("finish", began)
            began = time.perf_counter()
            writer.write(frame)
            stages.add("encode", began)
            position += 1
            if on_progress is not None and (position % options.progress_every == 0 or position == total):
                on_progress("render", position, total)


def _generate(stream: RealFrameStream, recent: deque, context: int, start: int, end: int,
              interpolate: Interpolator, stages: _Stages) -> np.ndarray:
    """(end - start, H, W, 3) uint8 transition frames from the real frames on both sides of the window."""
    count = end - start
    before = np.stack(list(recent)[-context:])  # (k, H, W, 3): output positions start-k .. start-1
    peeked = stream.peek(context)
    after = np.stack([frame for _, frame in peeked])  # (k, H, W, 3)
    window = Window(start, end, np.arange(start - len(before), start, dtype=np.int64),
                    np.array([position for position, _ in peeked], dtype=np.int64))
    began = time.perf_counter()
    frames = np.asarray(interpolate(before, after, count, window))
    stages.add("interpolate", began)
    expected = (count,) + before.shape[1:]
    if frames.shape != expected or frames.dtype != np.uint8:
        raise TangoError(
            f"interpolator returned {frames.shape} {frames.dtype}, expected {expected} uint8",
            reason="INTERPOLATOR_OUTPUT_MISMATCH",
        )
    return frames

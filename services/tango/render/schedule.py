"""Which frame goes at each output position: a real source frame, or a generated transition frame.

Definition (what the renderer does at a jump):
- Output frame n (0 <= n < N, N = round(audio duration * fps)) shows step t = n // 4, frame n % 4 of that
  step's clip. The output length is fixed by the audio: a path longer than N frames is cut, a shorter one
  is extended by continuing the last clip's video past its 4 frames (held on the video's last frame).
- A jump entering step t has its junction between output frames 4t-1 and 4t. With n_tr =
  `transition_frames` (or the plan's `jump_frames[t]`, sized by the jump's difficulty), the window
  [4t - n_tr//2, 4t + n_tr - n_tr//2) (default: the last 4 frames before and the first 4 after the
  junction) is REPLACED by generated frames, so the output length and the audio sync never change.
  Windows are kept inside [1, N-1) so a real frame stays on each side; overlapping or touching windows
  (jumps at nearby steps) merge into one longer window.
- The interpolator of a window receives the k real frames just before it and the k just after it,
  k = min(context_frames, real frames available on each side before reaching another window).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tango.render.plan import CLIP_FRAMES, RenderPlan, gather_path_frames, path_frame_index


@dataclass(frozen=True)
class FrameSchedule:
    video: np.ndarray  # (N,) int32 video shown at each output frame
    source: np.ndarray  # (N,) int64 decoded source frame index at each output frame
    generated: np.ndarray  # (N,) bool output frame produced by the interpolator
    windows: np.ndarray  # (W, 2) int64 [start, end) of each generated window, ascending
    context: np.ndarray  # (W,) int64 real frames handed to the interpolator on each side
    jump_steps: np.ndarray  # (J,) int64 steps entered through a jump that fall inside the output

    @property
    def frames(self) -> int:
        return len(self.video)


def build_schedule(plan: RenderPlan, transition_frames: int, context_frames: int) -> FrameSchedule:
    return schedule_frames(plan.clip_video, plan.clip_start, plan.jump, plan.jump_frames, plan.source_frame,
                           plan.output_frames, transition_frames, context_frames)


def schedule_frames(clip_video: np.ndarray, clip_start: np.ndarray, jump: np.ndarray, jump_frames: np.ndarray | None,
                    source_frame: tuple[np.ndarray, ...], n_out: int, transition_frames: int,
                    context_frames: int) -> FrameSchedule:
    """The schedule of `n_out` output frames of a path given by its clips (a `RenderPlan`'s fields; the live
    renderer schedules the committed part of a path that is still growing)."""
    video, source = _source_frames(clip_video, clip_start, source_frame, n_out)
    steps = np.flatnonzero(np.asarray(jump, dtype=bool))
    jump_steps = steps[(steps >= 1) & (steps * CLIP_FRAMES < n_out)].astype(np.int64)
    lengths = (np.full(jump_steps.size, transition_frames, np.int64) if jump_frames is None
               else np.asarray(jump_frames, np.int64)[jump_steps])  # (J,)
    windows = _merged_windows(jump_steps * CLIP_FRAMES, lengths, n_out)  # (W, 2)
    generated = _window_mask(windows, n_out)
    context = _context_sizes(windows, n_out, context_frames)
    return FrameSchedule(video, source, generated, windows, context, jump_steps)


def _source_frames(clip_video: np.ndarray, clip_start: np.ndarray, source_frame: tuple[np.ndarray, ...],
                   n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """(N,) video and (N,) decoded source frame of every output frame, extended/trimmed to n_out."""
    lengths = np.array([len(m) for m in source_frame], dtype=np.int64)  # (V,)
    video, _ = path_frame_index(clip_video, clip_start, lengths, n_out)
    source = gather_path_frames(source_frame, clip_video, clip_start, n_out)
    return video.astype(np.int32), source.astype(np.int64)


def _merged_windows(junctions: np.ndarray, lengths: np.ndarray, n_out: int) -> np.ndarray:
    """(W, 2) [start, end) windows of `lengths` (J,) frames centred on the junctions, clipped to [1, n_out-1),
    merged."""
    if junctions.size == 0 or n_out < 3:
        return np.zeros((0, 2), dtype=np.int64)
    start = np.clip(junctions - lengths // 2, 1, n_out - 1)
    end = np.clip(junctions + lengths - lengths // 2, 1, n_out - 1)
    keep = end > start
    start, end = start[keep], end[keep]
    if start.size == 0:
        return np.zeros((0, 2), dtype=np.int64)
    reach = np.maximum.accumulate(end)  # furthest end so far (starts are ascending)
    new_group = np.concatenate([[True], start[1:] > reach[:-1]])  # touching windows merge too
    heads = np.flatnonzero(new_group)
    merged_end = np.maximum.reduceat(end, heads)
    return np.stack([start[heads], merged_end], axis=1).astype(np.int64)


def _window_mask(windows: np.ndarray, n_out: int) -> np.ndarray:
    marks = np.zeros(n_out + 1, dtype=np.int64)
    np.add.at(marks, windows[:, 0], 1)
    np.add.at(marks, windows[:, 1], -1)
    return np.cumsum(marks)[:n_out] > 0


def _context_sizes(windows: np.ndarray, n_out: int, context_frames: int) -> np.ndarray:
    """Real frames available on both sides of each window, capped at context_frames."""
    if windows.size == 0:
        return np.zeros(0, dtype=np.int64)
    previous_end = np.concatenate([[0], windows[:-1, 1]])
    next_start = np.concatenate([windows[1:, 0], [n_out]])
    before = windows[:, 0] - previous_end
    after = next_start - windows[:, 1]
    return np.minimum(np.minimum(before, after), context_frames).astype(np.int64)

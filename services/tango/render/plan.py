"""What to render (`RenderPlan`) and how (`RenderOptions`).

A plan is the retrieved path expressed in source terms: one 4-frame clip per step, each named by its
video and the first perception frame of the clip, the jump flag of each step, the per-video map from
perception frame to decoded source frame (perception may analyse a subsampled stream), the output frame
rate (the reference's) and the target audio's soundtrack, which fixes the output duration.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tango.media.audio import AudioTrack
from tango.runtime.errors import InputMismatch, InvalidArgument

CLIP_FRAMES = 4  # frames per motion-graph node


@dataclass(frozen=True)
class RenderOptions:
    max_height: int = 1080  # frames taller than this are downscaled (aspect kept); 0 = never
    transition_frames: int = 8  # generated frames replacing real ones around each jump; 0 = hard cuts
    # window length by the jump's drawing difficulty relative to the speaker's typical jump (when the plan
    # carries it): transition_frames for a typical jump, in proportion, rounded to even, within [min, max]
    adaptive_transitions: bool = True
    min_transition_frames: int = 4
    max_transition_frames: int = 16
    # jumps harder than this many typical jumps are cut, not drawn: between poses that far apart (a head turned
    # away to one facing the camera) every weight-free in-between melted the face (demo window 150-162, 1.5
    # typical jumps); a cut reads as an edit. 0 = draw every jump
    cut_difficulty: float = 1.4
    context_frames: int = 4  # real frames on each side handed to the interpolator (k)
    fetch_chunk_frames: int = 32  # most frames asked of the frame source in one call (bounds memory)
    max_fetch_gap: int = 30  # source frames skipped inside one fetch before a new fetch is started
    crf: int = 18
    preset: str = "veryfast"
    progress_every: int = 8  # output frames between two progress reports

    def __post_init__(self) -> None:
        for name in ("max_height", "transition_frames", "max_fetch_gap", "min_transition_frames"):
            if getattr(self, name) < 0:
                raise InvalidArgument(f"RenderOptions.{name} must be >= 0", metadata={name: getattr(self, name)})
        for name in ("context_frames", "fetch_chunk_frames", "progress_every"):
            if getattr(self, name) < 1:
                raise InvalidArgument(f"RenderOptions.{name} must be >= 1", metadata={name: getattr(self, name)})
        if self.max_transition_frames < self.min_transition_frames:
            raise InvalidArgument("RenderOptions: max_transition_frames < min_transition_frames")

    def transition_lengths(self, difficulty: np.ndarray, typical: float) -> np.ndarray:
        """(J,) int32 generated frames for jumps of these drawing difficulties, `typical` being the speaker's
        typical jump's (even, within bounds; 0 = a cut for jumps harder than `cut_difficulty` typical ones)."""
        if not self.adaptive_transitions or self.transition_frames == 0 or not typical > 0:
            return np.full(len(difficulty), self.transition_frames, np.int32)
        ratio = np.nan_to_num(np.asarray(difficulty, np.float64) / typical, nan=1.0)
        even = 2 * np.round(self.transition_frames * ratio / 2)
        lengths = np.clip(even, self.min_transition_frames, self.max_transition_frames).astype(np.int32)
        if self.cut_difficulty > 0:
            lengths[ratio > self.cut_difficulty] = 0
        return lengths


@dataclass(frozen=True)
class RenderPlan:
    clip_video: np.ndarray  # (T,) int32 video index of each step's clip
    clip_start: np.ndarray  # (T,) int32 first perception frame of each step's clip
    jump: np.ndarray  # (T,) bool step t is entered through a jump (non-continue edge)
    source_frame: tuple[np.ndarray, ...]  # per video (F_v,) int32 perception frame -> decoded frame index
    fps: float  # output frame rate = the reference's
    soundtrack: AudioTrack  # the target audio as muxed into the output
    path_nodes: np.ndarray | None = None  # (T,) int32 graph node ids (reported, not used to render)
    jump_frames: np.ndarray | None = None  # (T,) int32 generated frames of the jump entering each step; None =
    # RenderOptions.transition_frames for every jump

    def __post_init__(self) -> None:
        steps = len(self.clip_video)
        if steps == 0:
            raise InvalidArgument("render plan has no steps")
        if len(self.clip_start) != steps or len(self.jump) != steps:
            raise InputMismatch(
                "clip_video, clip_start and jump differ in length",
                metadata={"video": steps, "start": len(self.clip_start), "jump": len(self.jump)},
            )
        if self.path_nodes is not None and len(self.path_nodes) != steps:
            raise InputMismatch("path_nodes and clip_video differ in length")
        if self.jump_frames is not None and (len(self.jump_frames) != steps or np.min(self.jump_frames) < 0):
            raise InputMismatch("jump_frames must give one non-negative length per step")
        if not np.isfinite(self.fps) or self.fps <= 0:
            raise InvalidArgument(f"bad fps {self.fps}")
        if self.soundtrack.num_samples == 0:
            raise InvalidArgument("the target audio holds no samples")
        self._check_clips_exist()

    def _check_clips_exist(self) -> None:
        video = np.asarray(self.clip_video)
        lengths = np.array([len(m) for m in self.source_frame], dtype=np.int64)  # (V,)
        if video.min() < 0 or video.max() >= len(lengths):
            raise InputMismatch(f"clip video index outside 0..{len(lengths) - 1}")
        start = np.asarray(self.clip_start, dtype=np.int64)
        bad = (start < 0) | (start >= lengths[video])
        if bad.any():
            step = int(np.flatnonzero(bad)[0])
            raise InputMismatch(
                f"step {step}: clip start {start[step]} outside video {video[step]}'s perception frames",
                metadata={"step": step},
            )

    @property
    def duration_s(self) -> float:
        return self.soundtrack.duration_s

    @property
    def output_frames(self) -> int:
        """round(duration * fps): the exact length of the output video."""
        return max(1, int(round(self.duration_s * self.fps)))


def plan_from_path(
    path: np.ndarray,  # (T,) int32 node ids
    jump: np.ndarray,  # (T,) bool
    node_video: np.ndarray,  # (N,) int32 graph.npz
    node_start_frame: np.ndarray,  # (N,) int32 graph.npz
    source_frame: list[np.ndarray] | tuple[np.ndarray, ...],  # per video (F_v,) from perception arrays
    fps: float,
    soundtrack: AudioTrack,
    jump_frames: np.ndarray | None = None,  # (T,) int32 window length of each step's jump
) -> RenderPlan:
    """A RenderPlan from a retrieval result and the graph's node tables (vectorised gather)."""
    path = np.asarray(path, dtype=np.int64)
    if path.size and (path.min() < 0 or path.max() >= len(node_video)):
        raise InputMismatch(f"path node ids outside 0..{len(node_video) - 1}")
    return RenderPlan(
        clip_video=np.asarray(node_video)[path].astype(np.int32),
        clip_start=np.asarray(node_start_frame)[path].astype(np.int32),
        jump=np.asarray(jump, dtype=bool),
        source_frame=tuple(np.asarray(m, dtype=np.int32) for m in source_frame),
        fps=float(fps),
        soundtrack=soundtrack,
        path_nodes=path.astype(np.int32),
        jump_frames=None if jump_frames is None else np.asarray(jump_frames, np.int32),
    )


def path_frame_index(clip_video: np.ndarray, clip_start: np.ndarray, lengths: np.ndarray,
                     frames: int) -> tuple[np.ndarray, np.ndarray]:
    """(frames,) video and (frames,) per-video frame index of every output frame of a path.

    Output frame n shows step n // 4's clip frame n % 4; past the path's 4T frames the last clip is
    continued, held at its video's last frame. `lengths` (V,) are the videos' frame counts.
    """
    steps = len(clip_video)
    n = np.arange(frames, dtype=np.int64)
    step = np.minimum(n // CLIP_FRAMES, steps - 1)  # (N,)
    video = np.asarray(clip_video, dtype=np.int64)[step]
    local = np.asarray(clip_start, dtype=np.int64)[step] + n - step * CLIP_FRAMES
    return video, np.minimum(local, np.asarray(lengths, dtype=np.int64)[video] - 1)


def gather_path_frames(per_video: list[np.ndarray] | tuple[np.ndarray, ...], clip_video: np.ndarray,
                       clip_start: np.ndarray, frames: int) -> np.ndarray:
    """(frames, ...) per-frame values of the output, gathered from each video's (F_v, ...) array.

    Used for the output's motion (pose_world), hand clarity and the renderer's source-frame map alike.
    """
    lengths = np.array([len(a) for a in per_video], dtype=np.int64)  # (V,)
    video, local = path_frame_index(clip_video, clip_start, lengths, frames)
    first = np.concatenate([[0], np.cumsum(lengths)[:-1]])  # (V,) offset of each video
    return np.concatenate([np.asarray(a) for a in per_video], axis=0)[first[video] + local]

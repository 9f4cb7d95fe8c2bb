"""What the layered interpolator needs besides the frames: the person masks of a window's context frames
and the speaker's background plate, both from perception's work.

- Masks: perception's low-resolution body masks (`PerceptionArtifact.masks`) of the reference frames
  shown at the context positions, sent as they are (0/1, e.g. 96 px); the interpolation model refines
  them on the full-resolution frames.
- Plate: per reference video, the masked temporal median of `plate_frames` frames spread over the
  video (`tango.interp.plate`), at output size; built on first use within a render and kept for it.
"""
from __future__ import annotations

import cv2
import numpy as np

from tango.interp.plate import build_plate
from tango.perception.artifact_io import PerceptionArtifact
from tango.render.frames import FrameSource, capped_size
from tango.render.plan import RenderOptions, RenderPlan, path_frame_index
from tango.render.renderer import Window
from tango.render.schedule import build_schedule


class WindowLayers:
    """(window) -> (masks_before (k, Hm, Wm) uint8, masks_after, plate (H, W, 3) uint8 | None)."""

    def __init__(self, perceptions: list[PerceptionArtifact], plan: RenderPlan, options: RenderOptions,
                 frame_source: FrameSource, plate_frames: int = 32):
        schedule = build_schedule(plan, options.transition_frames, options.context_frames)
        lengths = np.array([p.frames for p in perceptions], np.int64)
        self.video, self.local = path_frame_index(plan.clip_video, plan.clip_start, lengths, schedule.frames)
        self.perceptions = perceptions
        self.frame_source = frame_source
        self.max_height = options.max_height
        self.plate_frames = plate_frames
        self._masks = [p.masks() for p in perceptions]  # per video (F, Hm, Wm) bool
        self._plates: dict[int, np.ndarray] = {}

    def __call__(self, window: Window) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        return self.masks(window.before), self.masks(window.after), self.plate(int(self.video[window.before[-1]]))

    def masks(self, positions: np.ndarray) -> np.ndarray:
        """(k, Hm, Wm) uint8 0/1 person masks of the reference frames shown at these output positions."""
        return np.stack([self._masks[int(self.video[p])][int(self.local[p])] for p in positions]).astype(np.uint8)

    def plate(self, video: int) -> np.ndarray | None:
        """(H, W, 3) uint8 background plate of a reference video at output size; None without a person mask."""
        if video not in self._plates:
            self._plates[video] = self._build_plate(video)
        return self._plates[video]

    def _build_plate(self, video: int) -> np.ndarray | None:
        perception = self.perceptions[video]
        present = np.flatnonzero(perception.arrays["person_present"])
        if present.size < 2:
            return None
        picks = present[np.linspace(0, present.size - 1, min(self.plate_frames, present.size)).round().astype(int)]
        decoded = perception.arrays["source_frame"][picks]
        frames = self.frame_source(video, sorted({int(i) for i in decoded}))
        first = frames[int(decoded[0])]
        height, width = capped_size(first.shape[0], first.shape[1], self.max_height)
        stack = np.stack([cv2.resize(frames[int(i)], (width, height), interpolation=cv2.INTER_AREA)
                          for i in decoded])  # (T, H, W, 3)
        masks = np.stack([cv2.resize(self._masks[video][i].astype(np.float32), (width, height),
                                     interpolation=cv2.INTER_LINEAR) for i in picks])  # (T, H, W)
        return build_plate(stack, masks).image

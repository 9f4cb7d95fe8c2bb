"""What the layered interpolator needs besides the frames: the person masks and face landmarks of a window's
context frames and the speaker's background plate, all from perception's work.

- Masks: perception's low-resolution body masks (`PerceptionArtifact.masks`) of the reference frames
  shown at the context positions, sent as they are (0/1, e.g. 96 px); the interpolation model refines
  them on the full-resolution frames.
- Face landmarks: perception's 95 face points (`PerceptionArtifact.arrays["face_landmarks"]`, normalised
  source coordinates, so they hold at any output size) of the same frames, NaN rows where no face was found;
  None for an artifact without them (the face is then drawn by flow).
- Plate: per reference video, the masked temporal median of `plate_frames` frames spread over the
  video (`tango.interp.plate`), at output size; built on first use within a render and kept for it.
"""
from __future__ import annotations

import cv2
import numpy as np

from tango.interp.plate import plate_from_low_masks, plate_samples
from tango.perception.artifact_io import PerceptionArtifact
from tango.render.frames import FrameSource, capped_size
from tango.render.plan import RenderOptions, RenderPlan, path_frame_index
from tango.render.renderer import Window


class WindowLayers:
    """(window) -> (masks_before (k, Hm, Wm) uint8, masks_after, plate (H, W, 3) uint8 | None,
    landmarks_before (k, 95, 3) float32 | None, landmarks_after)."""

    def __init__(self, perceptions: list[PerceptionArtifact], plan: RenderPlan, options: RenderOptions,
                 frame_source: FrameSource, plate_frames: int = 32):
        lengths = np.array([p.frames for p in perceptions], np.int64)
        self.video, self.local = path_frame_index(plan.clip_video, plan.clip_start, lengths, plan.output_frames)
        self.perceptions = perceptions
        self.frame_source = frame_source
        self.max_height = options.max_height
        self.plate_frames = plate_frames
        self._plates: dict[int, np.ndarray] = {}

    def __call__(self, window: Window) -> tuple[np.ndarray | None, ...]:
        return (self.masks(window.before), self.masks(window.after), self.plate(int(self.video[window.before[-1]])),
                self.landmarks(window.before), self.landmarks(window.after))

    def masks(self, positions: np.ndarray) -> np.ndarray:
        """(k, Hm, Wm) uint8 0/1 person masks of the reference frames shown at these output positions."""
        return np.stack([self.perceptions[int(self.video[p])].mask(int(self.local[p])) for p in positions]
                        ).astype(np.uint8)

    def landmarks(self, positions: np.ndarray) -> np.ndarray | None:
        """(k, 95, 3) float32 face landmarks of the reference frames shown at these output positions (NaN rows:
        no face); None when a video's perception has none."""
        rows = []
        for p in positions:
            arrays = self.perceptions[int(self.video[p])].arrays
            if "face_landmarks" not in arrays:
                return None
            rows.append(arrays["face_landmarks"][int(self.local[p])])
        return np.stack(rows).astype(np.float32)

    def plate(self, video: int) -> np.ndarray | None:
        """(H, W, 3) uint8 background plate of a reference video at output size; None without a person mask."""
        if video not in self._plates:
            self._plates[video] = self._build_plate(video)
        return self._plates[video]

    def _build_plate(self, video: int) -> np.ndarray | None:
        perception = self.perceptions[video]
        picks = plate_samples(perception.arrays["person_present"], self.plate_frames)
        if picks.size < 2:
            return None
        decoded = perception.arrays["source_frame"][picks]
        frames = self.frame_source(video, sorted({int(i) for i in decoded}))
        first = frames[int(decoded[0])]
        height, width = capped_size(first.shape[0], first.shape[1], self.max_height)
        stack = np.stack([cv2.resize(frames[int(i)], (width, height), interpolation=cv2.INTER_AREA)
                          for i in decoded])  # (T, H, W, 3)
        return plate_from_low_masks(stack, np.stack([perception.mask(int(i)) for i in picks])).image

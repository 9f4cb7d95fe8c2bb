"""Per-frame conditioning images of a transition clip (k before + n generated + k after).

Pose images (pose_render.py) and background offset-flow images (background_guider.py) at the generation
resolution. At inference the in-between poses are blends of the boundary poses; for training, every frame
of a real clip has its own detected pose and the flow spans its two boundary frames the same way.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from tango.acinterp.background_guider import background_mask, estimate_background_homography, flow_images
from tango.acinterp.config import ACInterpConfig
from tango.acinterp.pose_render import Observer, observe_video, pose_of, render_poses, transition_poses


@dataclasses.dataclass(frozen=True)
class ClipConditioning:
    pose_images: np.ndarray  # (T, h, w, 3) uint8 skeletons
    flow_images: np.ndarray  # (T, 2, h, w) float32 normalised background offset
    taus: np.ndarray  # (T,) float32: time of each frame, 0 at the last frame before the jump, 1 at the first after
    inliers: int  # RANSAC inliers of the background homography (0 = identity)

    @property
    def num_frames(self) -> int:
        return int(self.pose_images.shape[0])


def clip_taus(before_count: int, num_frames: int, after_count: int) -> np.ndarray:
    """(T,) times: generated frame i of n at i / (n + 1); real frames continue the same frame rate."""
    index = np.arange(before_count + num_frames + after_count, dtype=np.float32)
    return (index - (before_count - 1)) / (num_frames + 1)


def _flow(first: np.ndarray, last: np.ndarray, first_probability: np.ndarray | None,
          last_probability: np.ndarray | None, taus: np.ndarray, config: ACInterpConfig) -> tuple[np.ndarray, int]:
    height, width = first.shape[:2]
    mask0 = background_mask(first_probability, height, width, config.background)
    mask1 = background_mask(last_probability, height, width, config.background)
    homography, inliers = estimate_background_homography(first, last, mask0, mask1, config.background)
    return flow_images(homography, taus, height, width), inliers


def transition_conditioning(before: np.ndarray, after: np.ndarray, num_frames: int, config: ACInterpConfig,
                            observe: Observer = observe_video) -> ClipConditioning:
    """before (kb, h, w, 3), after (ka, h, w, 3) uint8 at the generation size -> conditioning of kb + n + ka frames."""
    seen_before, seen_after = observe(before), observe(after)
    poses = transition_poses([pose_of(o) for o in seen_before], [pose_of(o) for o in seen_after], num_frames)
    height, width = before.shape[1:3]
    taus = clip_taus(len(before), num_frames, len(after))
    flows, inliers = _flow(before[-1], after[0], seen_before[-1].body_probability, seen_after[0].body_probability,
                           taus, config)
    return ClipConditioning(pose_images=render_poses(poses, height, width, config.pose), flow_images=flows,
                            taus=taus, inliers=inliers)


def training_conditioning(frames: np.ndarray, config: ACInterpConfig,
                          observe: Observer = observe_video) -> ClipConditioning:
    """A real clip (T, h, w, 3) uint8 whose first and last k = config.context_frames frames are the context."""
    k = config.context_frames
    if len(frames) < 2 * k + 1:
        raise ValueError(f"a training clip needs at least {2 * k + 1} frames, got {len(frames)}")
    seen = observe(frames)
    height, width = frames.shape[1:3]
    taus = clip_taus(k, len(frames) - 2 * k, k)
    flows, inliers = _flow(frames[k - 1], frames[-k], seen[k - 1].body_probability, seen[-k].body_probability,
                           taus, config)
    poses = [pose_of(o) for o in seen]
    return ClipConditioning(pose_images=render_poses(poses, height, width, config.pose), flow_images=flows,
                            taus=taus, inliers=inliers)

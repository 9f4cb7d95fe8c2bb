"""BackgroundGuider (TANGO §3.3): the homography background offset flow, against floating backgrounds.

Between the last frame before the jump (I0) and the first after it (I1), with the person masked out
(selfie-segmentation probability, dilated): SIFT keypoints, FLANN k-d tree matching with Lowe's ratio
test, and a RANSAC homography H (I0 pixels -> I1 pixels). The background offset at pixel x is H(x) - x;
the clip frame at time tau gets tau * offset (tau clipped to [0, 1]: frames before the jump are at 0,
those after at 1), normalised by the frame size into a 2-channel image that a PoseGuider-shaped conv net
encodes and adds to the noisy latent's features like the pose features. Too few inliers (a plain
background, a cut to another room) gives the identity: zero flow, never an error.
"""
from __future__ import annotations

import cv2
import numpy as np

from tango.acinterp.config import BackgroundSettings
from tango.acinterp.guider import ConditioningGuider, GuiderConfig

FLOW_CHANNELS = 2  # (dx / W, dy / H)
_FLANN_KDTREE = 1


class BackgroundGuider(ConditioningGuider):
    """(N, 2, H, W) offset-flow images -> (N, C0, H / f, W / f) features (zero at initialisation)."""

    def __init__(self, config: GuiderConfig):
        if config.in_channels != FLOW_CHANNELS:
            raise ValueError(f"a BackgroundGuider reads {FLOW_CHANNELS}-channel flow, got {config.in_channels}")
        super().__init__(config)


def background_mask(body_probability: np.ndarray | None, height: int, width: int,
                    settings: BackgroundSettings = BackgroundSettings()) -> np.ndarray:
    """(height, width) uint8, 255 where SIFT may look (background), 0 on the (dilated) person."""
    if body_probability is None:
        return np.full((height, width), 255, np.uint8)
    probability = cv2.resize(body_probability.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
    person = (probability > settings.person_threshold).astype(np.uint8)
    radius = int(round(settings.person_dilate * max(height, width)))
    if radius > 0:
        person = cv2.dilate(person, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1)))
    return np.where(person > 0, 0, 255).astype(np.uint8)


def keypoints(image: np.ndarray, mask: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray | None]:
    """SIFT on the scaled-down grey image: (K, 2) float32 points in FULL-resolution pixels, (K, 128) descriptors."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    if scale < 1.0:
        size = (max(8, round(grey.shape[1] * scale)), max(8, round(grey.shape[0] * scale)))
        grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
        mask = cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST)
    found, descriptors = cv2.SIFT_create().detectAndCompute(grey, mask)
    points = np.array([kp.pt for kp in found], np.float32).reshape(-1, 2) / scale
    return points, descriptors


def ratio_matches(first: np.ndarray, last: np.ndarray, ratio: float) -> list[tuple[int, int]]:
    """(i, j) pairs of descriptors first[i] ~ last[j] passing Lowe's ratio test (FLANN k-d trees)."""
    flann = cv2.FlannBasedMatcher({"algorithm": _FLANN_KDTREE, "trees": 5}, {"checks": 50})
    pairs = flann.knnMatch(first.astype(np.float32), last.astype(np.float32), k=2)
    return [(m.queryIdx, m.trainIdx) for m, *rest in (p for p in pairs if p)
            if rest and m.distance < ratio * rest[0].distance]


def estimate_background_homography(first: np.ndarray, last: np.ndarray, first_mask: np.ndarray,
                                   last_mask: np.ndarray, settings: BackgroundSettings = BackgroundSettings(),
                                   ) -> tuple[np.ndarray, int]:
    """(H (3, 3) float64 mapping `first` pixels to `last` pixels, RANSAC inliers); identity and 0 if unsure.

    first, last: (h, w, 3) uint8 RGB of one size; masks (h, w) uint8, 255 = background.
    """
    identity = np.eye(3, dtype=np.float64)
    scale = min(1.0, settings.max_side / max(first.shape[:2]))
    points0, descriptors0 = keypoints(first, first_mask, scale)
    points1, descriptors1 = keypoints(last, last_mask, scale)
    if descriptors0 is None or descriptors1 is None or len(points0) < 2 or len(points1) < 2:
        return identity, 0
    matches = ratio_matches(descriptors0, descriptors1, settings.ratio)
    if len(matches) < max(4, settings.min_matches):
        return identity, 0
    source = points0[[i for i, _ in matches]]  # (M, 2)
    target = points1[[j for _, j in matches]]  # (M, 2)
    homography, inliers = cv2.findHomography(source, target, cv2.RANSAC, settings.ransac_px / scale)
    count = int(inliers.sum()) if inliers is not None else 0
    if homography is None or count < settings.min_matches or not plausible_homography(homography, first.shape[:2]):
        return identity, 0
    return homography / homography[2, 2], count


def plausible_homography(homography: np.ndarray, shape: tuple[int, int]) -> bool:
    """A camera move between neighbouring frames: orientation kept, corners moved less than the frame size."""
    if not np.all(np.isfinite(homography)) or abs(homography[2, 2]) < 1e-12:
        return False
    height, width = shape
    corners = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float64)
    offsets = offset_at(homography / homography[2, 2], corners)
    return np.linalg.det(homography[:2, :2]) > 0 and np.abs(offsets).max() < max(height, width)


def offset_at(homography: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(N, 2) displacement H(x) - x of pixel positions (N, 2)."""
    mapped = cv2.perspectiveTransform(points.reshape(-1, 1, 2).astype(np.float64), homography).reshape(-1, 2)
    return mapped - points


def offset_flow(homography: np.ndarray, height: int, width: int) -> np.ndarray:
    """(height, width, 2) float32 pixel displacement of the background from the first to the last frame."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    grid = np.stack([xs.ravel() + 0.5, ys.ravel() + 0.5], axis=1)  # (H * W, 2) pixel centres
    return offset_at(homography, grid).reshape(height, width, 2).astype(np.float32)


def flow_images(homography: np.ndarray, taus: np.ndarray, height: int, width: int) -> np.ndarray:
    """(T, 2, height, width) float32: tau-scaled offset flow, x / width and y / height (tau clipped to [0, 1])."""
    flow = offset_flow(homography, height, width)  # (H, W, 2)
    normalised = (flow / np.array([width, height], np.float32)).transpose(2, 0, 1)  # (2, H, W)
    weights = np.clip(np.asarray(taus, np.float32), 0.0, 1.0)  # (T,)
    return weights[:, None, None, None] * normalised[None]

"""Background motion of a transition window (`tango.interp.layered` step 1): SIFT keypoints of background pixels
and the similarity (pan, zoom, roll) between two images' backgrounds, fitted to matches or to the window's flow,
and its path in time."""
from __future__ import annotations

import hashlib
from collections import OrderedDict

import cv2
import numpy as np

from tango.interp.masks import dilate


def sift_mask(mask: np.ndarray, long_side: int) -> np.ndarray:
    """(H, W) uint8, 255 where SIFT may look: outside the person mask dilated by 3 % of the long side."""
    return np.where(dilate(mask, int(round(0.03 * long_side))) < 0.5, 255, 0).astype(np.uint8)


class BackgroundFeatures:
    """SIFT keypoints of background pixels (ACInterp's BackgroundGuider estimator: SIFT at `max_side`, FLANN with
    Lowe's ratio test, RANSAC) and the homography between two images' keypoints. Keypoints of a whole image (the
    plate: one per speaker, sent with every window) are kept for the last `cache_size` images by content."""

    def __init__(self, max_side: int, cache_size: int = 4):
        from tango.acinterp.config import BackgroundSettings  # tango.acinterp pulls torch in (preload)

        self.settings = BackgroundSettings(max_side=max_side)
        self._cache: OrderedDict[bytes, tuple] = OrderedDict()
        self._cache_size = cache_size

    def __call__(self, image: np.ndarray, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
        """((K, 2) float32 full-resolution points, (K, 128) descriptors) of `image` where `mask` (uint8, 255 = look;
        None = everywhere, cached)."""
        from tango.acinterp.background_guider import keypoints

        scale = min(1.0, self.settings.max_side / max(image.shape[:2]))
        if mask is not None:
            return keypoints(image, mask, scale)
        key = hashlib.blake2b(np.ascontiguousarray(image).data, digest_size=16).digest() + repr(image.shape).encode()
        if key not in self._cache:
            self._cache[key] = keypoints(image, np.full(image.shape[:2], 255, np.uint8), scale)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        self._cache.move_to_end(key)
        return self._cache[key]

    def homography_from_flow(self, first: np.ndarray, flow: np.ndarray, occlusion: np.ndarray, seen0: np.ndarray,
                             seen1: np.ndarray, max_points: int = 500) -> np.ndarray:
        """(3, 3) background homography I0 -> I1 pixels fitted (RANSAC) to the flow (H, W, 2) I0 -> I1 at corners
        (Shi-Tomasi, at the SIFT resolution) of I0's background (`seen0`, uint8 255) whose flow passes the
        forward-backward check (`occlusion` < 1/2) and lands on I1's background (`seen1`); identity when unsure."""
        settings, identity = self.settings, np.eye(3, dtype=np.float64)
        height, width = first.shape[:2]
        scale = min(1.0, settings.max_side / max(height, width))
        size = (max(8, round(width * scale)), max(8, round(height * scale)))
        grey = cv2.resize(cv2.cvtColor(first, cv2.COLOR_RGB2GRAY), size, interpolation=cv2.INTER_AREA)
        mask = cv2.resize(seen0, size, interpolation=cv2.INTER_NEAREST)
        corners = cv2.goodFeaturesToTrack(grey, max_points, 0.01, 5, mask=mask)
        if corners is None or len(corners) < settings.min_matches:
            return identity
        source = corners.reshape(-1, 2) / scale  # (K, 2) full-resolution pixels
        cols = np.clip(np.round(source[:, 0]).astype(int), 0, width - 1)
        rows = np.clip(np.round(source[:, 1]).astype(int), 0, height - 1)
        target = source + flow[rows, cols]
        tx = np.clip(np.round(target[:, 0]).astype(int), 0, width - 1)
        ty = np.clip(np.round(target[:, 1]).astype(int), 0, height - 1)
        keep = (occlusion[rows, cols] < 0.5) & (seen1[ty, tx] > 0)
        if keep.sum() < settings.min_matches:
            return identity
        return fit_similarity(source[keep], target[keep], settings.ransac_px / scale, settings.min_matches,
                               (height, width))

    def homography(self, source: tuple[np.ndarray, np.ndarray | None], target: tuple[np.ndarray, np.ndarray | None],
                   shape: tuple[int, int]) -> np.ndarray:
        """(3, 3) background homography source -> target pixels (identity when unsure), as
        `estimate_background_homography`."""
        from tango.acinterp.background_guider import ratio_matches

        settings, identity = self.settings, np.eye(3, dtype=np.float64)
        (points0, descriptors0), (points1, descriptors1) = source, target
        if descriptors0 is None or descriptors1 is None or len(points0) < 2 or len(points1) < 2:
            return identity
        matches = ratio_matches(descriptors0, descriptors1, settings.ratio)
        if len(matches) < max(4, settings.min_matches):
            return identity
        scale = min(1.0, settings.max_side / max(shape))
        return fit_similarity(points0[[i for i, _ in matches]], points1[[j for _, j in matches]],
                               settings.ransac_px / scale, settings.min_matches, shape)


def fit_similarity(source: np.ndarray, target: np.ndarray, ransac_px: float, min_inliers: int,
                    shape: tuple[int, int]) -> np.ndarray:
    """(3, 3) RANSAC similarity (pan, zoom, roll) source -> target points ((M, 2) each) as a homography; identity
    with fewer than `min_inliers` inliers or an implausible move. Not a full homography: the background points
    leave much of the frame (the person) uncovered, and a homography fitted to them swings the far corners by
    pixels of noise (SIFT matches of two frames of a static camera moved corners by up to 17 px)."""
    from tango.acinterp.background_guider import plausible_homography

    identity = np.eye(3, dtype=np.float64)
    if len(source) < max(2, min_inliers):
        return identity
    similarity, inliers = cv2.estimateAffinePartial2D(source.astype(np.float32), target.astype(np.float32),
                                                      method=cv2.RANSAC, ransacReprojThreshold=ransac_px)
    count = int(inliers.sum()) if inliers is not None else 0
    if similarity is None or count < min_inliers:
        return identity
    homography = np.vstack([similarity, [0.0, 0.0, 1.0]]).astype(np.float64)
    return homography if plausible_homography(homography, shape) else identity


def is_identity(homography: np.ndarray, width: int, height: int, tolerance_px: float) -> bool:
    """Whether the homography moves no corner of a width x height frame by more than `tolerance_px`."""
    corners = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float64).reshape(-1, 1, 2)
    moved = cv2.perspectiveTransform(corners, homography)
    return bool(np.abs(moved - corners).max() <= tolerance_px)


def homography_path(homography: np.ndarray, tau: float, width: int, height: int) -> np.ndarray:
    """(3, 3) homography from the first frame to time tau: the corners moved by tau of their displacement."""
    corners = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
    moved = cv2.perspectiveTransform(corners.reshape(-1, 1, 2), homography).reshape(-1, 2)
    return cv2.getPerspectiveTransform(corners, corners + tau * (moved - corners)).astype(np.float64)

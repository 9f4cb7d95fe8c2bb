"""Mouth shapes from face-mesh landmarks, free of head pose: the lips in the head's own frame.

Each frame's 95 stored mesh points (perception `face_landmarks`, normalised x, y, z) are put in pixels,
then the rigid part of the face (eye corners, nose bridge, tip and base: `ALIGN_ROWS`) is fitted to a
template by a 3-D similarity (Umeyama 1991: rotation, isotropic scale, translation). Applied to the lips,
that leaves the lips' shape relative to the skull, in units of the template's inter-ocular distance (1.0):
a turned or tilted head speaking the same sound gives the same shape. The template is the mean rigid
part of the frames themselves (one Procrustes refinement), so no outside face model is needed.

`MouthShapes` holds, per frame, the 40 lip points (inner + outer contours) in that frame, mouth opening
(inner lip gap) and width; a PCA basis over a reference turns shapes into a few coefficients for retrieval.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from tango.perception.face import (
    ALIGN_ROWS, EYE_CORNER_ROWS, INNER_ROWS, LEFT_CORNER_ROW, LOWER_LIP_ROW, OUTER_ROWS, RIGHT_CORNER_ROW,
    UPPER_LIP_ROW,
)

LIP_ROWS = np.concatenate([OUTER_ROWS, INNER_ROWS])  # (40,)


def to_pixels(landmarks: np.ndarray, width: int, height: int) -> np.ndarray:
    """(..., 95, 3) normalised (x/W, y/H, z/W) -> pixels (z in x's pixels)."""
    return landmarks * np.array([width, height, width], np.float32)


def similarity_fit(source: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Batched Umeyama: scale (F,), rotation (F, D, D), translation (F, D) with target ~ s R source + t.

    source (F, P, D), target (P, D) or (F, P, D).
    """
    target = np.broadcast_to(target, source.shape)
    mu_s, mu_t = source.mean(axis=1, keepdims=True), target.mean(axis=1, keepdims=True)  # (F, 1, D)
    xs, xt = source - mu_s, target - mu_t
    covariance = np.einsum("fpi,fpj->fij", xt, xs) / source.shape[1]  # (F, D, D)
    u, sigma, vt = np.linalg.svd(covariance)
    sign = np.ones_like(sigma)
    sign[:, -1] = np.sign(np.linalg.det(u @ vt))
    rotation = u @ (sign[..., None] * vt)  # (F, D, D)
    variance = np.sum(xs**2, axis=(1, 2)) / source.shape[1]  # (F,)
    scale = np.sum(sigma * sign, axis=1) / np.maximum(variance, 1e-12)
    translation = mu_t[:, 0] - scale[:, None] * np.einsum("fij,fj->fi", rotation, mu_s[:, 0])
    return scale, rotation, translation


def _apply(points: np.ndarray, scale: np.ndarray, rotation: np.ndarray, translation: np.ndarray) -> np.ndarray:
    return scale[:, None, None] * np.einsum("fij,fpj->fpi", rotation, points) + translation[:, None]


def rigid_template(points_px: np.ndarray) -> np.ndarray:
    """(A, 3) template of the rigid rows, inter-ocular distance 1, from (F, 95, 3) pixel points of real faces."""
    rigid = points_px[:, ALIGN_ROWS]  # (F, A, 3)
    eyes = np.linalg.norm(rigid[:, 0] - rigid[:, 3], axis=1)  # outer eye corners are rows 0 and 3 of ALIGN
    first = (rigid - rigid.mean(axis=1, keepdims=True)) / eyes[:, None, None]
    template = np.median(first, axis=0)
    aligned = _apply(rigid, *similarity_fit(rigid, template))
    template = aligned.mean(axis=0)
    return template / np.linalg.norm(template[0] - template[3])


@dataclasses.dataclass(frozen=True)
class MouthShapes:
    lips: np.ndarray  # (F, 40, 3) lip points in the template frame (inter-ocular = 1); NaN where no face
    opening: np.ndarray  # (F,) inner-lip gap / inter-ocular; NaN where no face
    width: np.ndarray  # (F,) mouth-corner distance / inter-ocular
    present: np.ndarray  # (F,) bool

    def vectors(self) -> np.ndarray:
        """(F, 120) flattened lip points (NaN rows where no face)."""
        return self.lips.reshape(len(self.lips), -1)


def mouth_shapes(landmarks: np.ndarray, present: np.ndarray, width: int, height: int,
                 template: np.ndarray) -> MouthShapes:
    """Pose-free mouth shapes of (F, 95, 3) normalised landmarks, fitted to `template` (A, 3)."""
    frames = len(landmarks)
    lips = np.full((frames, len(LIP_ROWS), 3), np.nan, np.float32)
    present = np.asarray(present, bool) & np.isfinite(landmarks).all(axis=(1, 2))
    if present.any():
        points = to_pixels(landmarks[present], width, height).astype(np.float64)  # (P, 95, 3)
        fitted = _apply(points, *similarity_fit(points[:, ALIGN_ROWS], template))  # (P, 95, 3)
        lips[present] = fitted[:, LIP_ROWS]
    upper = np.where(LIP_ROWS == UPPER_LIP_ROW)[0][0]
    lower = np.where(LIP_ROWS == LOWER_LIP_ROW)[0][0]
    left, right = np.where(LIP_ROWS == LEFT_CORNER_ROW)[0][0], np.where(LIP_ROWS == RIGHT_CORNER_ROW)[0][0]
    opening = np.linalg.norm(lips[:, upper] - lips[:, lower], axis=1)
    mouth_width = np.linalg.norm(lips[:, left] - lips[:, right], axis=1)
    return MouthShapes(lips=lips, opening=opening, width=mouth_width, present=present)


def interocular_px(landmarks: np.ndarray, width: int, height: int) -> np.ndarray:
    """(F,) outer-eye-corner distance in image pixels (the LMD normaliser)."""
    points = to_pixels(landmarks, width, height)[:, EYE_CORNER_ROWS][..., :2]  # (F, 4, 2)
    return np.linalg.norm(points[:, 0] - points[:, 3], axis=1)


@dataclasses.dataclass(frozen=True)
class ShapeBasis:
    """PCA of mouth shape vectors: coefficients = (v - mean) @ components.T, unit variance per component."""

    mean: np.ndarray  # (D,)
    components: np.ndarray  # (K, D)
    scale: np.ndarray  # (K,) standard deviation of each coefficient over the fitted frames

    @classmethod
    def fit(cls, vectors: np.ndarray, components: int = 8) -> "ShapeBasis":
        rows = vectors[np.isfinite(vectors).all(axis=1)]
        mean = rows.mean(axis=0)
        _, singular, vt = np.linalg.svd(rows - mean, full_matrices=False)
        k = min(components, len(vt))
        scale = singular[:k] / np.sqrt(max(len(rows) - 1, 1))
        return cls(mean=mean, components=vt[:k], scale=np.maximum(scale, 1e-9))

    def coefficients(self, vectors: np.ndarray) -> np.ndarray:
        """(F, K) whitened coefficients; NaN rows stay NaN."""
        return ((vectors - self.mean) @ self.components.T) / self.scale

    def points(self, coefficients: np.ndarray) -> np.ndarray:
        """(F, 40, 2) lip points (x, y in the template frame, the units of LMD) of (F, K) whitened coefficients."""
        vectors = self.mean + (coefficients * self.scale) @ self.components  # (F, 120)
        return vectors.reshape(len(vectors), len(LIP_ROWS), 3)[..., :2].astype(np.float32)

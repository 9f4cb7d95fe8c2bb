"""Image-quality measures of generated frames against the real ones: PSNR, SSIM, L1."""
from __future__ import annotations

import cv2
import numpy as np

PSNR_CAP_DB = 100.0  # identical frames


def psnr(reference: np.ndarray, test: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of two uint8 images of one shape (data range 255)."""
    mse = float(np.mean((reference.astype(np.float64) - test.astype(np.float64)) ** 2))
    return PSNR_CAP_DB if mse == 0 else min(PSNR_CAP_DB, 10.0 * np.log10(255.0**2 / mse))


def l1(reference: np.ndarray, test: np.ndarray) -> float:
    """Mean absolute difference, in [0, 1] of the intensity range."""
    return float(np.mean(np.abs(reference.astype(np.float32) - test.astype(np.float32)))) / 255.0


def ssim(reference: np.ndarray, test: np.ndarray, sigma: float = 1.5) -> float:
    """Structural similarity (Wang et al. 2004) on the grey image, Gaussian window 11x11 sigma 1.5.

    Inputs are (H, W, 3) RGB or (H, W) grey uint8; constants K1 = 0.01, K2 = 0.03, data range 255.
    """
    x, y = _grey(reference), _grey(test)  # (H, W) float64
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(image: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(image, (11, 11), sigma, borderType=cv2.BORDER_REFLECT)

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x**2
    var_y = blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    numerator = (2 * mu_x * mu_y + c1) * (2 * cov + c2)
    denominator = (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
    return float(np.mean(numerator / denominator))


def _grey(image: np.ndarray) -> np.ndarray:
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    return image.astype(np.float64)

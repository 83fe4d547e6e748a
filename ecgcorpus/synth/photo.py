"""Photometric distortions: colour temperature and brightness, blur, sensor noise, JPEG artefacts."""

from __future__ import annotations

import cv2
import numpy as np
from scipy.special import ndtri

from .sheet import Sheet


def sample_color(rng: np.random.Generator, sheet: Sheet) -> dict:
    return {"kelvin": round(float(rng.uniform(4000, 8500)), 1), "brightness": round(float(rng.uniform(0.82, 1.08)), 3),
            "contrast": round(float(rng.uniform(0.8, 1.05)), 3), "gamma": round(float(rng.uniform(0.85, 1.25)), 3)}


def apply_color(sheet: Sheet, p: dict, rng: np.random.Generator) -> None:
    """The light's colour temperature and brightness, then the camera's gamma and contrast about mid-grey.

    The light multiplies what it falls on, channel by channel: it joins the paper's shading in one
    pass. The tone curve is one table for all channels, applied to the photograph.
    """
    white = kelvin_rgb(p["kelvin"]) / kelvin_rgb(6500.0)
    gains = white[::-1] / white.max() * p["brightness"]
    v = (np.arange(256) / 255.0) ** p["gamma"]
    v = (v - 0.5) * p["contrast"] + 0.5
    sheet.light(gains, np.clip(np.rint(v * 255), 0, 255).astype(np.uint8))


def kelvin_rgb(kelvin: float) -> np.ndarray:
    """RGB of a black body at ``kelvin`` (Tanner Helland's fit of the CIE data), 0..255."""
    t = kelvin / 100.0
    r = 255.0 if t <= 66 else 329.698727446 * (t - 60) ** -0.1332047592
    g = 99.4708025861 * np.log(t) - 161.1195681661 if t <= 66 else 288.1221695283 * (t - 60) ** -0.0755148492
    b = 255.0 if t >= 66 else (0.0 if t <= 19 else 138.5177312231 * np.log(t - 10) - 305.0447927307)
    return np.clip(np.array([r, g, b], float), 1, 255)


def sample_blur(rng: np.random.Generator, px_per_mm: float) -> dict:
    return {"sigma_px": round(float(rng.uniform(0.6, 1.4) * max(1.0, px_per_mm / 7.874)), 3)}


def apply_blur(image: np.ndarray, p: dict, rng: np.random.Generator) -> np.ndarray:
    return cv2.GaussianBlur(image, (0, 0), p["sigma_px"])


GRAIN_GAIN = 1.6


def sample_noise(rng: np.random.Generator, px_per_mm: float) -> dict:
    return {"sigma": round(float(rng.uniform(3, 9)), 2), "salt_pepper": round(float(rng.uniform(5e-4, 3e-3)), 5)}


def apply_noise(image: np.ndarray, p: dict, rng: np.random.Generator) -> np.ndarray:
    """Gaussian luminance grain, then salt-and-pepper specks.

    The grain is drawn on a half-resolution grid and interpolated: a camera's or scanner's noise
    passes through its optics and demosaicing, so it is not independent pixel to pixel (and the
    image stays compressible: PNG writing time follows its entropy). Uniform bytes go through
    the normal quantile function (a 256-entry table) instead of drawing normals: the same
    distribution to 1/256 of probability, at a fraction of the cost.
    """
    h, w = image.shape[:2]
    # Bilinear interpolation averages neighbours and lowers the spread: 1.6 restores the requested
    # sigma on average (measured: the interpolated grain keeps about 0.63 of it).
    quantiles = np.rint(ndtri((np.arange(256) + 0.5) / 256) * p["sigma"] * GRAIN_GAIN)
    shifted = np.clip(quantiles + 128, 0, 255).astype(np.uint8)            # noise + 128, one byte per pixel
    u = rng.integers(0, 256, ((h + 1) // 2, (w + 1) // 2), dtype=np.uint8)
    grain = cv2.resize(cv2.LUT(u, shifted), (w, h), interpolation=cv2.INTER_LINEAR)
    if image.ndim == 3:
        grain = cv2.merge([grain] * image.shape[2])
    out = cv2.addWeighted(image, 1.0, grain, 1.0, -128.0)                  # saturates once, after the sum
    k = int(p["salt_pepper"] * h * w)
    flat = out.reshape(-1, image.shape[2])
    where = rng.integers(0, h * w, k)
    flat[where] = np.where(rng.random(k) < 0.5, 0, 255).astype(np.uint8)[:, None]
    return out


def sample_jpeg(rng: np.random.Generator, px_per_mm: float) -> dict:
    return {"quality": int(rng.integers(20, 65))}


def apply_jpeg(image: np.ndarray, p: dict, rng: np.random.Generator) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, p["quality"]])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)

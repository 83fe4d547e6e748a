"""Paper damage: crumpling wrinkles and fold creases, as shading of the sheet.

Both build a height map of the paper and light it from one side (brightness follows the
slope), which is what makes a photographed crumpled page look crumpled.
"""

from __future__ import annotations

import cv2
import numpy as np

from .sheet import SHADE_STEP, Sheet


def sample_wrinkles(rng: np.random.Generator, sheet: Sheet) -> dict:
    return {"strength": round(float(rng.uniform(0.5, 1.0)), 3), "crinkles": int(rng.integers(25, 70)),
            "blob_mm": round(float(rng.uniform(30, 70)), 2), "light_deg": round(float(rng.uniform(0, 360)), 2)}


def apply_wrinkles(sheet: Sheet, p: dict, rng: np.random.Generator) -> None:
    xs, ys = sheet.low_grid()
    h, w = ys.size, xs.size
    px_low = sheet.px_per_mm / SHADE_STEP                      # low-res pixels per mm
    # Large soft bulges of the sheet: cubic from the random knots to a 4x coarser grid, then linear
    # (cubic straight to the shading grid costs 2.6 ms; at 30-70 mm per bulge the two look the same).
    gh, gw = max(2, int(h / (p["blob_mm"] * px_low))), max(2, int(w / (p["blob_mm"] * px_low)))
    knots = rng.standard_normal((gh + 1, gw + 1)).astype(np.float32)
    coarse = cv2.resize(knots, (max(2, w // 4), max(2, h // 4)), interpolation=cv2.INTER_CUBIC)
    height = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_LINEAR) * np.float32(2.0)
    # Crinkles: random meandering ridges and valleys, softened to a few mm. All crinkles' random
    # numbers are drawn at once and their paths walked together (padded to the longest).
    k = p["crinkles"]
    lengths = rng.integers(4, 12, k)
    steps = rng.uniform(4, 14, k) * px_low
    headings = rng.uniform(0, 2 * np.pi, k)
    starts = rng.uniform([0, 0], [w, h], (k, 2))
    signs = rng.choice([-1.0, 1.0], k)
    used = np.arange(lengths.max()) < lengths[:, None]
    turns = np.zeros(used.shape)
    turns[used] = rng.normal(0, 0.2, int(lengths.sum()))
    angle = headings[:, None] + np.cumsum(turns, axis=1)
    walk = np.stack([np.cos(angle), np.sin(angle)], 2) * steps[:, None, None]
    paths = np.rint(starts[:, None, :] + np.cumsum(walk, axis=1)).astype(np.int32)
    ridges = np.zeros((h, w), np.float32)
    for sign in (-1.0, 1.0):
        lines = [paths[i, :lengths[i]] for i in np.flatnonzero(signs == sign)]
        if lines:
            cv2.polylines(ridges, lines, False, sign, max(1, int(round(0.6 * px_low))), cv2.LINE_AA)
    bulges = height.copy()
    height += cv2.GaussianBlur(ridges, (0, 0), max(0.8, 0.6 * px_low)) * 6.0
    slope = _slope(height, p["light_deg"])
    sheet.shade((1.0 + 0.045 * p["strength"] * np.clip(slope, -3, 3))
                * (1.0 - 0.05 * p["strength"] * np.tanh(bulges)))


def sample_creases(rng: np.random.Generator, sheet: Sheet) -> dict:
    folds = []
    n_v, n_h = int(rng.integers(1, 3)), int(rng.integers(0, 2))   # letters fold in thirds, then maybe in half
    for k in range(n_v):
        folds.append({"angle_deg": round(float(90 + rng.normal(0, 3)), 2),
                      "pos": round(float((k + 1) / (n_v + 1) + rng.normal(0, 0.04)), 3)})
    for k in range(n_h):
        folds.append({"angle_deg": round(float(rng.normal(0, 3)), 2), "pos": round(float(0.5 + rng.normal(0, 0.06)), 3)})
    return {"folds": folds, "depth": round(float(rng.uniform(0.06, 0.16)), 3),
            "width_mm": round(float(rng.uniform(3, 9)), 2), "light_deg": round(float(rng.uniform(0, 360)), 2)}


def apply_creases(sheet: Sheet, p: dict, rng: np.random.Generator) -> None:
    xs, ys = sheet.low_grid()
    width_px = p["width_mm"] * sheet.px_per_mm
    light = np.deg2rad(p["light_deg"])
    factor = np.ones((ys.size, xs.size), np.float32)
    for fold in p["folds"]:
        a = np.deg2rad(fold["angle_deg"])
        direction = np.array([np.cos(a), np.sin(a)])             # along the fold
        normal = np.array([-direction[1], direction[0]])
        vertical = abs(direction[1]) > abs(direction[0])
        centre = np.array([fold["pos"] * sheet.width, sheet.height / 2]) if vertical else \
            np.array([sheet.width / 2, fold["pos"] * sheet.height])
        # The two faces of a fold tilt opposite ways: one lit, one shaded, fading with distance.
        facing = float(np.cos(light) * normal[0] + np.sin(light) * normal[1])
        d = np.arange(-_FOLD_REACH, _FOLD_REACH + 1) * width_px / _PER_WIDTH          # across the fold, page px
        profile = (1 + p["depth"] * facing * np.sign(d) * np.exp(-np.abs(d) / width_px)) \
            * (1 - 0.5 * p["depth"] * np.exp(-(d / (0.4 * width_px)) ** 2))
        factor *= _across(profile.astype(np.float32), xs, ys, centre, normal, width_px / _PER_WIDTH)
        span = np.hypot(sheet.width, sheet.height)
        ends = np.stack([centre - direction * span, centre + direction * span]) - 0.5
        sheet.fold_line(ends, 1.0 - 1.6 * p["depth"], max(1, int(round(0.15 * sheet.px_per_mm))))
    sheet.shade(factor)


_PER_WIDTH = 16        # profile samples per crease width
_FOLD_REACH = 8 * _PER_WIDTH   # the profile is flat (within 0.03% of depth) beyond 8 widths


def _across(profile: np.ndarray, xs, ys, centre, normal, step: float) -> np.ndarray:
    """A 1-D profile (samples ``step`` px apart, centred on the line) laid across the sheet along
    ``normal``: one lookup per cell instead of evaluating the profile's formula there."""
    scale = 1 / step
    index = np.rint((xs - centre[0]) * (normal[0] * scale)).astype(np.int32)[None, :] \
        + np.rint((ys - centre[1]) * (normal[1] * scale) + profile.size // 2).astype(np.int32)[:, None]
    return profile.take(index, mode="clip")


def _slope(height: np.ndarray, light_deg: float) -> np.ndarray:
    """The height map's slope towards the light, in units of its standard deviation."""
    gx = cv2.Sobel(height, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(height, cv2.CV_32F, 0, 1, ksize=3)
    a = np.deg2rad(light_deg)
    slope = cv2.addWeighted(gx, float(np.cos(a)), gy, float(np.sin(a)), 0.0)     # stays float32
    return slope * np.float32(1.0 / (float(slope.std()) + 1e-6))

"""Geometric distortions as 3×3 homographies, composed and applied in one warp; boxes follow them.

Coordinates are page pixels with pixel j covering [j, j+1) (the sidecar's convention); cv2 puts
integer coordinates at pixel centres, so matrices are built in cv2's convention and conjugated.
"""

from __future__ import annotations

import cv2
import numpy as np

BACKGROUNDS = {"desk": (58, 66, 74), "dark": (28, 28, 30), "scanner": (236, 236, 236), "wood": (60, 92, 128)}  # BGR


def sample_rotation(rng: np.random.Generator, size: tuple[int, int], px_per_mm: float) -> dict:
    return {"angle_deg": round(float(rng.uniform(2, 8) * rng.choice([-1, 1])), 3)}


def rotation_matrix(p: dict, size: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int]]:
    w, h = size
    m = np.eye(3)
    m[:2] = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), p["angle_deg"], 1.0)
    return m, size


def sample_perspective(rng: np.random.Generator, size: tuple[int, int], px_per_mm: float) -> dict:
    return {"corners": [[round(float(v), 4) for v in rng.uniform(-0.035, 0.035, 2)] for _ in range(4)]}


def perspective_matrix(p: dict, size: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int]]:
    """Move the four corners (tl, tr, br, bl) by the given fractions of width and height."""
    w, h = size
    src = np.float32([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]])
    dst = src + np.float32(p["corners"]) * np.float32([w, h])
    return cv2.getPerspectiveTransform(src, dst).astype(np.float64), size


def sample_crop(rng: np.random.Generator, size: tuple[int, int], px_per_mm: float) -> dict:
    if rng.random() < 0.5:
        sides = rng.uniform(0.0, 0.03, 4)
        return {"mode": "crop", "sides": [round(float(-v), 4) for v in sides]}
    return {"mode": "pad", "sides": [round(float(v), 4) for v in rng.uniform(0.01, 0.05, 4)]}


def crop_matrix(p: dict, size: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int]]:
    """Grow (pad, > 0) or shrink (crop, < 0) each side (left, top, right, bottom) by a fraction."""
    w, h = size
    left, top, right, bottom = p["sides"]
    m = np.eye(3)
    m[0, 2], m[1, 2] = round(left * w), round(top * h)
    return m, (w + round(left * w) + round(right * w), h + round(top * h) + round(bottom * h))


def warp(image: np.ndarray, matrix: np.ndarray, size: tuple[int, int], background) -> np.ndarray:
    if np.allclose(matrix, np.eye(3)) and size == (image.shape[1], image.shape[0]):
        return image
    border = dict(flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=tuple(int(v) for v in background))
    if np.allclose(matrix[2], (0.0, 0.0, 1.0)):          # rotation/crop only: the affine warp is 25% faster
        return cv2.warpAffine(image, matrix[:2], size, **border)
    return cv2.warpPerspective(image, matrix, size, **border)


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Page points (edge convention) → image points (edge convention)."""
    pts = np.asarray(points, np.float64).reshape(-1, 1, 2) - 0.5
    return cv2.perspectiveTransform(pts, matrix).reshape(-1, 2) + 0.5


def transform_box(box, matrix: np.ndarray, size: tuple[int, int]) -> tuple[list, list, float]:
    """(clipped axis-aligned box, the four transformed corners, the fraction of the box left inside)."""
    x0, y0, x1, y1 = box
    quad = transform_points(np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]]), matrix)
    bx0, by0 = quad.min(0)
    bx1, by1 = quad.max(0)
    w, h = size
    cx0, cy0, cx1, cy1 = min(max(bx0, 0), w), min(max(by0, 0), h), min(max(bx1, 0), w), min(max(by1, 0), h)
    full = max((bx1 - bx0) * (by1 - by0), 1e-9)
    visible = max(cx1 - cx0, 0) * max(cy1 - cy0, 0) / full
    return [cx0, cy0, cx1, cy1], quad.tolist(), float(min(visible, 1.0))

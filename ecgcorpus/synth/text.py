"""Printed text with OpenCV's Hershey fonts, sized in pixels of cap height."""

from __future__ import annotations

import cv2
import numpy as np

FONT = cv2.FONT_HERSHEY_SIMPLEX
SCRIPT = cv2.FONT_HERSHEY_SCRIPT_SIMPLEX      # handwriting-like strokes
_CAP = {f: cv2.getTextSize("H", f, 1.0, 1)[0][1] for f in (FONT, SCRIPT, cv2.FONT_HERSHEY_DUPLEX)}


def font_scale(height_px: float, font: int = FONT) -> float:
    return height_px / _CAP[font]


def text_box(text: str, height_px: float, font: int = FONT, thickness: int | None = None) -> tuple[int, int, int]:
    """(width, cap height, descent) in pixels."""
    scale = font_scale(height_px, font)
    (w, h), base = cv2.getTextSize(text, font, scale, thickness or stroke(height_px))
    return w, h, base


def stroke(height_px: float) -> int:
    return max(1, int(round(height_px / 13)))


def put_text(img: np.ndarray, text: str, x: float, y: float, height_px: float, colour=(0, 0, 0),
             font: int = FONT, thickness: int | None = None) -> tuple[int, int, int, int]:
    """Draw ``text`` with its baseline's left end at (x, y); returns its box (x0, y0, x1, y1)."""
    thickness = thickness or stroke(height_px)
    scale = font_scale(height_px, font)
    (w, h), base = cv2.getTextSize(text, font, scale, thickness)
    cv2.putText(img, text, (int(round(x)), int(round(y))), font, scale, colour, thickness, cv2.LINE_AA)
    return int(round(x)), int(round(y)) - h, int(round(x)) + w, int(round(y)) + base

"""The sheet that paper-stage distortions act on: the page image plus a pending shading map.

Wrinkles and creases are brightness changes of the paper. They add to one low-resolution
shading field (smooth, so 1/4 resolution loses nothing) that is upsampled and multiplied
into the image once, with full-resolution details (fold lines) drawn onto the upsampled map.
"""

from __future__ import annotations

import cv2
import numpy as np

SHADE_STEP = 4          # low-resolution factor of the shading field
_ONE = 200              # uint8 value of a 1.0 multiplier (headroom up to 1.27)


class Sheet:
    def __init__(self, image: np.ndarray, px_per_mm: float):
        self.image = image
        self.px_per_mm = px_per_mm
        self._low: np.ndarray | None = None
        self._lines: list[tuple[np.ndarray, float, int]] = []

    @property
    def height(self) -> int:
        return self.image.shape[0]

    @property
    def width(self) -> int:
        return self.image.shape[1]

    def low_grid(self) -> tuple[np.ndarray, np.ndarray]:
        """x and y (page px) of the low-resolution shading cells."""
        h, w = -(-self.height // SHADE_STEP), -(-self.width // SHADE_STEP)
        return (np.arange(w, dtype=np.float32) + 0.5) * SHADE_STEP, (np.arange(h, dtype=np.float32) + 0.5) * SHADE_STEP

    def shade(self, factor: np.ndarray) -> None:
        """Multiply the pending shading by ``factor`` (low-resolution, float)."""
        self._low = factor.astype(np.float32) if self._low is None else self._low * factor

    def fold_line(self, points_px: np.ndarray, factor: float, thickness: int) -> None:
        """A sharp crease line (page px, cv2 centre convention) darkening the paper by ``factor``."""
        self._lines.append((points_px, factor, thickness))

    def settle(self) -> None:
        """Apply the pending shading to the image."""
        if self._low is None and not self._lines:
            return
        low = self._low if self._low is not None else np.ones((1, 1), np.float32)
        full = cv2.resize(np.clip(low * _ONE, 0, 255).astype(np.uint8), (self.width, self.height),
                          interpolation=cv2.INTER_LINEAR)
        for pts, factor, thickness in self._lines:
            cv2.polylines(full, [np.rint(pts * 16).astype(np.int32)], False, int(_ONE * factor), thickness,
                          cv2.LINE_AA, 4)
        self.image = cv2.multiply(self.image, cv2.merge([full, full, full]), scale=1.0 / _ONE)
        self._low, self._lines = None, []

"""The sheet that paper-stage distortions act on: the page image plus the light pending on it.

Wrinkles and creases are brightness changes of the paper. They add to one low-resolution
shading field (smooth, so 1/4 resolution loses nothing) that is upsampled and multiplied
into the image once, with full-resolution details (fold lines) drawn onto the upsampled map.
The colour of the light (per-channel gains) is multiplied in by the same pass; the camera's
tone curve waits for the photographed image (after the geometric warp).
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
        self._gains: tuple[float, float, float] | None = None
        self._tone: np.ndarray | None = None

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

    def light(self, gains_bgr, tone: np.ndarray) -> None:
        """Light of this colour and brightness (per-channel gains) and a camera with this tone curve
        (256 entries, the same for every channel)."""
        self._gains = tuple(float(g) for g in gains_bgr)
        self._tone = tone

    def lit(self, colour) -> list[int]:
        """A BGR colour under the sheet's light (what the camera sees of the desk around it)."""
        gains = self._gains or (1.0, 1.0, 1.0)
        return [int(min(255, round(c * g))) for c, g in zip(colour, gains)]

    def settle(self) -> None:
        """Multiply the pending shading and the light's colour into the image."""
        if self._low is None and not self._lines and self._gains is None:
            return
        if self._low is None:
            full = np.full((self.height, self.width), _ONE, np.uint8)
        else:
            full = cv2.resize(np.clip(self._low * _ONE, 0, 255).astype(np.uint8), (self.width, self.height),
                              interpolation=cv2.INTER_LINEAR)
        for pts, factor, thickness in self._lines:
            cv2.polylines(full, [np.rint(pts * 16).astype(np.int32)], False, int(_ONE * factor), thickness,
                          cv2.LINE_AA, 4)
        channels = [full] * 3 if self._gains is None else [cv2.convertScaleAbs(full, alpha=g) for g in self._gains]
        self.image = cv2.multiply(self.image, cv2.merge(channels), scale=1.0 / _ONE)
        self._low, self._lines = None, []

    def develop(self, image: np.ndarray) -> np.ndarray:
        """The camera's tone curve on the photographed image (the sheet after any warp)."""
        return image if self._tone is None else cv2.LUT(image, self._tone)

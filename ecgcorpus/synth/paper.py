"""The paper: background colour and the 1 mm / 5 mm grid, anti-aliased at any px/mm."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from ..errors import EcgCorpusError


@dataclass(frozen=True)
class GridStyle:
    paper: tuple[int, int, int]   # RGB
    minor: tuple[int, int, int]
    major: tuple[int, int, int]


# The colours of printed ECG paper: the standard red/pink, and the blue, green, orange and grey
# variants some carts print (ecg-image-kit's random grid colours).
GRID_STYLES: dict[str, GridStyle] = {
    "red": GridStyle((255, 255, 255), (248, 196, 196), (230, 110, 110)),
    "pink": GridStyle((255, 241, 243), (246, 188, 198), (222, 96, 118)),
    "blue": GridStyle((250, 252, 255), (190, 208, 242), (106, 146, 222)),
    "green": GridStyle((250, 255, 250), (186, 230, 194), (96, 180, 118)),
    "orange": GridStyle((255, 251, 242), (250, 214, 176), (236, 150, 86)),
    "gray": GridStyle((255, 255, 255), (214, 214, 214), (158, 158, 158)),
}
MINOR_MM, MAJOR_MM = 0.1, 0.2          # printed line widths
_LEVELS = 16                           # coverage levels per line kind (index = major·16 + minor)


def paper_image(height: int, width: int, px_per_mm: float, style: str = "red", grid: bool = True) -> np.ndarray:
    """A BGR page with the grid; grid line k sits at k mm from the top-left page corner."""
    return _paper(height, width, round(px_per_mm, 6), style, grid).copy()


@lru_cache(maxsize=8)
def _paper(height: int, width: int, px_per_mm: float, style: str, grid: bool) -> np.ndarray:
    try:
        colours = GRID_STYLES[style]
    except KeyError:
        raise EcgCorpusError(f"grid colour {style!r}: use one of {', '.join(GRID_STYLES)}") from None
    page = np.empty((height, width, 3), np.uint8)
    page[:] = colours.paper[::-1]
    if not grid:
        page.flags.writeable = False
        return page
    # The grid is separable: a 1-D coverage index per column and per row; the maximum of the two
    # (major lines win) indexes a colour table. One broadcast and one LUT instead of float blending.
    index = np.maximum(_line_index(width, px_per_mm)[None, :], _line_index(height, px_per_mm)[:, None])
    table = _colour_table(colours)
    page = cv2.LUT(cv2.merge([index, index, index]), table)
    page.flags.writeable = False
    return page


def _line_index(n: int, px_per_mm: float) -> np.ndarray:
    """Per pixel: major coverage·16 + minor coverage, each quantized to 0..15."""
    minor = _coverage(n, px_per_mm, max(MINOR_MM * px_per_mm, 0.7), every=1)
    major = _coverage(n, px_per_mm, max(MAJOR_MM * px_per_mm, 1.2), every=5)
    q = lambda c: np.minimum(np.rint(c * (_LEVELS - 1)), _LEVELS - 1).astype(np.uint8)  # noqa: E731
    return q(major) * _LEVELS + q(minor)


def _coverage(n: int, px_per_mm: float, width_px: float, every: int) -> np.ndarray:
    """Fraction of each pixel [j, j+1) covered by lines of this width centred every ``every`` mm."""
    centres = np.arange(0, n / px_per_mm + every, every) * px_per_mm
    lo, hi = centres - width_px / 2, centres + width_px / 2
    cover = np.zeros(n + 1)
    for a, b in zip(lo, hi):
        j0, j1 = max(int(np.floor(a)), 0), min(int(np.floor(b)), n - 1)
        for j in range(j0, j1 + 1):
            cover[j] += max(0.0, min(b, j + 1) - max(a, j))
    return np.minimum(cover[:n], 1.0)


def _colour_table(colours: GridStyle) -> np.ndarray:
    minor = np.tile(np.arange(_LEVELS), _LEVELS) / (_LEVELS - 1)
    major = np.repeat(np.arange(_LEVELS), _LEVELS) / (_LEVELS - 1)
    paper, mi, ma = (np.array(c[::-1], float) for c in (colours.paper, colours.minor, colours.major))
    rgb = paper + (mi - paper) * minor[:, None]
    rgb = rgb + (ma - rgb) * major[:, None]
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8).reshape(256, 1, 3)

"""PNG writing for rendered pages, with fpng (a single-pass PNG encoder built for speed).

Photo-like pages (grain, colour casts, JPEG artefacts) are 4–8 MB of high-entropy pixels:
libpng with zlib level 1 (what OpenCV and Pillow use) spends about 200 ms on one of them, more
than rendering and distorting it. fpng writes the same standard PNG 5–7x faster for files
10–15% larger (measured in bench/bench_synth.py's development), and the image builder writes
one per sample. Its output depends only on the pixels: same image, same bytes.
"""

from __future__ import annotations

import cv2
import fpng
import numpy as np


def encode_png(image_bgr: np.ndarray) -> bytes:
    """PNG bytes (8-bit RGB) of an 8-bit BGR or greyscale image."""
    if image_bgr.dtype != np.uint8 or image_bgr.ndim not in (2, 3) or \
            (image_bgr.ndim == 3 and image_bgr.shape[2] != 3):
        raise ValueError(f"PNG needs an 8-bit grey or BGR image, got {image_bgr.dtype} with shape {image_bgr.shape}")
    code = cv2.COLOR_GRAY2RGB if image_bgr.ndim == 2 else cv2.COLOR_BGR2RGB
    return fpng.from_ndarray(cv2.cvtColor(image_bgr, code))

"""QRS complexes around R peaks, compared with their median: how alike a lead's beats are."""

from __future__ import annotations

import numpy as np

HALF_WINDOW_S = 0.06     # a complex: R ± 60 ms


def complex_similarity(clean: np.ndarray, r: np.ndarray, fs: float) -> np.ndarray:
    """The correlation of each complete R ± 60 ms complex (peaks too near an end are left out)
    with the median complex; NaN for a flat complex. Empty when there is no complete complex."""
    half = int(round(HALF_WINDOW_S * fs))
    complexes = [clean[p - half:p + half + 1] for p in r if p >= half and p + half < clean.size]
    if not complexes:
        return np.empty(0)
    complexes = np.stack(complexes)
    template = np.median(complexes, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.array([np.corrcoef(c, template)[0, 1] for c in complexes])

"""Where windows go: positives with the first target event shortly after the start, negatives free of it.

anyECG (inferred from its released windows): in a positive window the first target beat lies
0.03–2.6 s after the window start, the same beat reused by several windows with jittered starts;
negatives are random crops with no beat of the asked type. All draws use the caller's generator.
"""

from __future__ import annotations

import numpy as np

OFFSET_S = (0.03, 2.6)


def draw_length(rng: np.random.Generator, length_s, fs: float, n_samples: int) -> int | None:
    """Window length in samples: ``length_s`` fixed or [lo, hi] uniform; None if the record is shorter
    than the shortest allowed window (a longer draw is capped at the record length)."""
    lo, hi = (float(length_s), float(length_s)) if np.isscalar(length_s) else map(float, length_s)
    if n_samples < int(round(lo * fs)):
        return None
    seconds = lo if hi == lo else float(rng.uniform(lo, hi))
    return min(int(round(seconds * fs)), n_samples)


def positive_start(rng: np.random.Generator, events, j: int, length: int, n_samples: int, fs: float,
                   offset_s=OFFSET_S) -> tuple[int, str] | None:
    """A window start that makes ``events[j]`` the first target event in the window.

    Preferred placement ("offset"): the event ``offset_s`` after the start. Where the record's ends
    forbid it (short records), "relaxed": any start that keeps the event inside and the previous
    event outside. None if neither fits.
    """
    e = int(events[j])
    # d = e - start, the event's offset into the window: the window lies in the record, holds the
    # event, and starts after the previous target event.
    lo_any = max(0, e + length - n_samples)
    hi_any = min(e, length - 1, e - int(events[j - 1]) - 1 if j > 0 else e)
    lo_off = max(lo_any, int(np.ceil(offset_s[0] * fs)))
    hi_off = min(hi_any, int(np.floor(offset_s[1] * fs)))
    if lo_off <= hi_off:
        return e - int(rng.integers(lo_off, hi_off + 1)), "offset"
    if lo_any <= hi_any:
        return e - int(rng.integers(lo_any, hi_any + 1)), "relaxed"
    return None


def overlapping_start(rng: np.random.Generator, onset: int, end: int, length: int, n_samples: int,
                      min_overlap: int) -> int | None:
    """A start whose window overlaps the episode [onset, end) by at least ``min_overlap`` samples."""
    lo = max(0, onset - length + min_overlap)
    hi = min(n_samples - length, end - min_overlap)
    return int(rng.integers(lo, hi + 1)) if lo <= hi else None


def negative_start(rng: np.random.Generator, spans, length: int, n_samples: int, tries: int = 64) -> int | None:
    """A random crop of ``length`` samples that touches none of ``spans`` ([a, b) sample ranges; a beat
    at sample e is the span (e, e + 1)); None if ``tries`` draws all fail."""
    spans = np.asarray(spans, dtype=np.int64).reshape(-1, 2)
    for _ in range(tries):
        start = int(rng.integers(0, n_samples - length + 1))
        if not np.any((spans[:, 1] > start) & (spans[:, 0] < start + length)):
            return start
    return None

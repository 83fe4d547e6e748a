"""Evaluation: parse a localization answer back into intervals, and score it by interval IoU.

``parse_answer`` reads the grammar ``answer.py`` writes (and what anyECG's ``parse_intervals`` reads:
strip ``Duration:``, split on ``,`` and ``-``, drop the ``s``), tolerating spaces. ``interval_iou``
is the length of the intersection of the two interval sets over the length of their union; two
negative answers ("No … Found") score 1, a negative against a positive scores 0, and identical
strings score 1 (as anyECG's evaluation counts them).
"""

from __future__ import annotations

import re

_NUMBER = r"(\d+(?:\.\d*)?|\.\d+)"
_INTERVAL = re.compile(rf"^\s*{_NUMBER}\s*s?\s*-\s*{_NUMBER}\s*s?\s*$")
_NEGATIVE = re.compile(r"^\s*no\b.*\bfound\s*\.?\s*$", re.IGNORECASE | re.DOTALL)
_PREFIX = re.compile(r"^\s*duration\s*:\s*", re.IGNORECASE)


def parse_answer(text: str) -> list[tuple[float, float]] | None:
    """Intervals in seconds; ``[]`` for a negative answer; None when the text is not in the grammar."""
    if _NEGATIVE.match(text):
        return []
    match = _PREFIX.match(text)
    if not match:
        return None
    body = text[match.end():].strip().rstrip(".")
    out = []
    for part in body.split(","):
        m = _INTERVAL.match(part)
        if not m:
            return None
        a, b = float(m.group(1)), float(m.group(2))
        if b < a:
            return None
        out.append((a, b))
    return out


def _union(intervals) -> list[tuple[float, float]]:
    merged: list[list[float]] = []
    for a, b in sorted(intervals):
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return [(a, b) for a, b in merged]


def _length(intervals) -> float:
    return sum(b - a for a, b in intervals)


def _intersection(x, y) -> float:
    total, i, j = 0.0, 0, 0
    while i < len(x) and j < len(y):
        lo, hi = max(x[i][0], y[j][0]), min(x[i][1], y[j][1])
        total += max(0.0, hi - lo)
        if x[i][1] < y[j][1]:
            i += 1
        else:
            j += 1
    return total


def interval_iou(pred, ref) -> float:
    """IoU of two interval sets (lists of (start, end) seconds, or answer strings).

    An unparseable prediction scores 0; an unparseable reference is an error.
    """
    if isinstance(pred, str) and isinstance(ref, str) and pred.strip() == ref.strip():
        return 1.0
    if isinstance(ref, str):
        parsed = parse_answer(ref)
        if parsed is None:
            raise ValueError(f"reference answer not in the localization grammar: {ref!r}")
        ref = parsed
    if isinstance(pred, str):
        pred = parse_answer(pred)
        if pred is None:
            return 0.0
    p, r = _union(pred), _union(ref)
    if not p and not r:
        return 1.0
    union = _length(p) + _length(r) - _intersection(p, r)
    if union <= 0:  # zero-length intervals at the same points
        return 1.0 if p == r else 0.0
    return _intersection(p, r) / union

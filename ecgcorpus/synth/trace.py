"""Traces on the page: each panel's polyline, the calibration pulses, separators and lead labels."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from .layout import PULSE_GAP_MM, PULSE_S, PagePlan, Panel
from .text import put_text

SHIFT = 4                   # cv2 fixed-point bits: sub-pixel vertices (1/16 px)
SIMPLIFY_FIXED = 4          # Douglas–Peucker tolerance in fixed-point units (1/4 px)
TRACE_MM = 0.22             # printed trace width
LABEL_MM = 3.0              # cap height of lead labels
INK = (0, 0, 0)


@dataclass
class DrawnLead:
    """Where one panel landed, in page pixels (pixel j covers [j, j+1))."""

    panel: Panel
    box: tuple[float, float, float, float]          # the trace's extent (x0, y0, x1, y1)
    label_box: tuple[float, float, float, float] | None
    baseline_px: float                              # y of 0 mV
    origin_px: float                                # x of t_start


def trace_thickness(px_per_mm: float) -> int:
    return max(1, int(round(TRACE_MM * px_per_mm)))


def draw_leads(page: np.ndarray, signals: dict[str, np.ndarray], fs: float, plan: PagePlan,
               px_per_mm: float, labels: bool = True, calibration: bool = True,
               separators: bool = True) -> list[DrawnLead]:
    """Draw every panel of ``plan``; ``signals`` maps lead name → mV samples starting at t = 0."""
    thick = trace_thickness(px_per_mm)
    lines, drawn = [], []
    for panel in plan.panels:
        x_mm, y_mm = _panel_points(panel, signals[panel.lead], fs, plan)
        pieces = _finite_runs(x_mm, y_mm)
        lines += [_simplify(_fixed(px, py, px_per_mm)) for px, py in pieces]
        finite = np.isfinite(y_mm)
        if finite.any():
            lo, hi = float(y_mm[finite].min()), float(y_mm[finite].max())
        else:  # all missing: an empty band at the baseline
            lo = hi = panel.baseline_mm
        half = thick / 2
        box = (panel.x0_mm * px_per_mm - half, lo * px_per_mm - half,
               float(x_mm[-1]) * px_per_mm + half if x_mm.size else panel.x1_mm * px_per_mm, hi * px_per_mm + half)
        drawn.append(DrawnLead(panel, _clip(box, page.shape), None, panel.baseline_mm * px_per_mm,
                               panel.x0_mm * px_per_mm))
    if calibration:
        lines += [_fixed(*_pulse(plan, y), px_per_mm) for y in plan.row_baselines_mm]
    if separators:
        for panel in plan.panels:
            if panel.col > 0:
                lines.append(_fixed(np.array([panel.x0_mm] * 2),
                                    np.array([panel.baseline_mm - 3.0, panel.baseline_mm + 3.0]), px_per_mm))
    stroke_polylines(page, lines, INK, thick)
    if labels:
        for lead in drawn:
            lead.label_box = _label(page, lead.panel, signals[lead.panel.lead], fs, plan, px_per_mm)
    return drawn


def stroke_polylines(page: np.ndarray, lines: list[np.ndarray], colour, thickness: int) -> None:
    """Anti-aliased polylines (fixed-point vertices) whose ink is ``thickness`` px wide.

    OpenCV's thick anti-aliased lines come out 1-2.4 px wider than asked (thickness 2 inks 3.2-3.4 px,
    3 and 4 ink 5.1-5.4 px) and cost a filled polygon per segment. Up to 3 px the stroke is instead drawn
    as 1 px strokes offset over a small disc (a pen nib): within 0.6 px of the width in every
    direction, and faster. Wider strokes (450 dpi and up) take OpenCV's line two sizes down, which
    inks within 1 px of the width.
    """
    if thickness > 3:
        cv2.polylines(page, lines, False, colour, thickness - 2, cv2.LINE_AA, SHIFT)
        return
    for offset in _nib(thickness):
        cv2.polylines(page, [line + offset for line in lines], False, colour, 1, cv2.LINE_AA, SHIFT)


@lru_cache(maxsize=None)
def _nib(thickness: int) -> tuple[np.ndarray, ...]:
    """Fixed-point offsets of the 1 px strokes: rings 0.9 px apart, points on each at most 1 px apart,
    out to where a 1 px anti-aliased stroke (1.1-1.35 px of ink) reaches the asked width. The radius
    was tuned on the digitization round trip: a 2 px trace reads back as well as OpenCV's 3.4 px one."""
    radius, points = (thickness - 1.1) / 2, []
    while radius > 0.3:
        n = max(3, int(np.ceil(2 * np.pi * radius)))
        a = np.pi / 2 + 2 * np.pi * np.arange(n) / n
        points += list(np.stack([radius * np.cos(a), radius * np.sin(a)], 1))
        radius -= 0.9
    if not points or radius > -0.3:
        points.append(np.zeros(2))
    return tuple(np.rint(np.array(points) * (1 << SHIFT)).astype(np.int32))


def _panel_points(panel: Panel, mv: np.ndarray, fs: float, plan: PagePlan) -> tuple[np.ndarray, np.ndarray]:
    i0 = int(round(panel.t_start * fs))
    i1 = min(mv.size, int(round(panel.t_end * fs)))
    t = np.arange(i0, i1) / fs - panel.t_start
    return panel.x0_mm + t * plan.speed, panel.baseline_mm - mv[i0:i1] * plan.gain


def _finite_runs(x: np.ndarray, y: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Split at missing samples (NaN): a gap in the record is a gap on paper, never a line across it."""
    ok = np.isfinite(y)
    if ok.all():
        return [(x, y)] if x.size else []
    edges = np.flatnonzero(np.diff(np.concatenate(([0], ok.view(np.int8), [0]))))
    return [(x[a:b], y[a:b]) for a, b in zip(edges[::2], edges[1::2])]


def _fixed(x_mm: np.ndarray, y_mm: np.ndarray, px_per_mm: float) -> np.ndarray:
    """mm → cv2 fixed-point vertices (cv2 puts integer coordinates at pixel centres, hence −0.5)."""
    pts = np.stack([x_mm * px_per_mm - 0.5, y_mm * px_per_mm - 0.5], axis=1)
    return np.rint(pts * (1 << SHIFT)).astype(np.int32)


def _simplify(points: np.ndarray) -> np.ndarray:
    """Drop vertices within 1/4 px of the line through their neighbours (Douglas–Peucker).

    At 500 Hz and 25 mm/s there are 2–3 samples per pixel column; OpenCV's thick anti-aliased
    polylines cost per segment, and the drop changes no pixel by more than the anti-aliasing does.
    """
    if len(points) < 3:
        return points
    return cv2.approxPolyDP(points.reshape(-1, 1, 2), SIMPLIFY_FIXED, False).reshape(-1, 2)


def _pulse(plan: PagePlan, baseline: float) -> tuple[np.ndarray, np.ndarray]:
    """The 1 mV, 0.2 s standardization pulse: its height shows the gain, its width the paper speed."""
    x0 = plan.pulse_x0_mm
    x1 = x0 + PULSE_GAP_MM
    x2 = x1 + PULSE_S * plan.speed
    x3 = x2 + PULSE_GAP_MM
    top = baseline - plan.gain
    return np.array([x0, x1, x1, x2, x2, x3]), np.array([baseline, baseline, top, top, baseline, baseline])


def _label(page: np.ndarray, panel: Panel, mv: np.ndarray, fs: float, plan: PagePlan, px_per_mm: float):
    """The lead name at the panel's start, above the trace, or below it where a tall wave is there."""
    pitch = panel.bottom_mm - panel.top_mm
    gap = min(0.3 * pitch, 7.0)
    near = mv[int(panel.t_start * fs):int((panel.t_start + 10.0 / plan.speed) * fs) + 1] * plan.gain
    near = near[np.isfinite(near)]
    above_free = near.size == 0 or near.max() < gap - 0.5
    below_free = near.size == 0 or near.min() > -(gap - LABEL_MM - 0.5)
    y = panel.baseline_mm - gap if above_free or not below_free else panel.baseline_mm + gap
    return put_text(page, panel.lead, (panel.x0_mm + 1.0) * px_per_mm, y * px_per_mm, LABEL_MM * px_per_mm)


def _clip(box, shape) -> tuple[float, float, float, float]:
    h, w = shape[:2]
    x0, y0, x1, y1 = box
    return (min(max(x0, 0.0), w), min(max(y0, 0.0), h), min(max(x1, 0.0), w), min(max(y1, 0.0), h))

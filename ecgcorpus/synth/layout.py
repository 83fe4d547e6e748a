"""Page geometry in millimetres: paper sizes, the layout grammar, and where each lead goes.

A layout is ``{rows}x{cols}[+LEAD[,LEAD…]]``: a grid of lead panels (filled column by column
in canonical lead order, as printed ECGs are: I II III | aVR aVL aVF | V1 V2 V3 | V4 V5 V6),
each column showing the next slice of time, plus full-width rhythm strips of the named leads.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ..errors import EcgCorpusError
from ..leads import CANONICAL_LEADS, canonical_lead

PAPERS_MM = {"letter": (279.4, 215.9), "a4": (297.0, 210.0)}   # landscape (width, height)
SPEEDS_MM_S = (25.0, 50.0)
GAINS_MM_MV = (5.0, 10.0, 20.0)

MARGIN_MM = 8.0          # left/right/bottom margin
HEADER_MM = 24.0         # room for the printed header at the top
FOOTER_MM = 8.0          # room for the speed/gain line at the bottom
PULSE_S = 0.2            # calibration pulse: 1 mV for 0.2 s before every row's traces
PULSE_GAP_MM = 1.5       # flat line before and after the pulse

_LAYOUT = re.compile(r"^(\d+)x(\d+)(?:\+([A-Za-z0-9,]+))?$")


class LayoutError(EcgCorpusError):
    pass


@dataclass(frozen=True)
class Layout:
    name: str
    rows: int
    cols: int
    rhythm: tuple[str, ...] = ()


@dataclass(frozen=True)
class Panel:
    """One lead's trace on the page: its row band, x extent and time span (all in mm / s)."""

    lead: str
    row: int            # row index on the page (rhythm strips come after the grid rows)
    col: int            # column index (0 for rhythm strips)
    rhythm: bool
    x0_mm: float        # where time t_start is drawn
    x1_mm: float
    baseline_mm: float  # y of 0 mV
    top_mm: float       # the row band (half way to the neighbouring rows)
    bottom_mm: float
    t_start: float      # seconds from the start of the rendered signal
    t_end: float


@dataclass(frozen=True)
class PagePlan:
    layout: Layout
    paper: str
    width_mm: float
    height_mm: float
    speed: float         # mm/s
    gain: float          # mm/mV
    duration_s: float    # seconds shown on a full-width row
    panels: tuple[Panel, ...]
    row_baselines_mm: tuple[float, ...]
    trace_x0_mm: float   # left edge of the traces (after the calibration pulse)
    pulse_x0_mm: float


def parse_layout(text: str) -> Layout:
    m = _LAYOUT.match(text.strip())
    if not m:
        raise LayoutError(f"layout {text!r}: expected ROWSxCOLS[+LEAD,…] such as 3x4+II, 6x2, 12x1, 2x1")
    rows, cols = int(m.group(1)), int(m.group(2))
    if not (1 <= rows <= 12 and 1 <= cols <= 6):
        raise LayoutError(f"layout {text!r}: 1–12 rows and 1–6 columns")
    rhythm = tuple(canonical_lead(x) for x in m.group(3).split(",")) if m.group(3) else ()
    unknown = [x for x in rhythm if x not in CANONICAL_LEADS]
    if unknown:
        raise LayoutError(f"layout {text!r}: unknown rhythm lead(s) {unknown}")
    if rows + len(rhythm) > 13:
        raise LayoutError(f"layout {text!r}: at most 13 rows in all")
    return Layout(text.strip(), rows, cols, rhythm)


def auto_layout(leads: tuple[str, ...]) -> str:
    """The usual printout for a lead set: 3x4+II for 12 leads, one strip per lead for reduced sets."""
    if len(leads) == 12:
        return "3x4+II" if "II" in leads else "3x4"
    if len(leads) <= 6:
        return f"{len(leads)}x1"
    return f"{(len(leads) + 1) // 2}x2"


def grid_leads(layout: Layout, leads: tuple[str, ...]) -> list[tuple[int, int, str]]:
    """(row, col, lead) of the grid cells, filled column-major in the given (canonical) order."""
    cells = layout.rows * layout.cols
    if len(leads) > cells:
        raise LayoutError(f"layout {layout.name}: {cells} panels for {len(leads)} leads ({' '.join(leads)})")
    missing = [x for x in layout.rhythm if x not in leads]
    if missing:
        raise LayoutError(f"layout {layout.name}: rhythm lead(s) {missing} not in the record ({' '.join(leads)})")
    return [(i % layout.rows, i // layout.rows, lead) for i, lead in enumerate(leads)]


def plan_page(layout: Layout, leads: tuple[str, ...], signal_s: float, paper: str = "letter",
              speed: float = 25.0, gain: float = 10.0) -> PagePlan:
    """Place every panel; a row shows as many seconds as fit at this paper speed (at most the signal)."""
    if paper not in PAPERS_MM:
        raise LayoutError(f"paper {paper!r}: use {' or '.join(PAPERS_MM)}")
    if speed not in SPEEDS_MM_S:
        raise LayoutError(f"paper speed {speed:g} mm/s: use {' or '.join(f'{s:g}' for s in SPEEDS_MM_S)}")
    if gain not in GAINS_MM_MV:
        raise LayoutError(f"gain {gain:g} mm/mV: use {', '.join(f'{g:g}' for g in GAINS_MM_MV)}")
    width, height = PAPERS_MM[paper]
    pulse_x0 = MARGIN_MM
    # Traces start on a major (5 mm) line and baselines on whole mm, so the grid reads as a ruler.
    trace_x0 = math.ceil((pulse_x0 + PULSE_S * speed + 2 * PULSE_GAP_MM) / 5.0) * 5.0
    usable_mm = width - MARGIN_MM - trace_x0
    # A long record is cut to whole half-seconds, so columns start on round times (2.5 s at 25 mm/s).
    fits = usable_mm / speed
    duration = signal_s if signal_s <= fits else max(0.5, (fits * 2 // 1) / 2)
    n_rows = layout.rows + len(layout.rhythm)
    top, bottom = HEADER_MM, height - MARGIN_MM - FOOTER_MM
    pitch = (bottom - top) / n_rows
    baselines = tuple(float(round(top + pitch * (r + 0.5))) for r in range(n_rows))
    col_s = duration / layout.cols
    panels = []
    for row, col, lead in grid_leads(layout, leads):
        t0 = col * col_s
        panels.append(_panel(lead, row, col, False, trace_x0 + t0 * speed, trace_x0 + (t0 + col_s) * speed,
                             baselines[row], pitch, t0, t0 + col_s))
    for k, lead in enumerate(layout.rhythm):
        row = layout.rows + k
        panels.append(_panel(lead, row, 0, True, trace_x0, trace_x0 + duration * speed, baselines[row],
                             pitch, 0.0, duration))
    return PagePlan(layout, paper, width, height, speed, gain, duration, tuple(panels), baselines,
                    trace_x0, pulse_x0)


def _panel(lead, row, col, rhythm, x0, x1, baseline, pitch, t0, t1) -> Panel:
    return Panel(lead, row, col, rhythm, x0, x1, baseline, baseline - pitch / 2, baseline + pitch / 2, t0, t1)

"""Measurements as words: feature names, units, MCQ ranges, yes/no conditions, the ECG-Chat suffix.

Ranges and thresholds are the usual adult reference values (rate 60–100 bpm, PR 120–200 ms,
QRS < 120 ms, QTc by Bazett, frontal axis −30° to +90°); every question names its threshold, so
an answer is a statement about the measured number, not a diagnosis.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

from .measure import Measurements

_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


@dataclass(frozen=True)
class Condition:
    """A yes/no question about a value: ``phrase`` completes "Is the {feature} …?"."""

    id: str
    phrase: str
    op: str
    threshold: float

    def holds(self, value: float) -> bool:
        return _OPS[self.op](value, self.threshold)


@dataclass(frozen=True)
class Feature:
    key: str                                   # Measurements field
    name: str                                  # as a question names it
    unit: str
    bins: tuple[tuple[float | None, float | None, str], ...]   # MCQ options: [lo, hi] inclusive, None = open
    conditions: tuple[Condition, ...] = ()
    note: str = ""                             # appended to every value, e.g. the QTc formula

    def value_text(self, value: float, beside_name: bool = False) -> str:
        """``value`` with its unit, and the method note unless the feature's name, written
        ``beside_name``, already says it ("the QTc (Bazett) is 475 ms", not "… 475 ms (Bazett)")."""
        if self.unit == "°":
            text = f"{int(value):+d}°"
        else:
            text = f"{int(value)} {self.unit}"
        noted = self.note and not (beside_name and self.note in self.name)
        return f"{text} ({self.note})" if noted else text

    def bin_of(self, value: float) -> int:
        for i, (lo, hi, _) in enumerate(self.bins):
            if (lo is None or value >= lo) and (hi is None or value <= hi):
                return i
        raise ValueError(f"{self.name}: {value} falls in no range")


FEATURES: dict[str, Feature] = {f.key: f for f in (
    Feature("heart_rate_bpm", "heart rate", "bpm",
            ((None, 59, "below 60 bpm"), (60, 100, "60–100 bpm"), (101, 150, "101–150 bpm"),
             (151, None, "above 150 bpm")),
            (Condition("slow", "slower than 60 bpm", "<", 60), Condition("fast", "faster than 100 bpm", ">", 100))),
    Feature("rr_ms", "mean RR interval", "ms",
            ((None, 599, "below 600 ms"), (600, 1000, "600–1000 ms"), (1001, 1500, "1001–1500 ms"),
             (1501, None, "above 1500 ms")),
            (Condition("long", "longer than 1000 ms", ">", 1000),)),
    Feature("pr_ms", "PR interval", "ms",
            ((None, 119, "below 120 ms"), (120, 200, "120–200 ms"), (201, 300, "201–300 ms"),
             (301, None, "above 300 ms")),
            (Condition("prolonged", "prolonged (longer than 200 ms)", ">", 200),
             Condition("short", "short (shorter than 120 ms)", "<", 120))),
    Feature("qrs_ms", "QRS duration", "ms",
            ((None, 79, "below 80 ms"), (80, 119, "80–119 ms"), (120, 159, "120–159 ms"),
             (160, None, "160 ms or more")),
            (Condition("wide", "wide (120 ms or more)", ">=", 120),)),
    Feature("qt_ms", "QT interval", "ms",
            ((None, 359, "below 360 ms"), (360, 439, "360–439 ms"), (440, 499, "440–499 ms"),
             (500, None, "500 ms or more"))),
    Feature("qtc_ms", "corrected QT interval (QTc, Bazett)", "ms",
            ((None, 389, "below 390 ms"), (390, 460, "390–460 ms"), (461, 500, "461–500 ms"),
             (501, None, "above 500 ms")),
            (Condition("prolonged", "prolonged (longer than 460 ms)", ">", 460),
             Condition("very_prolonged", "longer than 500 ms", ">", 500)),
            note="Bazett"),
    Feature("axis_deg", "frontal QRS axis", "°",
            ((-30, 90, "normal axis (−30° to +90°)"),
             (-90, -31, "left axis deviation (−31° to −90°)"),
             (91, 180, "right axis deviation (+91° to +180°)"),
             (-180, -91, "extreme axis deviation (−91° to −180°)")),
            (Condition("left", "deviated to the left (beyond −30°)", "<", -30),
             Condition("right", "deviated to the right (beyond +90°)", ">", 90))),
)}


def wave_suffix(m: Measurements, faithful: bool = False) -> str:
    """ECG-Chat's wfep string ``RR: … PR: … QRS: … QT/QTc: …/… P/R/T Wave: …/…/…`` (no leading space).

    Intervals in ms. ``faithful``: P/R/T are ECG-Chat's mean sample indices of the peaks (use with
    ``measure(definitions="ecgchat")``); otherwise each wave's median amplitude in mV, where the
    delineator found the wave in at least half of the beats. ``NA`` marks what was not measured
    (ECG-Chat writes 0 there, indistinguishable from a number).
    """

    def num(v) -> str:
        return "NA" if v is None else str(v)

    def amplitude(v) -> str:
        return "NA" if v is None else f"{v:.2f}".replace("-0.00", "0.00")

    if faithful:
        p, r, t = num(m.p_peak_index), num(m.r_peak_index), num(m.t_peak_index)
    else:
        p, r, t = amplitude(m.p_amplitude_mv), amplitude(m.r_amplitude_mv), amplitude(m.t_amplitude_mv)
    return (f"RR: {num(m.rr_ms)} PR: {num(m.pr_ms)} QRS: {num(m.qrs_ms)} "
            f"QT/QTc: {num(m.qt_ms)}/{num(m.qtc_ms)} P/R/T Wave: {p}/{r}/{t}")

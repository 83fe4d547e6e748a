"""The printed header (patient and measurement lines) and footer, with de-identification options."""

from __future__ import annotations

import hashlib

import numpy as np

from ..types import RecordRef
from .layout import MARGIN_MM, PagePlan
from .text import put_text

HEADER_MODES = ("full", "deid", "none")
TEXT_MM = 3.0
LINE_MM = 5.0


def header_columns(record_id: str, ref: RecordRef | None, mode: str) -> list[list[str]]:
    """Columns of header lines. ``deid`` prints a pseudonym, an age band and no date."""
    if mode == "none":
        return []
    age, sex, date = (ref.age, ref.sex, ref.acquired) if ref else (None, None, None)
    if mode == "deid":
        ident = "ID: " + hashlib.sha256(record_id.encode()).hexdigest()[:10].upper()
        age = _age_band(age)
        date_line = "Date: --"
    else:
        ident = f"ID: {record_id}"
        date_line = f"Date: {date[:16] if date else '--'}"
    sex_text = {"M": "Male", "F": "Female"}.get(sex or "", "--")
    patient = [ident, f"Age: {age or '--'}   Sex: {sex_text}", date_line]
    measured = measurement_lines(ref.extra.get("measurements") if ref else None)
    return [patient, measured] if measured else [patient]


def measurement_lines(m: dict | None) -> list[str]:
    """Rate and intervals as the cart measured them (MIMIC-IV-ECG machine_measurements), never computed here."""
    if not m:
        return []
    ok = lambda *keys: all(isinstance(m.get(k), (int, float)) and 0 < m[k] < 5000 for k in keys)  # noqa: E731
    lines = []
    if ok("rr_interval"):
        lines.append(f"Vent. rate: {60000 / m['rr_interval']:.0f} bpm")
    if ok("p_onset", "qrs_onset") and m["qrs_onset"] > m["p_onset"]:
        lines.append(f"PR interval: {m['qrs_onset'] - m['p_onset']:.0f} ms")
    if ok("qrs_onset", "qrs_end") and m["qrs_end"] > m["qrs_onset"]:
        lines.append(f"QRS duration: {m['qrs_end'] - m['qrs_onset']:.0f} ms")
    if ok("qrs_onset", "t_end", "rr_interval") and m["t_end"] > m["qrs_onset"]:
        qt = m["t_end"] - m["qrs_onset"]
        lines.append(f"QT/QTc: {qt:.0f}/{qt / np.sqrt(m['rr_interval'] / 1000):.0f} ms")
    axes = [m.get(k) for k in ("p_axis", "qrs_axis", "t_axis")]
    if all(isinstance(a, (int, float)) and -360 <= a <= 360 for a in axes):
        lines.append("P-R-T axes: " + " ".join(f"{a:.0f}" for a in axes))
    if len(lines) > 3:  # the header band holds three lines
        lines = ["   ".join(lines[i:i + 2]) for i in range(0, len(lines), 2)]
    return lines


def _age_band(age: str | None) -> str | None:
    if not age or not age.strip().isdigit():
        return age  # ">89" is already a band
    a = int(age)
    return ">89" if a > 89 else f"{a // 10 * 10}-{a // 10 * 10 + 9}"


def draw_header(page: np.ndarray, columns: list[list[str]], px_per_mm: float) -> list[tuple]:
    boxes = []
    for c, lines in enumerate(columns):
        x = (MARGIN_MM + 80.0 * c) * px_per_mm
        for k, line in enumerate(lines):
            y = (MARGIN_MM + TEXT_MM + LINE_MM * k) * px_per_mm
            boxes.append(put_text(page, line, x, y, TEXT_MM * px_per_mm))
    return boxes


def draw_footer(page: np.ndarray, plan: PagePlan, px_per_mm: float, extra: str = "") -> tuple:
    text = f"{plan.speed:g} mm/s    {plan.gain:g} mm/mV" + (f"    {extra}" if extra else "")
    y = (plan.height_mm - MARGIN_MM) * px_per_mm
    return put_text(page, text, plan.trace_x0_mm * px_per_mm, y, TEXT_MM * px_per_mm)

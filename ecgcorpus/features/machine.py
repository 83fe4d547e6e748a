"""The cart's own measurements where a source ships them (MIMIC-IV-ECG ``machine_measurements.csv``).

The cart measures rate, intervals and axes on the whole recording over all twelve leads (its QRS
runs from the earliest onset to the latest offset), which one delineated lead cannot match. So
where they exist and the sample attaches the whole record, they replace neurokit2's values for
rate, PR, QRS, QT, QTc and the QRS axis; each replaced field is named in ``methods`` as "machine".
Wave presence and amplitudes stay neurokit2's. An interval the cart marks not measurable (29999,
read as None) is not stated at all, whatever neurokit2 found: where the cart found no P wave
(atrial fibrillation), a PR from one delineated lead is not to be trusted.
"""

from __future__ import annotations

import math
from dataclasses import replace

from .measure import PLAUSIBLE_MS, Measurements


def with_machine_values(m: Measurements, machine: dict) -> Measurements:
    def gap(start: str, stop: str) -> int | None:
        a, b = machine.get(start), machine.get(stop)
        return None if a is None or b is None else int(b) - int(a)

    values: dict[str, int | None] = {}
    rr = machine.get("rr_interval")
    if rr:
        values["rr_ms"], values["heart_rate_bpm"] = int(rr), int(round(60000.0 / rr))
    for name, (start, stop) in {"pr": ("p_onset", "qrs_onset"), "qrs": ("qrs_onset", "qrs_end"),
                                "qt": ("qrs_onset", "t_end")}.items():
        value = gap(start, stop)
        lo, hi = PLAUSIBLE_MS[name]
        if value is None and rr:
            values[f"{name}_ms"] = None           # the cart could not measure it: neither do we claim it
            if name == "pr":
                values.update(p_present=None, p_amplitude_mv=None)
        elif value is not None and lo <= value <= hi:
            values[f"{name}_ms"] = value
    if values.get("qt_ms") is not None and rr:
        values["qtc_ms"] = int(round(values["qt_ms"] / math.sqrt(rr / 1000.0)))
    elif "qt_ms" in values:
        values["qtc_ms"] = None
    if machine.get("qrs_axis") is not None:
        values["axis_deg"] = int(machine["qrs_axis"])
    if not values:
        return m
    out = replace(m, **values, methods=tuple(sorted(dict(m.methods, **{k: "machine" for k in values}).items())))
    complete = all(getattr(out, k) is not None for k in ("rr_ms", "pr_ms", "qrs_ms", "qt_ms"))
    quality = "ok" if complete else ("partial" if out.rr_ms is not None else "failed")
    return replace(out, quality=quality)

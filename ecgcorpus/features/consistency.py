"""Measurements must agree with the record's labels before a sample states them.

A label is what a cardiologist (or the cart, for MIMIC) wrote about the ECG; a measurement is
what neurokit2 found on one lead. Where the two disagree, the measurement is the suspect: a wrong
R-peak train, a missed QRS onset. So:

- under atrial fibrillation or flutter there is no P wave and no PR interval: those values do not
  apply (null in ``meta.measurements``, never asked);
- a (complete) left or right bundle branch block has a QRS of at least 120 ms;
- sinus bradycardia / bradycardia means a rate of at most 60 bpm, sinus tachycardia / tachycardia
  at least 100.

A contradiction quarantines the record with the reason; nothing is emitted from it.
"""

from __future__ import annotations

from dataclasses import replace

from ..errors import SourceError
from ..types import RecordRef
from .measure import Measurements

NO_P_WAVE = {"164889003": "atrial fibrillation", "164890007": "atrial flutter"}
WIDE_QRS = {"733534002": "complete left bundle branch block", "713427006": "complete right bundle branch block",
            "164909002": "left bundle branch block", "59118001": "right bundle branch block"}
SLOW = {"426177001": "sinus bradycardia", "48867003": "bradycardia"}
FAST = {"427084000": "sinus tachycardia", "3424008": "tachycardia"}
BBB_QRS_MS, BRADY_BPM, TACHY_BPM = 120, 60, 100


def consistent(m: Measurements, ref: RecordRef) -> Measurements:
    """``m`` with what the labels rule out removed; SourceError where a value contradicts a label."""
    codes = {lab.snomed for lab in ref.labels if lab.snomed}
    no_p = sorted(NO_P_WAVE[c] for c in codes & NO_P_WAVE.keys())
    if no_p:
        m = replace(m, pr_ms=None, p_present=None, p_amplitude_mv=None, p_peak_index=None,
                    reasons=m.reasons + (f"no P wave or PR interval under {' and '.join(no_p)}",))
    violations = _violations(codes, m.qrs_ms, m.heart_rate_bpm)
    if violations:
        what, value, label, bound = violations[0]
        how = dict(m.methods).get("qrs_ms")
        where = f"({how})" if how else f"on lead {m.lead}"
        measured = f"measured QRS {value} ms {where}" if what == "qrs" else f"measured rate {value} bpm"
        raise SourceError(ref.path, f"measurement contradicts the labels: {measured}, but the record is labelled "
                          f"{label} ({bound})", ref.record_id)
    return m


def contradictions(values: dict, codes: set[str]) -> list[str]:
    """What a sample's stated measurements (``meta.measurements``) contradict among the record's
    labels (SNOMED CT ids): the audit's view of the same rules, on a built corpus."""
    out = []
    no_p = sorted(NO_P_WAVE[c] for c in codes & NO_P_WAVE.keys())
    if no_p and (values.get("pr_ms") is not None or values.get("p_present")):
        out.append(f"a P wave or PR interval stated under {no_p[0]}")
    for what, value, label, _ in _violations(codes, values.get("qrs_ms"), values.get("heart_rate_bpm")):
        out.append(f"QRS {value} ms under {label}" if what == "qrs" else f"rate {value} bpm under {label}")
    return out


def _violations(codes: set[str], qrs_ms: int | None, rate: int | None) -> list[tuple[str, int, str, str]]:
    """(what, value, label, bound) for each value a label rules out (QRS first, then the rate):
    one set of rules for the build (``consistent``) and the audit (``contradictions``)."""
    out = []
    wide = sorted(WIDE_QRS[c] for c in codes & WIDE_QRS.keys())
    if wide and qrs_ms is not None and qrs_ms < BBB_QRS_MS:
        out.append(("qrs", qrs_ms, wide[0], f"≥ {BBB_QRS_MS} ms"))
    slow = sorted(SLOW[c] for c in codes & SLOW.keys())
    if slow and rate is not None and rate > BRADY_BPM:
        out.append(("rate", rate, slow[0], f"≤ {BRADY_BPM} bpm"))
    fast = sorted(FAST[c] for c in codes & FAST.keys())
    if fast and rate is not None and rate < TACHY_BPM:
        out.append(("rate", rate, fast[0], f"≥ {TACHY_BPM} bpm"))
    return out

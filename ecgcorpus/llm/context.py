"""The text an LLM sees about a record: only what the source documents, never a new measurement.

Report lines, harmonized diagnostic statements, machine measurements (MIMIC-IV-ECG; intervals derived
from its onsets and offsets by subtraction are marked as such), cardiologist annotations (PTB-XL axis,
extra beats, pacemaker), features another stage put in ``extra["features"]``, and for a group of ECGs
their dates and the days between them.
"""

from __future__ import annotations

from datetime import date

from ..types import RecordRef

_LANGUAGES = {"de": "German", "en": "English", "sv": "Swedish", "zh": "Chinese"}
# PTB-XL heart_axis codes (cardiologist annotation).
_PTBXL_AXIS = {"MID": "normal (mid) axis", "LAD": "left axis deviation", "ALAD": "abnormal left axis deviation",
               "RAD": "right axis deviation", "ARAD": "abnormal right axis deviation", "AXL": "leftward axis",
               "AXR": "rightward axis", "SAG": "sagittal-type axis"}


def has_facts(ref: RecordRef) -> bool:
    return bool(ref.report_lines or ref.labels)


def record_facts(ref: RecordRef, demographics: bool = False) -> list[str]:
    """One line per documented fact group of one record."""
    out = []
    lines = ref.report_lines
    if lines:
        lang = _LANGUAGES.get(ref.report_lang or "", ref.report_lang)
        out.append(f"Report{f' (in {lang}, as written)' if lang and lang != 'English' else ''}: " + "; ".join(lines))
    statements = [f"{lab.name or lab.code}" + (f" (SNOMED CT {lab.snomed})" if lab.snomed else "")
                  for lab in ref.labels]
    if statements:
        out.append("Diagnostic statements: " + "; ".join(statements))
    measured = _measurements(ref.extra.get("measurements") or {})
    if measured:
        out.append(measured)
    axis = ref.extra.get("heart_axis")
    if axis:
        out.append(f"Heart axis (annotated): {_PTBXL_AXIS.get(str(axis), str(axis))}")
    for key, title in (("extra_beats", "Extra beats (annotated)"), ("pacemaker", "Pacemaker (annotated)")):
        if ref.extra.get(key):
            out.append(f"{title}: {ref.extra[key]}")
    features = ref.extra.get("features")
    if isinstance(features, dict) and features:
        out.append("Measured features: " + "; ".join(f"{k}: {v}" for k, v in sorted(features.items())
                                                       if v is not None))
    if demographics:
        sex = {"M": "male", "F": "female"}.get(ref.sex or "", "")
        who = ", ".join(x for x in (f"age {ref.age}" if ref.age else "", sex) if x)
        if who:
            out.append(f"Patient: {who}")
    return out


def _measurements(m: dict) -> str | None:
    """MIMIC-IV-ECG machine_measurements: onsets/offsets in ms within the machine's representative beat."""
    parts, derived = [], []
    rr = m.get("rr_interval")
    if rr:
        parts.append(f"RR interval {rr} ms")
        derived.append(f"heart rate {round(60000 / rr)} /min")
    for key, name in (("p_onset", "P onset"), ("p_end", "P end"), ("qrs_onset", "QRS onset"), ("qrs_end", "QRS end"),
                      ("t_end", "T end")):
        if m.get(key) is not None:
            parts.append(f"{name} {m[key]}")
    for a, b, name in (("p_onset", "qrs_onset", "PR interval"), ("qrs_onset", "qrs_end", "QRS duration"),
                       ("qrs_onset", "t_end", "QT interval")):
        if m.get(a) is not None and m.get(b) is not None and m[b] > m[a]:
            derived.append(f"{name} {m[b] - m[a]} ms")
    axes = [f"{name} {m[k]}°" for k, name in (("p_axis", "P"), ("qrs_axis", "QRS"), ("t_axis", "T"))
            if m.get(k) is not None]
    if not parts and not axes:
        return None
    text = "Machine measurements (wave onsets and ends in ms within the representative beat): " + "; ".join(parts)
    if axes:
        text += "; axes " + ", ".join(axes)
    return text + (f". Derived by subtraction: {'; '.join(derived)}" if derived else "")


def acquired_date(ref: RecordRef) -> date | None:
    try:
        return date.fromisoformat((ref.acquired or "")[:10])
    except ValueError:
        return None


def group_dates(refs) -> tuple[list[str], list[int]]:
    """(ISO dates, days since the first ECG) of a date-sorted group."""
    days = [acquired_date(r) for r in refs]
    return [d.isoformat() for d in days], [(d - days[0]).days for d in days]


def context_text(refs, demographics: bool = False) -> str:
    if len(refs) == 1:
        return "\n".join(record_facts(refs[0], demographics))
    dates, gaps = group_dates(refs)
    blocks = []
    for i, (ref, when, gap) in enumerate(zip(refs, dates, gaps), start=1):
        since = ("first recording" if i == 1 else f"{gap} days after ECG 1" if i == 2 else
                 f"{gap} days after ECG 1, {gap - gaps[i - 2]} days after ECG {i - 1}")
        facts = record_facts(ref, demographics and i == 1)
        blocks.append(f"ECG {i} — recorded {when} ({since})\n" + "\n".join(f"  {line}" for line in facts))
    return "\n".join(blocks)

"""Where anyECG puts a beat-annotated record's channels in its 12-lead input (``anyecg/utils.py``).

anyECG zero-fills the native channels into I II III aVR aVL aVF V1–V6 at training time. Its name
rules: lower-case, strip ``ml`` (MLII → ii, MLIII → iii), ``d3`` → iii; the MIT-BIH ST channels
named ``ECG, ECG`` are assumed to be MLII and V1, and a lone ``ECG`` channel goes to lead I. We keep
the native channels and record this mapping in meta so an exporter can rebuild anyECG's input.
"""

from __future__ import annotations

from ..leads import CANONICAL_LEADS

_BY_LOWER = {name.lower(): name for name in CANONICAL_LEADS}


def anyecg_lead_slots(channel_names) -> list[str | None]:
    """The anyECG 12-lead slot of each channel (canonical spelling), None where no rule places it."""
    names = [str(n).strip().lower() for n in channel_names]
    if names == ["ecg", "ecg"]:
        names = ["mlii", "v1"]
    elif names == ["ecg"]:
        names = ["i"]
    slots = []
    for name in names:
        if name.startswith("ml"):
            name = name[2:]
        if name == "d3":
            name = "iii"
        slots.append(_BY_LOWER.get(name))
    return slots

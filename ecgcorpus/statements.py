"""Machine ECG statements (MIMIC-IV-ECG's ``report_0..17``) → SNOMED CT labels.

The cart programs write a controlled vocabulary, one statement per line, which a small grammar
reads: a line is split into clauses at "with", "and" and commas ("Sinus rhythm with PVC(s) with
borderline 1st degree A-V block"); a clause loses its hedge ("Possible", "Probable", "Consider",
"Cannot rule out", "Borderline", …), which lowers the label's likelihood, and its case and
trailing period; what remains is looked up in the phrase table below, whose codes are the same
SNOMED CT set the other sources use (the PhysioNet/CinC mapping where it has the concept).
Summary lines ("Normal ECG", "Borderline ECG", "Abnormal ECG") and continuation fragments
("age undetermined", "old", "diffuse leads") are recognised as such, never guessed at.
"""

from __future__ import annotations

from functools import lru_cache

import re
from dataclasses import dataclass, field

from .labels import snomed_names
from .types import Label

# Hedge → likelihood (0–100, PTB-XL's scale): how sure the statement says it is.
HEDGES = [("cannot rule out", 30), ("can not rule out", 30), ("consider", 50), ("possible", 50), ("possibly", 50),
          ("suggests", 60), ("suggestive of", 60), ("borderline", 60), ("probable", 80), ("probably", 80),
          ("likely", 80), ("minimal", 80), ("marked", 100), ("moderate", 100), ("extensive", 100)]
SUMMARIES = {"normal ecg": "164854000", "normal ecg except for rate": None, "borderline ecg": None,
             "abnormal ecg": None, "otherwise normal ecg": "164854000", "normal sinus rhythm": "426783006"}
MODIFIERS = ("age undetermined", "old", "recent", "acute", "probably old", "diffuse leads", "lateral leads",
             "inferior leads", "anterior leads", "possibly acute", "repolarization", "rate", "nonspecific",
             "or aberrant ventricular conduction", "aberrant ventricular conduction")
# Normalized phrase (lower case, no hedge, no period) → SNOMED CT id.
PHRASES = {
    "sinus rhythm": "426783006", "sinus bradycardia": "426177001", "marked sinus bradycardia": "426177001",
    "sinus tachycardia": "427084000", "sinus arrhythmia": "427393009", "atrial fibrillation": "164889003",
    "atrial flutter": "164890007", "pvc(s)": "427172004", "pvcs": "427172004",
    "premature ventricular contractions": "427172004", "premature ventricular complexes": "427172004",
    "pac(s)": "284470004", "pacs": "284470004", "premature atrial contractions": "284470004",
    "premature atrial complexes": "284470004", "1st degree a-v block": "270492004",
    "first degree av block": "270492004", "1st degree av block": "270492004",
    "2nd degree a-v block": "195042002", "a-v block": "233917008", "left axis deviation": "39732003",
    "right axis deviation": "47665007", "left ventricular hypertrophy": "164873001",
    "right ventricular hypertrophy": "89792004", "right bundle branch block": "59118001",
    "incomplete right bundle branch block": "713426002", "rsr'(v1) - probable normal variant": "713426002",
    "left bundle branch block": "164909002", "left anterior fascicular block": "445118002",
    "left posterior fascicular block": "445211001", "low qrs voltages": "251146004",
    "low qrs voltages in limb leads": "251147008", "low qrs voltages in precordial leads": "251148003",
    "prolonged qt interval": "111975006", "prolonged qt": "111975006", "long qt interval": "111975006",
    "inferior infarct": "164865005", "anterior infarct": "54329005", "anteroseptal infarct": "54329005",
    "septal infarct": "164865005", "lateral infarct": "164865005", "inferior myocardial infarction": "164865005",
    "pacemaker rhythm": "10370003", "paced rhythm": "10370003", "atrial paced rhythm": "251268003",
    "ventricular paced rhythm": "251266004", "junctional rhythm": "29320008",
    "nonspecific st-t changes": "428750005", "nonspecific st-t abnormality": "428750005",
    "nonspecific t wave abnormality": "164934002", "t wave abnormality": "164934002",
    "t wave changes": "164934002", "st depression": "429622005", "st elevation": "164931005",
    "left atrial abnormality": "253352002", "right atrial abnormality": "253339007",
    "left atrial enlargement": "67741000119109", "early repolarization": "428417006",
    "poor r wave progression": "365413008", "ventricular tachycardia": "164895002",
    "supraventricular tachycardia": "426761007", "ventricular bigeminy": "11157007",
    "atrial bigeminy": "251173003", "wpw pattern": "74390002", "wolff-parkinson-white pattern": "74390002",
}
# Lead-group ST-T lines: "Inferior/lateral ST-T changes are nonspecific" → the phrase they state.
_LEAD_GROUP = re.compile(r"^(?:(?:inferior|lateral|anterior|anterolateral|septal|inferolateral|diffuse|global)"
                         r"[/ ,]*)+\s*(st-t changes|st-t abnormality|t wave changes|st depression|st elevation)"
                         r"(\s+(?:are|is)\s+(?:nonspecific|probably due to .*|may be due to .*|consistent with .*))?$")
_SPLIT = re.compile(r"\s*(?:,|\bwith\b|\band\b|\s-\s)\s*")


@dataclass
class Mapped:
    text: str
    kind: str                              # diagnostic | summary | modifier | unknown
    labels: list[Label] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"text": self.text, "kind": self.kind,
                "labels": [{"snomed": lab.snomed, "name": lab.name, "likelihood": lab.likelihood}
                           for lab in self.labels]}


def normalize(text: str) -> str:
    return " ".join(text.strip().rstrip(".").lower().split())


def map_statement(text: str) -> Mapped:
    """One machine statement line → its labels and kind."""
    line = normalize(text)
    if not line:
        return Mapped(text, "unknown")
    if line in SUMMARIES:
        code = SUMMARIES[line]
        return Mapped(text, "summary", [_label(line, code, 100.0)] if code else [])
    if line in MODIFIERS:
        return Mapped(text, "modifier")
    labels, unknown = [], False
    for clause in _SPLIT.split(line):
        clause = clause.strip(" .;")
        if not clause or clause in MODIFIERS:
            continue
        likelihood, phrase = _unhedged(clause)
        code = PHRASES.get(phrase) or _lead_group(phrase)
        if code is None:
            unknown = True
            continue
        if code not in {lab.snomed for lab in labels}:
            labels.append(_label(phrase, code, likelihood))
    if labels:
        return Mapped(text, "diagnostic", labels)
    return Mapped(text, "unknown" if unknown else "modifier")


@lru_cache(maxsize=1 << 14)
def _line_labels(line: str) -> tuple[Label, ...]:
    """A statement line's labels, once per distinct line (the vocabulary is small; MIMIC-IV-ECG
    repeats its lines across 800k studies)."""
    return tuple(map_statement(line).labels)


def map_report(lines) -> tuple[Label, ...]:
    """All labels of a report's lines, each once (the highest likelihood wins)."""
    best: dict[str, Label] = {}
    for line in lines:
        for lab in _line_labels(line):
            if lab.snomed not in best or (lab.likelihood or 0) > (best[lab.snomed].likelihood or 0):
                best[lab.snomed] = lab
    return tuple(best.values())


def _unhedged(clause: str) -> tuple[float, str]:
    likelihood = 100.0
    clause = clause.strip()
    changed = True
    while changed:
        changed = False
        for hedge, value in HEDGES:
            if clause.startswith(hedge + " "):
                clause, likelihood, changed = clause[len(hedge) + 1:].strip(), min(likelihood, float(value)), True
    return likelihood, clause


def _lead_group(phrase: str) -> str | None:
    m = _LEAD_GROUP.match(phrase)
    if not m:
        return None
    stated, qualifier = m.group(1), (m.group(2) or "").strip()
    if qualifier and "nonspecific" not in qualifier:
        return None       # "… due to hypertrophy / consistent with ischemia": a cause we do not code
    return PHRASES.get("nonspecific st-t changes" if stated.startswith("st-t") else stated)


def _label(text: str, code: str, likelihood: float) -> Label:
    return Label(code=text, snomed=code, name=snomed_names().get(code, text), likelihood=likelihood)

"""Label vocabulary for label QA: categories, a source's vocabulary, and safe distractors.

A distractor is a label of the same source that the record does not have. "Does not have" is
checked conservatively: not the same harmonized code, not the same name, not a name containing
(or contained in) one of the record's label names, and not a specific form of a generic label the
record has ("inferior ischaemia" when the record says "myocardial ischemia"): label tables are flat,
so an answer "no" must not contradict a broader or narrower label that is there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from ..labels import _rows, scp_statements
from ..types import Label, RecordRef

# AHA/ACC/HRS statement categories (Mason et al. 2007), grouped into the categories questions use.
_AHA_GROUP = {"A": "overall", "B": "technical", "C": "rhythm", "D": "rhythm", "E": "rhythm", "F": "rhythm",
              "G": "rhythm", "H": "conduction", "I": "conduction", "J": "axis and voltage", "K": "hypertrophy",
              "L": "ST-T", "M": "infarction", "N": "pacemaker"}
# PTB-XL scp_statements.csv diagnostic classes.
_SCP_CLASS = {"NORM": "overall", "MI": "infarction", "STTC": "ST-T", "CD": "conduction", "HYP": "hypertrophy"}
_GENERIC = ("myocardial", "nonspecific", "non specific")
# Names of one finding, or of findings one implies, across the label tables: never each other's
# distractor (normalized spelling).
_RELATED = (
    {"1st degree av block", "prolonged pr interval", "first degree av block", "i avb"},
    {"left ventricular hypertrophy", "left ventricular high voltage", "high qrs voltage"},
    {"t wave abnormal", "t wave inversion", "nonspecific st t abnormality", "st depression", "st elevation",
     "myocardial ischemia", "t wave abnormality", "st t change"},
    {"premature ventricular contractions", "ventricular ectopics", "premature ventricular contraction",
     "ventricular premature beats"},
    {"premature atrial contraction", "supraventricular premature beats", "atrial premature beats"},
    {"complete left bundle branch block", "left bundle branch block"},
    {"complete right bundle branch block", "right bundle branch block"},
)

# One-way: a record with a finding on the right is also in the rhythm on the left, so that rhythm is
# never offered as absent (sinus bradycardia is a sinus rhythm), while the converse need not hold
# (a sinus rhythm at 70 bpm is rightly not a sinus bradycardia).
_IMPLIED_BY = {
    "sinus rhythm": {"sinus bradycardia", "marked sinus bradycardia", "sinus tachycardia", "sinus arrhythmia",
                     "normal sinus rhythm"},
}


@dataclass(frozen=True)
class VocabEntry:
    key: str          # SNOMED CT id, else the source code
    name: str
    category: str


@lru_cache(maxsize=None)
def _aha_category_by_snomed() -> dict[str, str]:
    letters = {row["code"]: row["category"] for row in _rows("aha_statements.csv") if row["kind"] == "primary"}
    out = {}
    for table in ("aha_snomed_extra.csv", "aha_snomed_utu.csv"):
        for row in _rows(table):
            code = row["AHA_Code"].strip().split("+")[0]
            if code in letters:
                out.setdefault(row["SNOMEDCTCode"].strip(), _AHA_GROUP[letters[code]])
    return out


def label_key(label: Label) -> str:
    return label.snomed or label.code


def label_category(label: Label, source: str) -> str:
    """rhythm, conduction, infarction, ST-T, hypertrophy, axis and voltage, overall, pacemaker, … or other."""
    if source == "ptbxl" and label.code in scp_statements():
        row = scp_statements()[label.code]
        if row.get("rhythm"):
            return "rhythm"
        if row.get("diagnostic_class") in _SCP_CLASS:
            return _SCP_CLASS[row["diagnostic_class"]]
        return "morphology"
    return _aha_category_by_snomed().get(label.snomed or "", "other")


def vocabulary(refs: list[RecordRef]) -> tuple[VocabEntry, ...]:
    """The named labels seen in ``refs`` (one source), one entry per name, in a stable order."""
    seen: dict[str, VocabEntry] = {}
    for ref in refs:
        for lab in ref.labels:
            if lab.name and _norm(lab.name) not in seen:
                seen[_norm(lab.name)] = VocabEntry(label_key(lab), lab.name, label_category(lab, ref.source))
    return tuple(sorted(seen.values(), key=lambda e: (e.category, _norm(e.name))))


def record_entries(ref: RecordRef, confident_only: bool = False) -> list[VocabEntry]:
    """The record's named labels, one per name, in the source's order. ``confident_only``: without
    hedged ones (a likelihood strictly between 0 and 100: PTB-XL's "possible" statements, MIMIC's
    "Possible …", "Consider …"), which an answer must not state as plainly present; hedged labels
    still count as the record's own, so they are never offered as absent."""
    out: dict[str, VocabEntry] = {}
    for lab in ref.labels:
        hedged = lab.likelihood is not None and 0 < lab.likelihood < 100
        if lab.name and not (confident_only and hedged):
            out.setdefault(_norm(lab.name), VocabEntry(label_key(lab), lab.name, label_category(lab, ref.source)))
    return list(out.values())


def distractors(vocab: tuple[VocabEntry, ...], ref: RecordRef) -> list[VocabEntry]:
    """Vocabulary entries that are safely absent from ``ref``: concepts its source annotated
    exhaustively for it (``ref.coverage``; none when the source declares none), that it lacks."""
    if not ref.coverage:
        return []
    own = record_entries(ref)
    keys = {e.key for e in own}
    names = [_norm(e.name) for e in own]
    return [e for e in vocab if e.key in ref.coverage and e.key not in keys
            and not any(_related(_norm(e.name), n) for n in names)
            and not _IMPLIED_BY.get(_norm(e.name), set()).intersection(names)]


def _norm(name: str) -> str:
    name = name.lower().replace("ischaemia", "ischemia").replace("-", " ")
    return " ".join(re.sub(r"[^\w ]", " ", name).split())


def _related(a: str, b: str) -> bool:
    if f" {a} " in f" {b} " or f" {b} " in f" {a} ":
        return True
    if any(a in group and b in group for group in _RELATED):
        return True
    head_a, head_b = a.split()[-1], b.split()[-1]
    generic = a.startswith(_GENERIC) or b.startswith(_GENERIC) or len(a.split()) == 1 or len(b.split()) == 1
    return head_a == head_b and generic

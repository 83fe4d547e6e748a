"""Report text per profile: one set of report lines in, the text a corpus family expects out.

Profiles (facts of the published corpora, see docs/target-corpora):
- ``default``: lines as sentences, each ending in a period, joined by spaces.
- ``anyecg``:  ``"Report: " + ", ".join(lines)`` with nothing cleaned.
- ``meit``:    ``". ".join(lines)``, EKG→ECG, end markers (``*``, ``=``, ``-``) stripped, lower-cased.
- ``ecgchat``: warning/quality lines dropped, lower-cased, markers removed, abbreviations expanded
  on word boundaries (``faithful: true`` reproduces the original plain-substring replacement,
  quirks included).
"""

from __future__ import annotations

import re

PROFILES = ("default", "anyecg", "meit", "ecgchat")

# Machine statements about recording quality rather than the heart (dropped by ECG-Chat).
ECGCHAT_DROPPED = (
    "--- warning: data quality may affect interpretation ---",
    "analysis error",
    "conduction defect",
    "*** report made without knowing patient's sex ***",
    "--- suspect arm lead reversal",
    "--- pediatric criteria used ---",
    "lead(s) unsuitable for analysis:",
    "pacer detection suspended due to external noise-review advised",
)
# Order matters for the faithful (substring) mode: it is the original order.
ECGCHAT_ABBREVIATIONS = (
    ("rbbb", "right bundle branch block"),
    ("lbbb", "left bundle branch block"),
    ("lvh", "left ventricle hypertrophy"),
    ("mi", "myocardial infarction"),
    ("lafb", "left anterior fascicular block"),
    ("pvc(s)", "ventricular premature complex"),
    ("pvcs", "ventricular premature complex"),
    ("pac(s)", "atrial premature complex"),
    ("pacs", "atrial premature complex"),
)


def render_report(lines: list[str], profile: str = "default", faithful: bool = False) -> str:
    lines = [line.strip() for line in lines if line and line.strip()]
    if profile == "anyecg":
        return "Report: " + ", ".join(lines)
    if profile == "meit":
        text = ". ".join(lines).replace("EKG", "ECG").replace("ekg", "ecg")
        return text.strip("*= -").lower()
    if profile == "ecgchat":
        return _ecgchat(lines, faithful)
    if profile != "default":
        raise ValueError(f"unknown report profile {profile!r}; use one of {', '.join(PROFILES)}")
    return " ".join(_sentence(line) for line in lines)


def _sentence(line: str) -> str:
    line = line.rstrip(" .")
    return (line[:1].upper() + line[1:] + ".") if line else ""


def _ecgchat(lines: list[str], faithful: bool) -> str:
    kept = [line for line in lines if not any(bad in line.lower() for bad in ECGCHAT_DROPPED)]
    text = " ".join(kept).lower()
    for marker in ("---", "***", " - age undetermined"):
        text = text.replace(marker, "")
    for short, long in ECGCHAT_ABBREVIATIONS:
        if faithful:
            long = "light bundle branch block" if short == "lbbb" else long  # the original's typo
            text = text.replace(short, long)
        else:
            text = re.sub(rf"(?<![\w(]){re.escape(short)}(?![\w)])", long, text)
    return " ".join(text.split())


def report_in(ref, languages) -> bool:
    """Whether the record's written report may be emitted: it has one, in one of ``languages``
    (None: any language, as written)."""
    return bool(ref.report_lines) and (languages is None or ref.report_lang in languages)


def statement_lines(ref, labels_as_report: bool = True, languages=("en",)) -> list[str]:
    """The record's report statements where they are in one of ``languages``; else (no report, or
    one in another language) its labels as text, which are English: an English profile never emits
    a German or Swedish report."""
    if report_in(ref, languages):
        return list(ref.report_lines)
    return label_lines(ref.labels) if labels_as_report else []


def label_lines(labels, names: bool = True) -> list[str]:
    """Label-to-text for sources without report text (Chapman, SPH, CPSC): one line per label."""
    seen, out = set(), []
    for lab in labels:
        text = (lab.name or lab.code) if names else lab.code
        if text not in seen:
            seen.add(text)
            out.append(text[:1].upper() + text[1:])
    return out

"""Report text helpers: language of a PTB-XL report."""

from __future__ import annotations

import re

# Word stems that only occur in one of the three languages of the PTB-XL interpreters. Reports are
# lower-case; German umlauts appear upper-case inside words ("unbestÄtigter"), "#" stands for ü.
# Words shared by the languages ("sinus", "normal", "pacemaker", "ekg") are deliberately absent.
_STEMS = {
    "de": ("rhythmus", "arrhythmie", "sonst", "normales", "lagetyp", "linkstyp", "rechtstyp", "steil", "typ ",
           "bericht", "mÖglich", "wahrscheinlich", "niederspannung", "periphere", "abnorm ", "infarkt",
           "schenkelblock", "hemiblock", "vorhof", "verdacht", "bradykardie", "tachykardie", "schaden", "nicht",
           "auszuschliessen", "extrasystole(n)", "ventrikulÄre", "unspezifisch", "stÖrung", "verÄnderung",
           "hebung", "senkung", "progression", " und ", " bei ", " fÜr", "f#r", " neg ", " mit ", "hypertrophie",
           "ueber", "Über", "linksanterior", "linksposterior", "schlechte"),
    "sv": ("rytm", "normalt", " och ", "fÖrÄndring", "sÅsom", "hÖg", " vid ", "extrasystoli", "interpolerade",
           "fÖrmak", "vÄnster", "hÖger", "kammar", "grÄns", "avvikande", "ospecifik", "fÖrlÄng", "skÄnkel",
           "misstÄnk", "sannolik", "ingen ", " pÅ ", "ischemi", "tecken", "lÅg"),
    "en": ("rhythm", "fibrillation", "block", "bundle", "branch", "possible", "probable", "infarction",
           "premature", "complex", "ventricular", "changes", "borderline", "deviation", "voltage", " the ",
           "with ", "trace", "requested", "undetermined", "consider", "abnormality", "enlargement", "atrial",
           "ischemia", "ischemic", "myocardial"),
}
# "rhythm" is inside "rhythmus": strip German matches before counting English ones.
# Stems of one language inside another's words: German "rhythmus" holds "rhythm", English "ischemia"
# holds Swedish "ischemi". Those words are blanked before the other language's stems are counted.
_OVERLAPS = {"en": ("rhythmus", "arrhythmie"), "sv": ("ischemia", "ischemic")}


def detect_report_language(text: str | None) -> str | None:
    """'de', 'en' or 'sv' for a PTB-XL report; None when empty or undecidable."""
    if not text or not text.strip():
        return None
    # Cardiologists appended remarks ("Edit: NORM 100, schlechte Qualität") in their own language.
    padded = f" {text.split('Edit:')[0]} "
    scores = {}
    for lang, stems in _STEMS.items():
        probe = padded
        for overlap in _OVERLAPS.get(lang, ()):
            probe = probe.replace(overlap, " ")
        scores[lang] = sum(probe.count(stem) for stem in stems)
    best = max(scores.values())
    winners = [lang for lang, s in scores.items() if s == best]
    return winners[0] if best and len(winners) == 1 else None


# --- cleaning a PTB-XL report into statements --------------------------------------------------------------

_EDIT = re.compile(r"\s*\bedit:.*$", re.IGNORECASE | re.DOTALL)          # the annotators' later remarks
_UNCONFIRMED = re.compile(r"\bunbest(?:ä|Ä|ae)tigter\s+bericht\b\.?", re.IGNORECASE)
_VERSION = re.compile(r"(?<![\w.,])\d\.\d\d(?![\w.,])")                # e.g. "4.46": a program version
# Lower-case in the release; written as cardiologists write them. Leads: aVR aVL aVF, V1–V6.
_ACRONYMS = {"ecg": "ECG", "ekg": "EKG", "st": "ST", "st-t": "ST-T", "av": "AV", "a-v": "A-V", "qrs": "QRS",
             "qt": "QT", "qtc": "QTc", "pr": "PR", "lvh": "LVH", "rvh": "RVH", "rbbb": "RBBB", "lbbb": "LBBB",
             "irbbb": "IRBBB", "ilbbb": "ILBBB", "lafb": "LAFB", "lpfb": "LPFB", "lahb": "LAHB", "lphb": "LPHB",
             "wpw": "WPW", "lae": "LAE", "rae": "RAE", "avr": "aVR", "avl": "aVL", "avf": "aVF", "ii": "II",
             "iii": "III", "qs": "QS", "rsr": "RSR", "pvc": "PVC", "pac": "PAC", "svt": "SVT", "iv": "IV",
             "lv": "LV", "rv": "RV"}
_WORD = re.compile(r"(?<![\w-])(st-t|a-v|[a-z]+)(?![\w-])")
_LEAD_V = re.compile(r"(?<![\w])v([1-6])\b")
_WAVE = re.compile(r"\b([pqrstu])(?= waves?\b)")
_LEAD_I = re.compile(r"(?<=\bin )i(?=[,. ]|$)|(?<=, )i(?=[,. ]|$)|(?<=\band )i(?=[,. ]|$)")


def clean_report(text: str | None) -> tuple[str, ...]:
    """A PTB-XL report as statements: the annotators' ``Edit:`` remarks, "unbestätigter bericht"
    (unconfirmed report) and program-version numbers dropped, whitespace runs folded, split at
    sentence ends, and acronyms and lead names in their usual case (ST, AV, QRS, LVH, aVL, V2)."""
    if not text:
        return ()
    text = _VERSION.sub(" ", _UNCONFIRMED.sub(" ", _EDIT.sub("", text)))
    text = " ".join(text.split())
    statements = [s.strip(" .;") for s in re.split(r"(?<=[a-zäöüÄÖÜ)\d])\.\s+|\.$", text)]
    return tuple(case_terms(s) for s in statements if s and any(c.isalpha() for c in s))


def case_terms(statement: str) -> str:
    """Acronyms and lead names in their usual case: "st depression in v2" → "ST depression in V2"."""
    out = _WORD.sub(lambda m: _ACRONYMS.get(m.group(1), m.group(1)), statement)
    out = _LEAD_V.sub(lambda m: f"V{m.group(1)}", out)
    out = _WAVE.sub(lambda m: m.group(1).upper(), out)
    return _LEAD_I.sub("I", out)

"""Report text helpers: language of a PTB-XL report."""

from __future__ import annotations

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
           "with ", "trace", "requested", "undetermined", "consider", "abnormality", "enlargement", "atrial"),
}
# "rhythm" is inside "rhythmus": strip German matches before counting English ones.
_OVERLAPS = {"en": ("rhythmus", "arrhythmie")}


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

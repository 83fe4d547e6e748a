"""PHI-like strings in free text (a screen, not a de-identification tool)."""

from __future__ import annotations

import re

PATTERNS = {
    "phone number": re.compile(r"(?<!\d)(?:\+?\d{1,2}[\s.-])?\(?\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}(?!\d)"),
    "email address": re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.]+\b"),
    "SSN-like number": re.compile(r"(?<!\d)\d{3}-\d{2}-\d{4}(?!\d)"),
    "personal name": re.compile(r"\b(?:Mr|Mrs|Ms|Miss|Dr)\.?\s+[A-Z][a-z]+|\b[Pp]atient name\s*[:=]"),
    "medical record number": re.compile(r"\bMRN\s*[:#]?\s*\d{5,}"),
}


def phi_hits(text: str) -> list[tuple[str, str]]:
    """(kind, matched text) for every PHI-like string in ``text``."""
    return [(kind, m.group(0)) for kind, rx in PATTERNS.items() for m in rx.finditer(text)]

"""Lead names: one canonical spelling, looked up by name, never by position."""

from __future__ import annotations

from functools import lru_cache

CANONICAL_LEADS: tuple[str, ...] = (
    "I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6",
)
_CANON_BY_UPPER = {name.upper(): name for name in CANONICAL_LEADS}
# Spellings seen in the releases: PTB-XL "AVR", MIT-BIH "MLII" (modified limb lead II), "D3".
_ALIASES = {"MLI": "I", "MLII": "II", "MLIII": "III", "D1": "I", "D2": "II", "D3": "III"}


@lru_cache(maxsize=1024)
def canonical_lead(name: str) -> str:
    """Return the canonical spelling of a lead name; unknown names are returned stripped, unchanged."""
    key = name.strip().upper()
    if key in _ALIASES:
        return _ALIASES[key]
    return _CANON_BY_UPPER.get(key, name.strip())


def canonical_order(leads: list[str] | tuple[str, ...]) -> list[int]:
    """Indices that put ``leads`` (already canonical) into I II III aVR aVL aVF V1–V6 order.

    Leads outside the standard twelve keep their relative order after them.
    """
    rank = {name: i for i, name in enumerate(CANONICAL_LEADS)}
    return sorted(range(len(leads)), key=lambda i: (rank.get(leads[i], len(rank)), i))


def require_canonical(name: str) -> str:
    """``name`` if it is one of the twelve canonical lead names, else ValueError (for validators)."""
    if name not in CANONICAL_LEADS:
        raise ValueError(f"unknown lead {name!r}; use one of {' '.join(CANONICAL_LEADS)}")
    return name

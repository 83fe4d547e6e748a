"""The PhysioNet annotation table: beat, non-beat and rhythm codes with their descriptions.

``physionet_annotations.csv`` is the table of https://archive.physionet.org/physiobank/annotations.shtml
("Beat annotations", "Non-beat annotations", "Rhythm annotations"), transcribed as data. Questions
name beats as this table does (A = "Atrial premature beat"), never as wfdb-python's own table does
(wfdb 4.3 says "Atrial premature contraction" for A). The N row drops the table's display note
("displayed as · by the PhysioBank ATM …"). ``!`` (ventricular flutter wave) is a non-beat code in
this table, so it is never a neighbour beat.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from ..errors import EcgCorpusError


@dataclass(frozen=True)
class AnnotationCode:
    kind: str          # "beat" | "non-beat" | "rhythm"
    code: str          # "A", "+", "(AFIB" …
    description: str


@lru_cache(maxsize=None)
def annotation_table() -> dict[str, AnnotationCode]:
    text = resources.files("ecgcorpus.localize").joinpath("physionet_annotations.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(text.splitlines())
    return {row["code"]: AnnotationCode(row["kind"], row["code"], row["description"]) for row in rows}


@lru_cache(maxsize=None)
def beat_codes() -> frozenset[str]:
    return frozenset(c.code for c in annotation_table().values() if c.kind == "beat")


def is_beat(symbol: str) -> bool:
    return symbol in beat_codes()


def beat_name(symbol: str) -> str:
    """The PhysioNet description of a beat code; an error for anything that is not a beat code."""
    entry = annotation_table().get(symbol)
    if entry is None or entry.kind != "beat":
        known = " ".join(sorted(beat_codes()))
        raise EcgCorpusError(f"{symbol!r} is not a PhysioNet beat annotation code (beat codes: {known})")
    return entry.description


def rhythm_name(code: str) -> str:
    """The description of a rhythm code, given with or without its leading '(' ("AFIB" or "(AFIB")."""
    key = code if code.startswith("(") else f"({code}"
    entry = annotation_table().get(key)
    if entry is None or entry.kind != "rhythm":
        known = " ".join(sorted(c.code[1:] for c in annotation_table().values() if c.kind == "rhythm"))
        raise EcgCorpusError(f"{code!r} is not a PhysioNet rhythm annotation code (rhythm codes: {known})")
    return entry.description

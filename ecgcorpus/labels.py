"""Label harmonization: every source's codes → SNOMED CT concept ids + readable names.

Tables (package data under ``ecgcorpus/data/``, provenance in ``data/README.md``):
PhysioNet/CinC 2021 dx mappings (SNOMED names), Chapman's ConditionNames_SNOMED-CT, the
UTU AHA→SNOMED table, and our own small tables for SCP-ECG, CPSC2018 and the AHA statements.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from importlib import resources

from .types import Label

# "normal ECG" has no row in the challenge tables; 164854000 is SNOMED CT's "Electrocardiogram normal".
_EXTRA_SNOMED_NAMES = {"164854000": "normal ECG"}


def _rows(name: str) -> list[dict[str, str]]:
    text = resources.files("ecgcorpus.data").joinpath(name).read_text(encoding="utf-8-sig")
    return list(csv.DictReader(text.splitlines()))


@lru_cache(maxsize=None)
def snomed_names() -> dict[str, str]:
    """SNOMED CT id → readable name (challenge tables first, then Chapman's condition names)."""
    names = dict(_EXTRA_SNOMED_NAMES)
    for row in _rows("chapman_condition_names_snomed.csv"):
        names.setdefault(row["Snomed_CT"].strip(), _first(row, "Full Name", "FullName").strip())
    for table in ("cinc2021_dx_mapping_scored.csv", "cinc2021_dx_mapping_unscored.csv"):
        for row in _rows(table):
            names[row["SNOMEDCTCode"].strip()] = row["Dx"].strip()
    return names


def _first(row: dict[str, str], *keys: str) -> str:
    for key in keys:
        if key in row:
            return row[key]
    raise KeyError(keys[0])


def snomed_label(code: str, description: str | None = None) -> Label:
    """A label whose source code already is a SNOMED id (Chapman/Ningbo, CinC re-releases)."""
    name = snomed_names().get(code)
    return Label(code=code, snomed=code if name else None, name=name or description)


# --- PTB-XL: SCP-ECG statements ------------------------------------------------------------------

@lru_cache(maxsize=None)
def scp_statements() -> dict[str, dict[str, str]]:
    """SCP code → its scp_statements.csv row (description, diagnostic class/subclass, kind flags)."""
    out = {}
    for row in _rows("ptbxl_scp_statements.csv"):
        code = row.pop("")
        out[code] = row
    return out


@lru_cache(maxsize=None)
def _scp_to_snomed() -> dict[str, str | None]:
    return {row["scp_code"]: (row["snomed"] or None) for row in _rows("scp_snomed.csv")}


def scp_label(code: str, likelihood: float | None) -> Label | None:
    """A PTB-XL scp_codes entry as a Label; None if the code is not an SCP statement."""
    stmt = scp_statements().get(code)
    if stmt is None:
        return None
    snomed = _scp_to_snomed().get(code)
    name = snomed_names().get(snomed) if snomed else None
    return Label(code=code, snomed=snomed, name=name or stmt["description"], likelihood=likelihood)


# --- CPSC2018: nine classes ------------------------------------------------------------------------

@lru_cache(maxsize=None)
def cpsc_classes() -> dict[str, dict[str, str]]:
    return {row["class"]: row for row in _rows("cpsc2018_classes.csv")}


def cpsc_label(cls: str) -> Label | None:
    row = cpsc_classes().get(cls)
    if row is None:
        return None
    return Label(code=row["abbreviation"], snomed=row["snomed"], name=snomed_names().get(row["snomed"], row["name"]))


def cpsc_abbreviation_label(abbreviation: str) -> Label | None:
    """Early CinC 2020 headers write the CPSC abbreviations (``#Dx: RBBB``)."""
    for row in cpsc_classes().values():
        if row["abbreviation"] == abbreviation:
            return cpsc_label(row["class"])
    return None


# --- SPH: AHA/ACC/HRS statements -------------------------------------------------------------------

@lru_cache(maxsize=None)
def aha_statements() -> dict[str, dict[str, str]]:
    return {row["code"]: row for row in _rows("aha_statements.csv")}


@lru_cache(maxsize=None)
def _aha_to_snomed() -> dict[str, str]:
    table = {row["AHA_Code"].strip(): row["SNOMEDCTCode"].strip() for row in _rows("aha_snomed_extra.csv")}
    table.update({row["AHA_Code"].strip(): row["SNOMEDCTCode"].strip() for row in _rows("aha_snomed_utu.csv")})
    return table


def aha_label(statement: str) -> Label | None:
    """One SPH statement (``60``, ``60+310``) → Label; None if a code is not an AHA statement."""
    primary, *modifiers = statement.split("+")
    stmts = aha_statements()
    if primary not in stmts or stmts[primary]["kind"] != "primary":
        return None
    if any(m not in stmts or stmts[m]["kind"] != "modifier" for m in modifiers):
        return None
    table = _aha_to_snomed()
    snomed = table.get(statement) or table.get(primary)
    description = ", ".join([stmts[primary]["description"]] + [stmts[m]["description"].lower() for m in modifiers])
    return Label(code=statement, snomed=snomed, name=snomed_names().get(snomed) if snomed else description)


# --- Chapman figshare: rhythm and beat acronyms ------------------------------------------------------

@lru_cache(maxsize=None)
def chapman_acronyms() -> dict[str, tuple[str, str]]:
    """Chapman acronym → (SNOMED id, full name); the first row wins where acronyms share a code."""
    out = {}
    for row in _rows("chapman_condition_names_snomed.csv"):
        acronym = _first(row, "Acronym Name", "AcronymName").strip()
        out.setdefault(acronym, (row["Snomed_CT"].strip(), _first(row, "Full Name", "FullName").strip()))
    return out


def chapman_acronym_label(acronym: str) -> Label | None:
    hit = chapman_acronyms().get(acronym)
    if hit is None:
        return None
    snomed, full_name = hit
    return Label(code=acronym, snomed=snomed, name=snomed_names().get(snomed, full_name))


# --- what a source's labels cover exhaustively ----------------------------------------------------------
# A label's key is its SNOMED CT id, else its source code (as label QA keys it).

def _key(label: Label | None) -> str | None:
    return None if label is None else (label.snomed or label.code)


@lru_cache(maxsize=None)
def scp_coverage() -> tuple[frozenset[str], frozenset[str]]:
    """PTB-XL: (the keys of its diagnostic and form statements, the keys of its rhythm statements)."""
    other, rhythm = set(), set()
    for code, row in scp_statements().items():
        (rhythm if row.get("rhythm") else other).add(_key(scp_label(code, None)))
    return frozenset(other - {None}), frozenset(rhythm - {None})


@lru_cache(maxsize=None)
def cpsc_coverage() -> frozenset[str]:
    """CPSC2018's classes, but "Normal": harmonized as sinus rhythm, its absence does not mean the
    rhythm is not sinus (an I-AVB record is in sinus rhythm, and is not labelled Normal)."""
    return frozenset(_key(cpsc_label(cls)) for cls, row in cpsc_classes().items() if row["abbreviation"] != "Normal")


@lru_cache(maxsize=None)
def chapman_coverage() -> frozenset[str]:
    """Chapman-Shaoxing/Ningbo: every condition of its SNOMED CT list."""
    return frozenset(snomed for snomed, _ in chapman_acronyms().values() if snomed)

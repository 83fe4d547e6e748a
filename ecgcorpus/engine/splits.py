"""Split assignment: patient-disjoint by default, the sources' official splits on request."""

from __future__ import annotations

import hashlib

from ..manifest import SplitPolicy
from ..types import RecordRef


def patient_key(ref: RecordRef) -> str:
    """source + patient id; a record without a patient id is its own patient."""
    return f"{ref.source}|{ref.patient_id}" if ref.patient_id else f"{ref.source}|record|{ref.native_id}"


def _unit_interval(key: str, seed: int) -> float:
    digest = hashlib.sha256(f"{seed}|{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def hashed_split(key: str, ratios: dict[str, float], seed: int) -> str:
    x = _unit_interval(key, seed)
    acc = 0.0
    for name in ("train", "validation", "test"):
        acc += ratios.get(name, 0.0)
        if x < acc:
            return name
    return "train"


def official_split(ref: RecordRef) -> str | None:
    """The split a source's authors recommend, where it has one."""
    if ref.source == "ptbxl" and ref.extra.get("strat_fold"):
        return {9: "validation", 10: "test"}.get(ref.extra["strat_fold"], "train")
    if ref.source == "cpsc2018" and ref.extra.get("official_split"):
        return ref.extra["official_split"] if ref.extra["official_split"] != "validation" else "test"
    return None


def assign_split(ref: RecordRef, policy: SplitPolicy, seed: int) -> str:
    if policy.policy == "official":
        split = official_split(ref)
        if split is not None:
            return split
    return hashed_split(patient_key(ref), policy.ratios, seed)

"""Split assignment: patient-disjoint by default, the sources' official splits on request."""

from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np

from ..manifest import SplitPolicy
from ..record_table import SPLITS, RecordTable
from ..sources import Source
from ..types import RecordRef


def patient_key(ref: RecordRef) -> str:
    """source + patient id; a record without a patient id is its own patient."""
    return f"{ref.source}|{ref.patient_id}" if ref.patient_id else f"{ref.source}|record|{ref.native_id}"


def unit_interval(key: str, seed: int) -> float:
    """A stable place in [0, 1) for ``key`` under ``seed`` (splits; a builder's ``fraction``)."""
    digest = hashlib.sha256(f"{seed}|{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@lru_cache(maxsize=1 << 18)
def _cached_unit_interval(key: str, seed: int) -> float:
    """Per patient (a patient's records share it): one hash per patient, not per record."""
    return unit_interval(key, seed)


def hashed_split(key: str, ratios: dict[str, float], seed: int) -> str:
    x = _cached_unit_interval(key, seed)
    acc = 0.0
    for name in ("train", "validation", "test"):
        acc += ratios.get(name, 0.0)
        if x < acc:
            return name
    return "train"


def assign_splits(table: RecordTable, policy: SplitPolicy, seed: int, source: Source) -> np.ndarray:
    """Each row's split (an index into SPLITS): one hash per patient; under ``policy: official``,
    the source's own split where it gives one."""
    if policy.policy == "official" and type(source).official_split is not Source.official_split:
        return np.array([SPLITS.index(assign_split(ref, policy, seed, source.official_split(ref)))
                         for ref in table.refs()], dtype=np.int8)
    rows, keys = table.patients()
    if not keys:
        return np.zeros(0, np.int8)
    # hashed_split for every patient at once: the same places, the same cumulative bounds
    places = np.array([int.from_bytes(hashlib.sha256(f"{seed}|{key}".encode()).digest()[:8], "big") for key in keys],
                      dtype=np.uint64).astype(np.float64) / 2**64
    per_patient = np.zeros(len(keys), dtype=np.int8)          # "train" past the last bound, as hashed_split
    bound, decided = 0.0, np.zeros(len(keys), dtype=bool)
    for index, name in enumerate(SPLITS):
        bound += policy.ratios.get(name, 0.0)
        now = ~decided & (places < bound)
        per_patient[now], decided = index, decided | now
    return per_patient[rows]


def assign_split(ref: RecordRef, policy: SplitPolicy, seed: int, official: str | None = None) -> str:
    """``official``: the split the record's source recommends (``Source.official_split``), used
    under ``policy: official``; records without one are split by patient."""
    if policy.policy == "official" and official is not None:
        return official
    return hashed_split(patient_key(ref), policy.ratios, seed)

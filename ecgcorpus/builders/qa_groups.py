"""Groups of one patient's ECGs for comparison QA: time order, group sizes, day gaps, findings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from ..seeding import derived_rng
from ..types import RecordRef
from .qa_labels import label_key


def acquired_at(ref: RecordRef) -> datetime | None:
    """The acquisition time (ISO date or date-time, as the sources write it), None if absent or unreadable."""
    if not ref.acquired:
        return None
    try:
        return datetime.fromisoformat(ref.acquired.strip())
    except ValueError:
        return None


def patient_groups(refs: list[RecordRef], min_size: int, max_size: int, seed: int) -> list[tuple[RecordRef, ...]]:
    """Consecutive, non-overlapping windows of each patient's ECGs in time order.

    The window sizes partition the patient's ECGs into parts of [min_size, max_size], drawn from a
    generator seeded by (seed, patient): planning is deterministic and independent of the other
    patients. Only where no such partition exists (e.g. 5 ECGs with sizes 3–4) are the last
    ECGs left out; a patient with fewer than ``min_size`` ECGs has no group.
    """
    patients: dict[tuple[str, str], list[RecordRef]] = {}
    for ref in refs:
        patients.setdefault((ref.key, ref.patient_id), []).append(ref)
    groups = []
    for key in sorted(patients):
        records = sorted(patients[key], key=lambda r: (acquired_at(r), r.record_id))
        rng = derived_rng(seed, key[0], key[1])
        start = 0
        for size in _window_sizes(len(records), min_size, max_size, rng):
            groups.append(tuple(records[start:start + size]))
            start += size
    return groups


def _window_sizes(n: int, lo: int, hi: int, rng: np.random.Generator) -> list[int]:
    """A random partition of n (or of as much of it as fits) into parts of lo..hi."""
    if n < lo:
        return []
    most, fewest = n // lo, -(-n // hi)
    k = int(rng.integers(fewest, most + 1)) if fewest <= most else most
    sizes = [lo] * k
    for _ in range(min(n, k * hi) - k * lo):
        room = [i for i, size in enumerate(sizes) if size < hi]
        sizes[room[int(rng.integers(len(room)))]] += 1
    return sizes


@dataclass(frozen=True)
class Finding:
    key: str      # harmonized code, or the normalized report statement
    text: str     # as shown in answers


def findings_basis(refs: tuple[RecordRef, ...]) -> str | None:
    """'labels' when every ECG has harmonized labels, else 'report' when every ECG has report text."""
    if all(any(lab.name for lab in ref.labels) for ref in refs):
        return "labels"
    if all(ref.report_lines for ref in refs):
        return "report"
    return None


def findings(ref: RecordRef, basis: str) -> list[Finding]:
    out: dict[str, Finding] = {}
    if basis == "labels":
        for lab in ref.labels:
            if lab.name:
                out.setdefault(label_key(lab), Finding(label_key(lab), lab.name))
    else:
        for line in ref.report_lines:
            text = line.strip().rstrip(".").strip()
            if text:
                out.setdefault(" ".join(text.lower().split()), Finding(" ".join(text.lower().split()), text))
    return list(out.values())


"""The same ECG never twice: every scanned record's signal is fingerprinted (``Source.fingerprint``)
and later copies of a signal already met, in another source, under another alias or within one
source, are handled by the manifest's ``dedupe`` policy. The fingerprints also make the plan's
input digest content-based: a same-size edit to a signal file changes it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from ..console import progress_bar
from ..errors import EcgCorpusError, SourceError
from ..record_table import RecordTable
from ..sources import Source
from ..types import RecordRef
from .quarantine import Quarantine


class DuplicateError(EcgCorpusError):
    pass


@dataclass
class Fingerprints:
    first: dict[str, tuple[str, str]] = field(default_factory=dict)   # fingerprint → (source key, record id) met first
    duplicates: list[tuple[RecordRef, str, str]] = field(default_factory=list)   # (copy, its source key, first id)


def fingerprint_table(src: Source, key: str, table: RecordTable, seen: Fingerprints,
                      quarantine: Quarantine, policy: str) -> tuple[RecordTable, str]:
    """The table of the rows kept, and a digest of their fingerprints. Unreadable records are
    quarantined here, at scan (a damaged file is found before any unit runs)."""
    kept, digest = [], hashlib.sha256()
    bar = progress_bar(len(table), f"fingerprinting {key}")
    for row in range(len(table)):
        ref = table.ref(row)
        try:
            fp = src.fingerprint(ref)
        except SourceError as exc:
            quarantine.append({"record_id": ref.record_id, "file": exc.file, "reason": exc.problem,
                               "stage": "scan", "source": key, "config": None})
            continue
        finally:
            if bar is not None and row % 100 == 99:
                bar.update(100)
        digest.update(f"{ref.record_id}:{fp}\n".encode())
        first_key, first = seen.first.setdefault(fp, (key, ref.record_id))
        if (first_key, first) != (key, ref.record_id) and policy != "keep":
            where = "" if first_key == key else f" in {first_key}"
            seen.duplicates.append((ref, key, f"{first}{where}"))
            if policy == "first":
                quarantine.append({"record_id": ref.record_id, "file": ref.path, "stage": "scan", "source": key,
                                   "config": None, "reason": f"duplicate of {first}{where} (the same signal)"})
                continue
        kept.append(row)
    if bar is not None:
        bar.close()
    return (table if len(kept) == len(table) else table.take(np.array(kept, dtype=np.int64))), digest.hexdigest()


def raise_on_duplicates(seen: Fingerprints) -> None:
    """``dedupe: error``: one line naming the first copies found."""
    if seen.duplicates:
        shown = "; ".join(f"{ref.record_id} = {first}" for ref, _, first in seen.duplicates[:5])
        more = f" and {len(seen.duplicates) - 5} more" if len(seen.duplicates) > 5 else ""
        raise DuplicateError(f"the same ECG enters the corpus twice: {shown}{more} (dedupe: error; use "
                             "dedupe: first to keep the first of each)")



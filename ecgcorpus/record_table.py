"""A source's scanned records as a table: planning reads columns, not one object per record.

MIMIC-IV-ECG has 800k records; a RecordRef per record costs seconds and a gigabyte before any
unit runs. A table keeps the records' per-row fields as arrays and builds a row's RecordRef when
it is needed: when a unit runs, or when a builder plans records together (pairs, groups).

Rows are grouped: the records of a group share everything a builder's ``skip_reason`` looks at
(report, labels, language, leads, rate, length), so planning asks once per group. A table built
from refs (``RefTable``, every source but the columnar ones) has one row per group.

The engine fills what it decides at planning with ``set_planned``: the manifest's key of the
source, each row's split, each group's label coverage.
"""

from __future__ import annotations

import hashlib

import numpy as np

from .types import RecordRef

SPLITS = ("train", "validation", "test")


class RecordTable:
    """Base of the tables. Subclasses implement ``__len__``, ``groups``, ``ref``, ``take``,
    ``patients`` and ``set_planned`` (which fills ``source_key`` and ``splits``)."""

    source: str                   # the source's name (its records' ids start with it)
    source_key: str | None = None
    splits: np.ndarray | None = None      # each row's split, an index into SPLITS (int8), from set_planned

    def __len__(self) -> int:
        raise NotImplementedError

    @property
    def groups(self) -> np.ndarray:
        """Each row's group (int32)."""
        raise NotImplementedError

    def ref(self, row: int) -> RecordRef:
        raise NotImplementedError

    def take(self, rows: np.ndarray) -> "RecordTable":
        """The table of these rows, in this order (what a unit carries to its worker)."""
        raise NotImplementedError

    def patients(self) -> tuple[np.ndarray, list[str]]:
        """(each row's index into the keys, the distinct patient keys: ``splits.patient_key``)."""
        raise NotImplementedError

    def set_planned(self, source_key: str, splits: np.ndarray, coverage: list, records_root: str) -> None:
        """``splits``: per row, an index into SPLITS; ``coverage``: per group (``Source.label_coverage``)."""
        raise NotImplementedError

    # -- built on the above ----------------------------------------------------------------------
    def refs(self, rows=None) -> list[RecordRef]:
        rows = range(len(self)) if rows is None else rows
        return [self.ref(int(i)) for i in rows]

    def group_rows(self) -> np.ndarray:
        """The first row of each group (a group's ref stands for all of its rows)."""
        groups = self.groups
        first = np.full(int(groups.max()) + 1 if len(groups) else 0, -1, dtype=np.int64)
        first[groups[::-1]] = np.arange(len(groups) - 1, -1, -1)      # the last write is the first row
        return first

    def group_refs(self) -> list[RecordRef]:
        """One ref per group, standing for its rows (what ``Builder.skip_reason`` is asked about)."""
        return self.refs(self.group_rows())

    def record_ids(self, rows=None) -> list[str]:
        return [ref.record_id for ref in self.refs(rows)]

    def files(self, rows=None) -> list[str]:
        """Each row's ``path`` (its main file, or its record path without extension)."""
        return [ref.path for ref in self.refs(rows)]

    def shapes(self, rows=None) -> set[tuple[tuple[str, ...], float, int]]:
        """The distinct (leads, rate, length) of these rows."""
        return {(ref.leads, ref.fs, ref.n_samples) for ref in self.refs(rows)}

    def required_files(self):
        """(each row's path relative to the source's root as pyarrow strings, the suffix that
        makes it the file that must exist, the quarantine reason when that file is absent),
        or None: the source finds a missing file when it loads the record."""
        return None

    def digest_rows(self) -> str:
        """A digest of which records the table holds, in order (units are named by it)."""
        return hashlib.sha256("\n".join(self.record_ids()).encode()).hexdigest()


class RefTable(RecordTable):
    """A table over RecordRefs already built (sources scanned record by record)."""

    def __init__(self, source: str, refs: list[RecordRef]):
        self.source = source
        self._refs = refs

    def __len__(self) -> int:
        return len(self._refs)

    @property
    def groups(self) -> np.ndarray:
        return np.arange(len(self._refs), dtype=np.int32)

    def ref(self, row: int) -> RecordRef:
        return self._refs[row]

    def refs(self, rows=None) -> list[RecordRef]:
        return list(self._refs) if rows is None else [self._refs[int(i)] for i in rows]

    def take(self, rows) -> "RefTable":
        table = RefTable(self.source, self.refs(rows))
        table.source_key = self.source_key
        table.splits = None if self.splits is None else self.splits[np.asarray(rows, dtype=np.int64)]
        return table

    def patients(self) -> tuple[np.ndarray, list[str]]:
        from .engine.splits import patient_key

        return np.arange(len(self._refs)), [patient_key(ref) for ref in self._refs]

    def set_planned(self, source_key: str, splits: np.ndarray, coverage: list, records_root: str) -> None:
        from .engine.portable import relative_to

        self.source_key, self.splits = source_key, np.asarray(splits, dtype=np.int8)
        for ref, split, cover in zip(self._refs, splits, coverage):
            ref.planned(source_key=source_key, split=SPLITS[split], coverage=cover,
                        record_path=ref.record_path or relative_to(ref.path, records_root))

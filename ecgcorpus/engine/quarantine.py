"""The quarantine of a plan: every record left out, with its reason, one line per record when written.

Many records with one reason (800k MIMIC-IV-ECG studies whose files are absent, a builder declining
every study without a report) are held as a block: the table rows and the shared fields, expanded
into entries only when written. Counts by stage, config and reason come from the blocks directly.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from ..record_table import RecordTable

SORT_FIELDS = ("source", "record_id", "config", "reason")


def sort_key(entry: dict) -> tuple:
    return tuple(entry.get(name) or "" for name in SORT_FIELDS)


@dataclass
class QuarantineBlock:
    """Rows of one table quarantined for one reason. ``file_suffix``: appended to each record's
    path to name the file (".hea": the missing header); otherwise the record's path."""

    table: RecordTable | None
    rows: np.ndarray
    reason: str
    stage: str
    source: str
    config: str | None
    file_suffix: str = ""
    ids: object = None          # once pickled: the record ids and files (pyarrow strings), the table dropped
    files: object = None

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def fields(self) -> dict:
        return {"reason": self.reason, "stage": self.stage, "source": self.source, "config": self.config}

    def __getstate__(self) -> dict:
        """Pickled (a stored plan) as its ids and files, not the table they came from (800k rows of
        MIMIC-IV-ECG with their measurements)."""
        state = dict(self.__dict__)
        if self.table is not None:
            import pyarrow as pa

            state["table"], state["rows"] = None, np.arange(len(self.rows))
            state["ids"] = pa.array(self.table.record_ids(self.rows), pa.string())
            state["files"] = pa.array(self.table.files(self.rows), pa.string())
        return state

    def entries(self, limit: int | None = None) -> Iterator[dict]:
        """The block's entries, in record id order."""
        rows = self.rows if limit is None else self.rows[:limit]
        if self.table is None:                     # unpickled: ids and files
            ids, files = self.ids.take(rows).to_pylist(), self.files.take(rows).to_pylist()
        else:
            ids, files = self.table.record_ids(rows), self.table.files(rows)
        for i in sorted(range(len(ids)), key=ids.__getitem__):
            yield {"record_id": ids[i], "file": files[i] + self.file_suffix, **self.fields}


class Quarantine:
    """Loose entries (dicts: record_id, file, reason, stage, source, config) and blocks."""

    def __init__(self):
        self.entries: list[dict] = []
        self.blocks: list[QuarantineBlock] = []

    def append(self, entry: dict) -> None:
        self.entries.append(entry)

    def extend(self, entries: Iterable[dict]) -> None:
        self.entries.extend(entries)

    def add_rows(self, table: RecordTable, rows: np.ndarray, reason: str, stage: str, source: str,
                 config: str | None, file_suffix: str = "") -> None:
        if len(rows):
            self.blocks.append(QuarantineBlock(table, np.asarray(rows), reason, stage, source, config, file_suffix))

    def __len__(self) -> int:
        return len(self.entries) + sum(len(block) for block in self.blocks)

    def __iter__(self) -> Iterator[dict]:
        yield from self.entries
        for block in self.blocks:
            yield from block.entries()

    def count(self, where: Callable[[dict], bool]) -> int:
        """Entries whose stage, reason, source and config pass ``where`` (blocks are not expanded)."""
        return sum(1 for e in self.entries if where(e)) + sum(len(b) for b in self.blocks if where(b.fields))

    def first(self, where: Callable[[dict], bool], n: int) -> list[dict]:
        """The first ``n`` such entries, in sorted order."""
        chosen = [e for e in self.entries if where(e)]
        for block in self.blocks:
            if where(block.fields):
                chosen += block.entries(limit=n)
        return sorted(chosen, key=sort_key)[:n]

    def sorted(self, extra: Iterable[dict] = ()) -> Iterator[dict]:
        """Every entry and ``extra``, in (source, record id, config, reason) order: the sorted
        loose entries merged with each block's, without a list of all of them."""
        loose = sorted([*self.entries, *extra], key=sort_key)
        return heapq.merge(loose, *(block.entries() for block in self.blocks), key=sort_key)

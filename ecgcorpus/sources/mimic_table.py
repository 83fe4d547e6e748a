"""MIMIC-IV-ECG's records as a table (see ``record_table``): the record list joined with
machine_measurements on study_id, 800k studies held in arrays. Studies with the same report share a
group; a report is mapped to labels once, when a record of its group first needs it."""

from __future__ import annotations

from concurrent.futures import Future

import numpy as np

from ..leads import CANONICAL_LEADS
from ..record_table import SPLITS, RecordTable
from ..statements import map_report
from ..types import RecordRef
from .mimic_csv import LINE_SEPARATOR, Measurements, RecordList


SHAPE = (CANONICAL_LEADS, 500.0, 5000)     # every study: 12 leads, 10 s at 500 Hz (leads, rate, samples)


def _report(text: str | None) -> tuple[str | None, tuple[str, ...], tuple]:
    """(report text, statement lines, labels) of a report's joined columns (None: no measurements
    row), made once per distinct report and shared by the studies that have it."""
    lines = tuple(filter(None, map(str.strip, (text or "").split(LINE_SEPARATOR))))
    return ("\n".join(lines) or None), lines, map_report(lines)


def _compact(groups: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """(the groups some row has, each row's group renumbered among them: int32)."""
    used = np.flatnonzero(np.bincount(groups, minlength=n_groups))
    if len(used) == n_groups:
        return used, groups.astype(np.int32)
    renumber = np.zeros(n_groups, dtype=np.int32)
    renumber[used] = np.arange(len(used))
    return used, renumber[groups]


class MimicTable(RecordTable):
    """MIMIC-IV-ECG studies as columns; a group is a distinct report (and whether the study has a
    machine_measurements row at all)."""

    source = "mimic"

    def __init__(self, prefix: str, records: RecordList, measurements: Measurements | None, at: np.ndarray | None):
        self.prefix = prefix                     # the root, with a trailing separator
        self.records = records
        self.measurements, self.at = measurements, at    # each row's measurements row (−1: none)
        self._pending: Future | None = None      # the measurements, while a thread still reads them
        self._groups: np.ndarray | None = None   # each row's report group, made when first needed
        self.reports: list[str | None] = []      # per group: its report's columns' text (None: no measurements row)
        self._mapped: dict[int, tuple] = {}      # group → ``_report``, mapped when first needed
        self.coverage: list | None = None
        self._group_refs: list[RecordRef] | None = None

    @classmethod
    def join(cls, prefix: str, records: RecordList, measurements) -> "MimicTable":
        """The studies with their measurements rows; a row's values are looked up when its ref is
        built (joining 800k rows' columns up front would copy them all). ``measurements`` may be a
        Future (read in a thread): joined when first needed."""
        if isinstance(measurements, Future):
            table = cls(prefix, records, None, None)
            table._pending = measurements
            return table
        if measurements is None or not len(measurements.study):
            return cls(prefix, records, None, np.full(len(records.study), -1))
        return cls(prefix, records, measurements, measurements.rows_of(records.study))

    def _join_pending(self) -> None:
        if self._pending is not None:
            joined = MimicTable.join(self.prefix, self.records, self._pending.result())
            self._pending = None
            self.measurements, self.at = joined.measurements, joined.at

    def _group(self) -> None:
        """Rows with the same report (or none) share a group: group 0 is "no measurements row"."""
        self._join_pending()
        if self._groups is not None:
            return
        groups = np.zeros(len(self), dtype=np.int64)
        has = self.at >= 0
        texts = []
        if has.any():
            ids, texts = self.measurements.report_groups(self.at[has])
            groups[has] = ids + 1
        reports = [None, *texts]
        used, self._groups = _compact(groups, len(reports))
        self.reports = [reports[g] for g in used]

    def __len__(self) -> int:
        return len(self.records.study)

    @property
    def groups(self) -> np.ndarray:
        self._group()
        return self._groups

    def group_refs(self) -> list[RecordRef]:
        """A ref per distinct report, without the measurements and cart settings (no group shares
        them; builders that skip by group never read them)."""
        if self._group_refs is None:
            self._group_refs = [self.ref(int(row), per_row_extras=False) for row in self.group_rows()]
        return self._group_refs

    def ref(self, row: int, per_row_extras: bool = True) -> RecordRef:
        self._group()
        group = int(self._groups[row])
        mapped = self._mapped.get(group)
        if mapped is None:
            mapped = self._mapped[group] = _report(self.reports[group])
        report, lines, labels = mapped
        has_measurements = self.reports[group] is not None
        extra: dict = {"has_machine_measurements": has_measurements}
        if has_measurements and per_row_extras:
            at, m = int(self.at[row]), self.measurements
            extra["measurements"] = {name: None if m.missing[name][at] else int(values[at])
                                     for name, values in m.values.items()}
            for name, (codes, names) in m.carts.items():
                code = codes[at]
                if code >= 0 and names[code]:
                    extra[name] = names[code]
        study, relative = str(self.records.study[row]), self.records.paths[row].as_py()
        return RecordRef(
            record_id=f"mimic:{study}", source="mimic", native_id=study,
            path=self.prefix + relative, record_path=relative,
            leads=SHAPE[0], fs=SHAPE[1], n_samples=SHAPE[2],
            patient_id=str(self.records.subject[row]),
            report=report, report_lines=lines, labels=labels, report_lang="en" if lines else None,
            acquired=self.records.times[row].as_py(), extra=extra,
            source_key=self.source_key, split=None if self.splits is None else SPLITS[self.splits[row]],
            coverage=None if self.coverage is None else self.coverage[group],
        )

    def take(self, rows) -> "MimicTable":
        """These rows; their groups are carried when already made (the plan's coverage is per group)."""
        import pyarrow as pa

        self._join_pending()
        rows = np.asarray(rows, dtype=np.int64)
        index = pa.array(rows)
        records = RecordList(self.records.study[rows], self.records.subject[rows],
                             self.records.paths.take(index), self.records.times.take(index))
        at = self.at[rows]
        measurements = None
        if self.measurements is not None:            # only the rows these studies use
            kept = at >= 0
            measurements = self.measurements.take(at[kept], reports=self._groups is None)
            at = np.where(kept, np.cumsum(kept) - 1, -1)
        table = MimicTable(self.prefix, records, measurements, at)
        table.source_key = self.source_key
        table.splits = None if self.splits is None else self.splits[rows]
        if self._groups is not None:
            used, table._groups = _compact(self._groups[rows], len(self.reports))
            table.reports = [self.reports[g] for g in used]
            table.coverage = None if self.coverage is None else [self.coverage[g] for g in used]
        return table

    def patients(self) -> tuple[np.ndarray, list[str]]:
        subjects, index = np.unique(self.records.subject, return_inverse=True)
        return index, [f"mimic|{s}" for s in subjects.tolist()]

    def record_ids(self, rows=None) -> list[str]:
        study = self.records.study if rows is None else self.records.study[np.asarray(rows, dtype=np.int64)]
        return [f"mimic:{s}" for s in study.tolist()]

    def set_planned(self, source_key: str, splits: np.ndarray, coverage: list, records_root: str) -> None:
        self.source_key, self.splits, self.coverage = source_key, np.asarray(splits, dtype=np.int8), list(coverage)
        self._group_refs = None

    def files(self, rows=None) -> list[str]:
        paths = self.records.paths if rows is None else self.records.paths.take(np.asarray(rows, dtype=np.int64))
        return [self.prefix + path for path in paths.to_pylist()]

    def shapes(self, rows=None) -> set[tuple[tuple[str, ...], float, int]]:
        return {SHAPE} if len(self) else set()

    def required_files(self):
        """Each row's header (the loader reads it first), and the reason when it is absent, as the
        loader words it."""
        return self.records.paths, ".hea", "header file not found"

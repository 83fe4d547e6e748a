"""MIMIC-IV-ECG 1.0: record_list.csv ⋈ machine_measurements.csv (on study_id) + files/pNNNN/pS/sT/T.{hea,dat}."""

from __future__ import annotations

import csv
import os
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cached_property

import numpy as np

from ..errors import SourceError
from ..types import ECG, RecordRef
from .base import Source, load_wfdb, missing_table
from .mimic_csv import (MEASUREMENT_COLUMNS, Measurements, TableShapeError, read_measurements_fast,
                        read_measurements_rows, read_record_list_fast, read_record_list_rows)
from .mimic_table import MimicTable

__all__ = ["MimicIvEcg", "MEASUREMENT_COLUMNS"]


class MimicIvEcg(Source):
    name = "mimic"
    title = "MIMIC-IV-ECG 1.0 (diagnostic electrocardiogram matched subset)"
    layout = (
        "record_list.csv, machine_measurements.csv (optional: the demo 0.1 has none),\n"
        "files/p1000/p10000032/s40689238/40689238.{hea,dat} (WFDB fmt 16, 200 adu/mV, leads I II III aVR aVF aVL V1–V6)"
    )
    license = "ODbL 1.0 (PhysioNet open access)"
    homepage = "https://physionet.org/content/mimic-iv-ecg/1.0/"
    license_id = "odbl"
    citation = (
        "Gow B, Pollard T, Nathanson LA, Johnson A, Moody B, Fernandes C, Greenbaum N, Waks JW, Eslami P, Carbonati T, Chaudhari A, Herbst E, Moukheiber D, Berkowitz S, Mark R, Horng S. MIMIC-IV-ECG: Diagnostic Electrocardiogram Matched Subset (version 1.0). PhysioNet (2023). doi:10.13026/4nqg-sb35"
    )
    report_languages = ('en',)

    @cached_property
    def _prefix(self) -> str:
        return self.root.rstrip(os.sep) + os.sep

    def scan_table(self, tick=None) -> MimicTable:
        """The studies as columns (``limit``: the first studies of record_list.csv, and only their
        machine_measurements rows are read)."""
        self.errors = []
        return self._table()

    def _scan(self) -> Iterator[RecordRef | SourceError]:
        table = self._table()
        yield from (table.ref(row) for row in range(len(table)))

    def _table(self) -> MimicTable:
        """The record list joined with the measurements. The list is read first, with every core;
        then, without a limit, the measurements are read in a thread while the caller goes on with
        the list (the engine checks its files), and joined when the table's groups are first needed."""
        list_path = self.path("record_list.csv")
        if "pandas" not in sys.modules:
            # pyarrow imports pandas on its first conversion to numpy (a fifth of a second of
            # Python): in a thread, it overlaps the parsing instead of following it
            _in_background(__import__, "pandas")
        try:
            records = self._read(list_path, ("subject_id", "study_id", "path"),
                                 lambda header: read_record_list_fast(list_path, header, self.limit),
                                 lambda table, header: read_record_list_rows(table, list_path, self.limit, self.report))
        except FileNotFoundError:
            raise missing_table(list_path, "MIMIC-IV-ECG record list") from None
        if self.limit:        # only the listed studies' measurements
            return MimicTable.join(self._prefix, records, self._measurements(records.study))
        return MimicTable.join(self._prefix, records, _in_background(self._measurements, None))

    def _measurements(self, only: np.ndarray | None) -> Measurements | None:
        """machine_measurements by row (joined by study_id: the two tables are not in the same
        order); ``only``: of these studies. None: the demo release ships record_list.csv only.
        A row that cannot be read leaves its study without a report: builders quarantine it."""
        path = self.path("machine_measurements.csv")
        try:
            return self._read(path, ("study_id", "report_0"), lambda header: read_measurements_fast(path, header, only),
                              lambda table, header: read_measurements_rows(table, header, only))
        except FileNotFoundError:
            return None

    def _read(self, path: str, required: tuple[str, ...], fast, by_row):
        """A release table read by pyarrow (``fast(header)``; it checks the UTF-8 of what it reads);
        a table it cannot take is checked as text (its undecodable lines reported, a declared
        fallback encoding used) and read row by row (``by_row(table, header)``)."""
        header = _header_of(path)
        _require(path, header, required)
        try:
            return fast(header)
        except TableShapeError:
            table = self.table(path)
            for error in table.errors():
                self.report(error)
            with table.stream as f:
                header = next(csv.reader(f), [])
            _require(path, header, required)
            return by_row(table, header)

    def load(self, ref: RecordRef) -> ECG:
        return load_wfdb(ref, ref.path)


def _header_of(path: str) -> list[str]:
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as f:
        return next(csv.reader(f), [])


def _require(path: str, fieldnames, columns) -> None:
    missing = [c for c in columns if c not in (fieldnames or [])]
    if missing:
        raise SourceError(path, f"missing column(s) {', '.join(missing)}")


def _in_background(work, *args) -> Future:
    """``work(*args)`` in a thread of its own (pyarrow parses with the GIL released, so the two
    tables are read together); its result or exception comes from ``.result()``."""
    pool = ThreadPoolExecutor(1)
    future = pool.submit(work, *args)
    pool.shutdown(wait=False)
    return future

"""MIMIC-IV-ECG 1.0: record_list.csv ⋈ machine_measurements.csv (on study_id) + files/pNNNN/pS/sT/T.{hea,dat}."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from functools import cached_property

import numpy as np

from ..errors import SourceError
from ..types import ECG, RecordRef
from .base import Source, load_wfdb
from .mimic_table import (MEASUREMENT_COLUMNS, Measurements, MimicTable, TableShapeError, read_measurements_fast,
                          read_measurements_rows, read_record_list_fast, read_record_list_rows)

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
        list_path = self.path("record_list.csv")
        try:
            table = self.table(list_path)
        except FileNotFoundError:
            raise SourceError(list_path, "MIMIC-IV-ECG record list not found (is ROOT the release folder?)") from None
        for error in table.errors():
            self.report(error)
        header = _header(table)
        _require(list_path, header, ("subject_id", "study_id", "path"))
        records = None
        if table.encoding == "utf-8" and not table.errors():
            try:
                records = read_record_list_fast(list_path, header, self.limit)
            except TableShapeError:
                pass
        if records is None:
            records = read_record_list_rows(table, list_path, self.limit, self.report)
        return MimicTable.join(self._prefix, records, self._measurements(records.study if self.limit else None))

    def _measurements(self, only: np.ndarray | None) -> Measurements | None:
        """machine_measurements by row (joined by study_id: the two tables are not in the same
        order); ``only``: of these studies. None: the demo release ships record_list.csv only."""
        path = self.path("machine_measurements.csv")
        try:
            table = self.table(path)
        except FileNotFoundError:
            return None
        for error in table.errors():            # their studies then have no report: quarantined by builders
            self.report(error)
        header = _header(table)
        _require(path, header, ("study_id", "report_0"))
        if table.encoding == "utf-8" and not table.errors():
            try:
                return read_measurements_fast(path, header, only)
            except TableShapeError:
                pass
        return read_measurements_rows(table, header, only)

    def load(self, ref: RecordRef) -> ECG:
        return load_wfdb(ref, ref.path)


def _header(table) -> list[str]:
    with table.stream as f:
        return next(csv.reader(f), [])


def _require(path: str, fieldnames, columns) -> None:
    missing = [c for c in columns if c not in (fieldnames or [])]
    if missing:
        raise SourceError(path, f"missing column(s) {', '.join(missing)}")

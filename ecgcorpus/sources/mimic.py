"""MIMIC-IV-ECG 1.0: record_list.csv ⋈ machine_measurements.csv (on study_id) + files/pNNNN/pS/sT/T.{hea,dat}."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from ..errors import SourceError
from ..leads import CANONICAL_LEADS
from ..statements import map_report
from ..types import ECG, RecordRef
from .base import Source, load_wfdb

N_REPORT_COLUMNS = 18
MEASUREMENT_COLUMNS = (
    "rr_interval", "p_onset", "p_end", "qrs_onset", "qrs_end", "t_end", "p_axis", "qrs_axis", "t_axis",
)
NOT_MEASURABLE = {"29999", "32767", "65535"}  # sentinels for "not measurable" in machine_measurements.csv


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

    def _scan(self) -> Iterator[RecordRef | SourceError]:
        measurements = self._read_measurements()
        list_path = self.path("record_list.csv")
        try:
            table = self.table(list_path)
        except FileNotFoundError:
            raise SourceError(list_path, "MIMIC-IV-ECG record list not found (is ROOT the release folder?)") from None
        yield from table.errors()
        with table.stream as f:
            reader = csv.DictReader(f)
            _require(list_path, reader.fieldnames, ("subject_id", "study_id", "path"))
            for row in reader:
                line_no = reader.line_num
                study_id = (row.get("study_id") or "").strip()
                subject_id = (row.get("subject_id") or "").strip()
                if not (study_id.isdigit() and subject_id.isdigit() and row.get("path")):
                    yield SourceError(f"{list_path}:{line_no}", f"malformed row {row!r}",
                                      self.record_id(study_id) if study_id else None)
                    continue
                yield self._ref(row, measurements.get(study_id))

    def _read_measurements(self) -> dict[str, dict[str, str]]:
        """machine_measurements rows by study_id (joined by key: the two tables are not in the same order)."""
        path = self.path("machine_measurements.csv")
        try:
            table = self.table(path)
        except FileNotFoundError:
            return {}  # the demo release ships record_list.csv only
        for error in table.errors():            # their studies then have no report: quarantined by builders
            self.report(error)
        with table.stream as f:
            reader = csv.DictReader(f)
            _require(path, reader.fieldnames, ("study_id", "report_0"))
            return {row["study_id"].strip(): row for row in reader}

    def _ref(self, row: dict[str, str], mm: dict[str, str] | None) -> RecordRef:
        study_id = row["study_id"].strip()
        lines = [] if mm is None else [
            (mm.get(f"report_{i}") or "").strip() for i in range(N_REPORT_COLUMNS)
        ]
        lines = [line for line in lines if line]
        extra = {"has_machine_measurements": mm is not None}
        if mm is not None:
            extra["measurements"] = {c: _measurement(mm.get(c)) for c in MEASUREMENT_COLUMNS}
            extra.update({k: mm[k].strip() for k in ("cart_id", "bandwidth", "filtering") if mm.get(k)})
        return RecordRef(
            record_id=self.record_id(study_id),
            source=self.name,
            native_id=study_id,
            path=self.path(row["path"].strip()),
            fs=500.0,
            n_samples=5000,
            leads=CANONICAL_LEADS,
            patient_id=row["subject_id"].strip(),
            report="\n".join(lines) or None,
            report_lines=tuple(lines),
            labels=map_report(lines),
            report_lang="en" if lines else None,
            acquired=(row.get("ecg_time") or "").strip() or None,
            extra=extra,
        )

    def load(self, ref: RecordRef) -> ECG:
        return load_wfdb(ref, ref.path)


def _require(path: str, fieldnames, columns) -> None:
    missing = [c for c in columns if c not in (fieldnames or [])]
    if missing:
        raise SourceError(path, f"missing column(s) {', '.join(missing)}")


def _measurement(value: str | None) -> int | None:
    value = (value or "").strip()
    if not value or value in NOT_MEASURABLE:
        return None
    try:
        return int(float(value))
    except ValueError:
        return None

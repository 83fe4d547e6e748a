"""Chapman-Shaoxing, original figshare release (Zheng et al., Sci Data 2020).

Diagnostics.xlsx (one row per record: rhythm, beat/condition acronyms, age, sex, machine measurements)
+ one CSV per record in ECGData/ (raw) or ECGDataDenoised/, header I,II,…,V6, 5000 rows in µV.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator

import numpy as np

from ..errors import SourceError
from ..labels import chapman_acronym_label, chapman_coverage
from ..leads import CANONICAL_LEADS, canonical_lead
from ..types import ECG, Label, RecordRef
from .base import Source, check_finite_leads, ecg_from_float

FS = 500.0
N_SAMPLES = 5000  # every record is 10 s at 500 Hz (the scan does not open the CSVs)
_DIAGNOSTICS = "Diagnostics.xlsx"
_REQUIRED = ("FileName", "Rhythm", "Beat", "PatientAge", "Gender")
_MEASUREMENTS = ("VentricularRate", "AtrialRate", "QRSDuration", "QTInterval", "QTCorrected", "RAxis", "TAxis",
                 "QRSCount", "QOnset", "QOffset", "TOffset")
_SEX = {"MALE": "M", "FEMALE": "F"}
# Condition acronyms of this release (ConditionNames.xlsx) that have no SNOMED row in the PhysioNet
# ConditionNames_SNOMED-CT.csv: kept with the release's own name and snomed=None.
_RELEASE_ONLY = {
    "LVHV": "left ventricle high voltage",
    "RAHV": "right atrial high voltage",
    "LRRI": "long RR interval",
    "JPS": "J point shift",
}


class ChapmanFigshare(Source):
    name = "chapman-figshare"
    title = "Chapman-Shaoxing 12-lead ECG (original figshare release)"
    layout = (
        "Diagnostics.xlsx (FileName, Rhythm, Beat, PatientAge, Gender, measurements),\n"
        "ECGData/MUSE_20180113_171327_27000.csv … and/or ECGDataDenoised/… (I,II,…,V6 in µV, 5000 rows)"
    )
    license = "CC0 1.0"
    homepage = "https://doi.org/10.6084/m9.figshare.c.4560497"
    license_id = "cc0-1.0"
    citation = (
        "Zheng J, Zhang J, Danioko S, Yao H, Guo H, Rakovski C. A 12-lead electrocardiogram database for arrhythmia research covering more than 10,000 patients. Scientific Data 7, 48 (2020). doi:10.1038/s41597-020-0386-x"
    )
    storage_dtype = "float64"          # CSV microvolts, converted to mV

    def label_coverage(self, ref: RecordRef) -> frozenset[str] | None:
        return chapman_coverage()

    def __init__(self, root, denoised: bool = False, on_error=None, encoding: str | None = None):
        super().__init__(root, on_error=on_error, encoding=encoding)
        self.signal_dir = "ECGDataDenoised" if denoised else "ECGData"

    def _scan(self) -> Iterator[RecordRef | SourceError]:
        xlsx = self.path(_DIAGNOSTICS)
        for row_no, row in _read_rows(xlsx):
            file_name = str(row["FileName"]).strip() if _present(row.get("FileName")) else ""
            try:
                yield self._ref(row, file_name)
            except ValueError as exc:
                record_id = self.record_id(file_name) if file_name else None
                yield SourceError(f"{xlsx}:row {row_no}", f"malformed row: {exc}", record_id)

    def _ref(self, row: dict, file_name: str) -> RecordRef:
        if not file_name:
            raise ValueError("empty FileName")
        labels = _labels(row.get("Rhythm"), row.get("Beat"))
        extra = {key: _number(row[key]) for key in _MEASUREMENTS if _present(row.get(key))}
        if _present(row.get("DateofBirth")):  # only in an earlier figshare version
            extra["DateofBirth"] = str(row["DateofBirth"])
        unmapped = [lab.code for lab in labels if lab.snomed is None]
        if unmapped:
            extra["unmapped_codes"] = unmapped
        age = row.get("PatientAge")
        return RecordRef(
            record_id=self.record_id(file_name),
            source=self.name,
            native_id=file_name,
            path=self.path(self.signal_dir, f"{file_name}.csv"),
            fs=FS,
            n_samples=N_SAMPLES,
            leads=CANONICAL_LEADS,
            labels=labels,
            age=str(int(float(age))) if _present(age) else None,
            sex=_SEX.get(str(row.get("Gender") or "").strip().upper()),
            extra=extra,
        )

    def load(self, ref: RecordRef) -> ECG:
        import pandas as pd

        if not os.path.exists(ref.path):
            raise SourceError(ref.path, "signal file missing", ref.record_id)
        try:
            table = pd.read_csv(ref.path, dtype=np.float64)
        except Exception as exc:  # pandas: ParserError, ValueError (non-numeric cell), EmptyDataError …
            raise SourceError(ref.path, f"unreadable CSV: {exc}", ref.record_id) from None
        leads = [canonical_lead(str(c)) for c in table.columns]
        if sorted(leads) != sorted(ref.leads):
            columns = ", ".join(map(str, table.columns))
            raise SourceError(ref.path, f"columns {columns}, expected the 12 standard leads", ref.record_id)
        if len(table) != ref.n_samples:
            raise SourceError(ref.path, f"length mismatch: {len(table)} rows, expected {ref.n_samples}", ref.record_id)
        microvolts = table.to_numpy(dtype=np.float64).T
        # Decimal text parsed as float64; µV → mV.
        ecg = ecg_from_float(ref, microvolts / 1000.0, leads, FS, native_dtype="float64")
        return check_finite_leads(ecg, ref.path)


def _read_rows(xlsx: str) -> Iterator[tuple[int, dict]]:
    """(spreadsheet row number, row dict) for every data row of Diagnostics.xlsx, read once."""
    import pandas as pd

    if not os.path.exists(xlsx):
        raise SourceError(xlsx, "Chapman diagnostics table not found (is ROOT the figshare release folder?)")
    try:
        table = pd.read_excel(xlsx, sheet_name=0, dtype=object)
    except Exception as exc:  # openpyxl raises zipfile/XML errors on damaged files
        raise SourceError(xlsx, f"unreadable spreadsheet: {exc}") from None
    missing = set(_REQUIRED) - set(table.columns)
    if missing:
        raise SourceError(xlsx, f"missing column(s) {', '.join(sorted(missing))}")
    for i, row in enumerate(table.to_dict("records")):
        yield i + 2, row  # row 1 is the header


def _labels(rhythm, beat) -> tuple[Label, ...]:
    """Rhythm acronym first, then the Beat tokens (``RBBB TWC``; ``NONE`` = no condition)."""
    if not _present(rhythm) or not str(rhythm).strip():
        raise ValueError("empty Rhythm")
    tokens = [str(rhythm).strip()] + [t for t in str(beat if _present(beat) else "").split() if t != "NONE"]
    labels = {}
    for token in tokens:
        if token in labels:
            continue
        label = chapman_acronym_label(token)
        if label is None and token in _RELEASE_ONLY:
            label = Label(code=token, snomed=None, name=_RELEASE_ONLY[token])
        if label is None:
            raise ValueError(f"unknown Chapman acronym {token!r}")
        labels[token] = label
    return tuple(labels.values())


def _present(value) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value)) and str(value).strip() != ""


def _number(value):
    number = float(value)
    return int(number) if number.is_integer() else number

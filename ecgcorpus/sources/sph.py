"""SPH: Shandong Provincial Hospital 12-lead ECG database (Liu et al., Sci Data 2022).

metadata.csv (ECG_ID,AHA_Code,Patient_ID,Age,Sex,N,Date) + records/A00001.h5 … (dataset ``ecg``,
12×N float16 mV, standard lead order, no lead names stored); optional code.csv (Category,Code,Description).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from dataclasses import replace

from ..errors import SourceError
from ..labels import aha_label
from ..leads import CANONICAL_LEADS
from ..types import ECG, Label, RecordRef
from .base import Source, check_finite_leads, ecg_from_float

FS = 500.0
_METADATA = "metadata.csv"
_COLUMNS = ("ECG_ID", "AHA_Code", "Patient_ID", "Age", "Sex", "N", "Date")


class Sph(Source):
    name = "sph"
    title = "SPH 12-lead ECG database (Shandong Provincial Hospital)"
    layout = (
        "metadata.csv (ECG_ID,AHA_Code,Patient_ID,Age,Sex,N,Date), code.csv (optional),\n"
        "records/A00001.h5 … A25770.h5 (HDF5 dataset 'ecg', 12×N float16 mV)"
    )
    license = "CC BY 4.0"
    homepage = "https://doi.org/10.6084/m9.figshare.c.5779802"
    license_id = "cc-by-4.0"
    citation = (
        "Liu H, Chen D, Chen D, Zhang X, Li H, Bian L, Shu M, Wang Y. A large-scale multi-label 12-lead electrocardiogram database with standardized diagnostic statements. Scientific Data 9, 272 (2022). doi:10.1038/s41597-022-01403-5"
    )
    storage_dtype = "float32"          # HDF5 float16 in mV: float32 holds every value exactly

    def _scan(self) -> Iterator[RecordRef | SourceError]:
        meta = self.path(_METADATA)
        table = self.release_table(meta, "SPH metadata table")
        yield from table.errors()
        descriptions = self._code_descriptions()
        with table.stream as f:
            reader = csv.DictReader(f)
            missing = set(_COLUMNS) - set(reader.fieldnames or [])
            if missing:
                raise SourceError(meta, f"missing column(s) {', '.join(sorted(missing))}")
            for row in reader:
                line = reader.line_num
                where = f"{meta}:{line}"
                ecg_id = (row.get("ECG_ID") or "").strip()
                try:
                    yield self._ref(row, ecg_id, descriptions)
                except ValueError as exc:
                    yield SourceError(where, f"malformed row: {exc}", self.record_id(ecg_id) if ecg_id else None)

    def _ref(self, row: dict[str, str], ecg_id: str, descriptions: dict[str, str]) -> RecordRef:
        if not ecg_id:
            raise ValueError("empty ECG_ID")
        n = int(row["N"])
        if n <= 0:
            raise ValueError(f"N = {n}")
        age = (row.get("Age") or "").strip()
        sex = (row.get("Sex") or "").strip().upper()
        return RecordRef(
            record_id=self.record_id(ecg_id),
            source=self.name,
            native_id=ecg_id,
            path=self.path("records", f"{ecg_id}.h5"),
            fs=FS,
            n_samples=n,
            leads=CANONICAL_LEADS,
            patient_id=(row.get("Patient_ID") or "").strip() or None,
            labels=_labels(row.get("AHA_Code") or "", descriptions),
            acquired=(row.get("Date") or "").strip() or None,
            age=str(int(float(age))) if age else None,
            sex=sex if sex in ("M", "F") else None,
        )

    def _code_descriptions(self) -> dict[str, str]:
        """code.csv's own descriptions (Code → Description), used to name statements without SNOMED."""
        path = self.path("code.csv")
        if not os.path.exists(path):
            return {}
        table = self.table(path)
        for error in table.errors():           # a description table row: no record to quarantine, but said
            self.report(error)
        with table.stream as f:
            return {row["Code"].strip(): row["Description"].strip() for row in csv.DictReader(f) if row.get("Code")}

    def load(self, ref: RecordRef) -> ECG:
        import h5py

        if not os.path.exists(ref.path):
            raise SourceError(ref.path, "signal file missing", ref.record_id)
        try:
            with h5py.File(ref.path, "r") as h5:
                dataset = h5.get("ecg")
                if not isinstance(dataset, h5py.Dataset):
                    raise SourceError(ref.path, "no dataset 'ecg' in the HDF5 file", ref.record_id)
                if dataset.shape != (len(CANONICAL_LEADS), ref.n_samples):
                    raise SourceError(ref.path, f"header/data mismatch: dataset 'ecg' has shape {dataset.shape}, "
                                      f"metadata.csv says (12, {ref.n_samples})", ref.record_id)
                native_dtype = str(dataset.dtype)
                data = dataset[()]
        except SourceError:
            raise
        except Exception as exc:  # h5py raises OSError on garbage, KeyError/RuntimeError on damaged chunks
            raise SourceError(ref.path, f"unreadable HDF5 file: {exc}", ref.record_id) from None
        ecg = ecg_from_float(ref, data, list(CANONICAL_LEADS), FS, native_dtype=native_dtype)
        return check_finite_leads(ecg, ref.path)


def _labels(aha_code: str, descriptions: dict[str, str]) -> tuple[Label, ...]:
    """``60+310;147`` → one Label per statement, in order, exact repeats (``1;1``) dropped."""
    labels = {}
    for statement in (s.strip() for s in aha_code.split(";")):
        if not statement or statement in labels:
            continue
        label = aha_label(statement)
        if label is None:
            raise ValueError(f"unknown AHA code {statement!r} in AHA_Code {aha_code!r}")
        if label.snomed is None and descriptions:
            parts = statement.split("+")
            if all(p in descriptions for p in parts):
                name = ", ".join([descriptions[parts[0]]] + [descriptions[p].lower() for p in parts[1:]])
                label = replace(label, name=name)
        labels[statement] = label
    if not labels:
        raise ValueError("empty AHA_Code")
    return tuple(labels.values())

"""CODE-15%: 345,779 12-lead exams of 233,770 patients from Brazil's telehealth network (Ribeiro et al.).

exams.csv (exam_id, age, is_male, nn_predicted_age, 1dAVb, RBBB, LBBB, SB, ST, AF, patient_id,
death, timey, normal_ecg, trace_file) + exams_part0.hdf5 … exams_part17.hdf5, each with datasets
``tracings`` (N × 4096 × 12 float32, mV, 400 Hz, leads I II III aVR aVL aVF V1–V6) and ``exam_id`` (N).

Quirks handled:
- ``trace_file`` is filled only on a patient's first exam, so an exam is found through the parts'
  own ``exam_id`` datasets (read once at scan: a few MB), never through that column;
- exams of 10 s (4000 samples) and 7 s (2800) are zero-padded, centred, to 4096: the padding is no
  sample, so it reads as NaN (``ECG.nan_runs()``), and a tracing that is zero throughout is
  quarantined, not read as a flat ECG;
- signals are read one exam at a time (an HDF5 row slice), never a whole 1.5 GB part.

Labels: the six abnormalities (cardiologist-reviewed) and ``normal_ecg`` (the automatic system's
call) as SNOMED CT. The six are annotated for every exam, so their absence means absent.
"""

from __future__ import annotations

import csv
import glob
import os
import re
from collections.abc import Iterator

import numpy as np

from ..errors import SourceError
from ..labels import snomed_label
from ..leads import CANONICAL_LEADS
from ..types import ECG, RecordRef
from .base import Source, check_finite_leads, ecg_from_float

FS = 400.0
SAMPLES = 4096
_EXAMS = "exams.csv"
_PART = re.compile(r"exams_part(\d+)\.hdf5$")
# exams.csv column → SNOMED CT concept (the PhysioNet/CinC scored set's codes)
ABNORMALITIES = {"1dAVb": "270492004", "RBBB": "59118001", "LBBB": "164909002", "SB": "426177001",
                 "ST": "427084000", "AF": "164889003"}
NORMAL_ECG = "164854000"
_COLUMNS = ("exam_id", "age", "is_male", "patient_id", "normal_ecg", *ABNORMALITIES)
_TRUE, _FALSE = {"true", "1", "1.0"}, {"false", "0", "0.0"}


class Code15(Source):
    name = "code15"
    title = "CODE-15%: a large scale annotated dataset of 12-lead ECGs"
    layout = ("exams.csv (exam_id, age, is_male, …, 1dAVb, RBBB, LBBB, SB, ST, AF, patient_id, …, normal_ecg,\n"
              "trace_file), exams_part0.hdf5 … exams_part17.hdf5 ('tracings' N×4096×12 float32 mV, 'exam_id' N)")
    license = "CC BY 4.0"
    homepage = "https://doi.org/10.5281/zenodo.4916206"
    license_id = "cc-by-4.0"
    citation = ("Ribeiro AH, Ribeiro MH, Paixão GMM, et al. Automatic diagnosis of the 12-lead ECG using a deep "
                "neural network. Nature Communications 11, 1760 (2020). doi:10.1038/s41467-020-15432-4")
    storage_dtype = "float32"

    def label_coverage(self, ref: RecordRef) -> frozenset[str] | None:
        return frozenset(ABNORMALITIES.values())

    def _scan(self) -> Iterator[RecordRef | SourceError]:
        exams = self.path(_EXAMS)
        table = self.release_table(exams, "CODE-15% exams.csv")
        yield from table.errors()
        located, problems = self._locate()
        yield from problems
        with table.stream as f:
            reader = csv.DictReader(f)
            missing = set(_COLUMNS) - set(reader.fieldnames or [])
            if missing:
                raise SourceError(exams, f"missing column(s) {', '.join(sorted(missing))}")
            for row in reader:
                where = f"{exams}:{reader.line_num}"
                exam = (row.get("exam_id") or "").strip()
                try:
                    exam = str(int(float(exam)))
                except ValueError:
                    yield SourceError(where, f"malformed exam_id {exam!r}")
                    continue
                if exam not in located:
                    yield SourceError(where, f"exam {exam} has no tracing in any exams_part*.hdf5", self.record_id(exam))
                    continue
                try:
                    yield self._ref(row, exam, located[exam])
                except ValueError as exc:
                    yield SourceError(where, f"malformed row: {exc}", self.record_id(exam))

    def _locate(self) -> tuple[dict[str, tuple[str, int]], list[SourceError]]:
        """exam id → (part file, row), from each part's ``exam_id`` dataset."""
        import h5py

        located, problems = {}, []
        parts = sorted((p for p in glob.glob(self.path("exams_part*.hdf5")) if _PART.search(p)),
                       key=lambda p: int(_PART.search(p).group(1)))
        if not parts:
            problems.append(SourceError(self.root, "no exams_part*.hdf5 file"))
        for part in parts:
            try:
                with h5py.File(part, "r") as h5:
                    ids, tracings = h5.get("exam_id"), h5.get("tracings")
                    if not isinstance(ids, h5py.Dataset) or not isinstance(tracings, h5py.Dataset):
                        raise SourceError(part, "needs datasets 'exam_id' and 'tracings'")
                    if tracings.ndim != 3 or tracings.shape[1:] != (SAMPLES, 12) or tracings.shape[0] != ids.shape[0]:
                        raise SourceError(part, f"'tracings' has shape {tracings.shape} for {ids.shape[0]} exam ids; "
                                          f"expected ({ids.shape[0]}, {SAMPLES}, 12)")
                    ids = np.asarray(ids[()]).astype(np.int64)
            except SourceError as exc:
                problems.append(exc)
                continue
            except Exception as exc:  # h5py raises OSError on garbage
                problems.append(SourceError(part, f"unreadable HDF5 file: {exc}"))
                continue
            name = os.path.basename(part)
            for row, exam in enumerate(ids.tolist()):
                if exam == 0 and row == len(ids) - 1:
                    continue              # the release pads each part's exam_id with a trailing 0
                located.setdefault(str(exam), (name, row))
        return located, problems

    def _ref(self, row: dict[str, str], exam: str, where: tuple[str, int]) -> RecordRef:
        part, index = where
        labels = [snomed_label(code) for column, code in ABNORMALITIES.items() if _flag(row, column)]
        if _flag(row, "normal_ecg"):
            labels.append(snomed_label(NORMAL_ECG))
        age = (row.get("age") or "").strip()
        male = (row.get("is_male") or "").strip().lower()
        return RecordRef(
            record_id=self.record_id(exam),
            source=self.name,
            native_id=exam,
            path=self.path(part),
            fs=FS,
            n_samples=SAMPLES,
            leads=CANONICAL_LEADS,
            patient_id=(row.get("patient_id") or "").strip() or None,
            labels=tuple(labels),
            age=str(int(float(age))) if age else None,
            sex={"true": "M", "false": "F"}.get(male),
            extra={"hdf5_row": index},
        )

    def load(self, ref: RecordRef) -> ECG:
        import h5py

        index = ref.extra.get("hdf5_row")
        if index is None:
            raise SourceError(ref.path, "no HDF5 row for this exam (scan it first)", ref.record_id)
        try:
            with h5py.File(ref.path, "r") as h5:
                tracing = np.asarray(h5["tracings"][index], dtype=np.float32)     # one exam: 4096 × 12
                if int(h5["exam_id"][index]) != int(ref.native_id):
                    raise SourceError(ref.path, f"row {index} holds exam {int(h5['exam_id'][index])}, "
                                      f"not {ref.native_id}", ref.record_id)
        except SourceError:
            raise
        except Exception as exc:
            raise SourceError(ref.path, f"unreadable HDF5 file: {exc}", ref.record_id) from None
        active = np.flatnonzero((tracing != 0).any(axis=1))
        if not active.size:
            raise SourceError(ref.path, f"exam {ref.native_id}: the tracing is zero throughout (no signal)",
                              ref.record_id)
        data = tracing.T.astype(np.float64)
        data[:, :active[0]] = np.nan                  # the centred zero padding: no sample
        data[:, active[-1] + 1:] = np.nan
        ecg = ecg_from_float(ref, data, list(CANONICAL_LEADS), FS, native_dtype="float32")
        return check_finite_leads(ecg, ref.path)


def _flag(row: dict[str, str], column: str) -> bool:
    value = (row.get(column) or "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{column} is {value!r}, not True/False")

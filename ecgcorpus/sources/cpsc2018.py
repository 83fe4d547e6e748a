"""CPSC2018 (China Physiological Signal Challenge 2018) training set, original release.

REFERENCE.csv (CRLF, rows partly out of id order, 1–3 class labels) + TrainingSet{1,2,3}/A0001.mat …
(MATLAB 5 struct ``ECG`` with fields sex, age, data: 12×N float64 mV, standard lead order).
"""

from __future__ import annotations

import csv
import glob
import os
import re
from collections.abc import Iterator

import numpy as np

from ..errors import SourceError
from ..labels import cpsc_coverage, cpsc_label
from ..leads import CANONICAL_LEADS
from ..types import ECG, Label, RecordRef
from .base import Source, check_finite_leads, ecg_from_float
from .mat5 import read_struct

FS = 500.0
_REFERENCE = "REFERENCE.csv"
_ID = re.compile(r"A\d{4}")
_SEX = {"male": "M", "female": "F"}


def official_split(native_id: str) -> str | None:
    """A0001–A0300 were the challenge's official validation set; the rest its training set."""
    if not _ID.fullmatch(native_id):
        return None
    return "validation" if int(native_id[1:]) <= 300 else "train"


def corpus_split(ref: RecordRef) -> str | None:
    """The split a corpus gives a CPSC2018 record under ``policy: official``: the challenge's
    validation set (A0001–A0300) is the only held-out set it ever released, so it is the test set;
    every other record trains."""
    split = ref.extra.get("official_split")
    return None if split is None else ("test" if split == "validation" else "train")


class Cpsc2018(Source):
    name = "cpsc2018"
    title = "CPSC2018 training set (original MATLAB release)"
    layout = (
        "REFERENCE.csv (Recording,First_label,Second_label,Third_label),\n"
        "TrainingSet1/A0001.mat … TrainingSet3/A6877.mat, or A*.mat directly under root (MATLAB 5 struct ECG)"
    )
    license = "free for research with citation (PhysioNet redistributes it under CC BY 4.0)"
    homepage = "http://2018.icbeb.org/Challenge.html"
    license_id = "other"
    citation = (
        "Liu F, Liu C, Zhao L, Zhang X, Wu X, Xu X, Liu Y, Ma C, Wei S, He Z, Li J, Kwee ENY. An open access database for evaluating the algorithms of electrocardiogram rhythm and morphology abnormality detection. Journal of Medical Imaging and Health Informatics 8(7), 1368–1373 (2018). doi:10.1166/jmihi.2018.2442"
    )
    storage_dtype = "float64"

    def official_split(self, ref: RecordRef) -> str | None:
        return corpus_split(ref)

    def label_coverage(self, ref: RecordRef) -> frozenset[str] | None:
        return cpsc_coverage()

    def _scan(self) -> Iterator[RecordRef | SourceError]:
        rows, bad_rows = {}, set()
        for item in self._reference_rows():
            if isinstance(item, SourceError):
                bad_rows.add(item.record_id)
                yield item
            else:
                rows[item[0]] = item[1:]
        files = {}
        for mat in sorted(glob.glob(self.path("A*.mat")) + glob.glob(self.path("TrainingSet*", "A*.mat"))):
            native_id = os.path.basename(mat)[:-4]
            if native_id in files:
                problem = f"second copy of {native_id}.mat (first: {files[native_id]})"
                yield SourceError(mat, problem, self.record_id(native_id))
            else:
                files[native_id] = mat
        for native_id in sorted(rows.keys() | files.keys()):
            record_id = self.record_id(native_id)
            if native_id not in files:
                line, _ = rows[native_id]
                problem = f"{native_id}.mat missing (listed in {_REFERENCE})"
                yield SourceError(f"{self.path(_REFERENCE)}:{line}", problem, record_id)
            elif native_id not in rows:
                if record_id in bad_rows:
                    continue  # its row was already reported (e.g. label 12): one error per record
                yield SourceError(files[native_id], f"no label row in {_REFERENCE}", record_id)
            else:
                try:
                    yield self._ref(native_id, files[native_id], rows[native_id][1])
                except SourceError as exc:
                    yield exc

    def _reference_rows(self) -> Iterator[tuple[str, int, tuple[Label, ...]] | SourceError]:
        ref_path = self.path(_REFERENCE)
        table = self.release_table(ref_path, "CPSC2018 label table")
        yield from table.errors()
        seen: dict[str, int] = {}
        with table.stream as f:
            reader = csv.reader(f)
            for row in reader:
                line = reader.line_num
                if line == 1 and row and row[0].strip() == "Recording":
                    continue
                if not any(cell.strip() for cell in row):
                    continue
                where = f"{ref_path}:{line}"
                native_id = row[0].strip()
                if not _ID.fullmatch(native_id):
                    yield SourceError(where, f"malformed row {','.join(row)!r}: no recording id like A0001")
                elif native_id in seen:
                    problem = f"{native_id} listed twice (first on line {seen[native_id]})"
                    yield SourceError(where, problem, self.record_id(native_id))
                else:
                    seen[native_id] = line
                    try:
                        yield native_id, line, _labels(row[1:])
                    except ValueError as exc:
                        yield SourceError(where, str(exc), self.record_id(native_id))

    def _ref(self, native_id: str, mat: str, labels: tuple[Label, ...]) -> RecordRef:
        record_id = self.record_id(native_id)
        sex, age, shape = _mat_summary(mat, record_id)
        if len(shape) != 2 or shape[0] != len(CANONICAL_LEADS):
            raise SourceError(mat, f"ECG.data has shape {shape}, expected 12 × samples", record_id)
        return RecordRef(
            record_id=record_id,
            source=self.name,
            native_id=native_id,
            path=mat,
            fs=FS,
            n_samples=int(shape[1]),
            leads=CANONICAL_LEADS,
            labels=labels,
            age=age,
            sex=sex,
            extra={"official_split": official_split(native_id)},
        )

    def load(self, ref: RecordRef) -> ECG:
        fields = _loadmat_ecg(ref.path, ref.record_id)
        data = fields["data"]
        if data.shape != (len(CANONICAL_LEADS), ref.n_samples):
            raise SourceError(ref.path, f"ECG.data has shape {data.shape}, scan saw (12, {ref.n_samples})", ref.record_id)
        ecg = ecg_from_float(ref, data, list(CANONICAL_LEADS), FS, native_dtype="float64")
        return check_finite_leads(ecg, ref.path)


def _labels(cells: list[str]) -> tuple[Label, ...]:
    labels = {}
    for cell in (c.strip() for c in cells):
        if not cell or cell in labels:  # empty trailing columns; a repeated label (A0953: 6,6)
            continue
        label = cpsc_label(cell)
        if label is None:
            raise ValueError(f"label {cell!r} is not a CPSC2018 class (1–9)")
        labels[cell] = label
    if not labels:
        raise ValueError("row has no label")
    return tuple(labels.values())


def _mat_summary(mat: str, record_id: str) -> tuple[str | None, str | None, tuple[int, ...]]:
    """(sex, age, data shape) from the struct header, without inflating the samples."""
    try:
        fields = read_struct(mat, "ECG")
        sex, age, shape = fields["sex"].value, fields["age"].value, fields["data"].shape
    except (ValueError, KeyError, OSError):
        # A layout the header reader does not know (or a damaged file): let scipy read it all.
        fields = _loadmat_ecg(mat, record_id)
        sex, age, shape = fields["sex"], fields["age"], fields["data"].shape
    sex = _SEX.get(str(sex).strip().lower()) if sex is not None and np.size(sex) else None
    age = np.asarray(age).ravel() if age is not None else np.array([])
    age_text = str(int(age[0])) if age.size and np.isfinite(age[0]) and age[0] >= 0 else None
    return sex, age_text, tuple(shape)


def _loadmat_ecg(mat: str, record_id: str) -> dict:
    """The ECG struct's fields, via scipy; any failure is a SourceError naming the file."""
    import scipy.io

    if not os.path.exists(mat):
        raise SourceError(mat, "signal file missing", record_id)
    try:
        ecg = scipy.io.loadmat(mat)["ECG"][0, 0]
        sex = ecg["sex"]
        return {
            "sex": str(sex[0]) if sex.size else None,
            "age": ecg["age"],
            "data": np.asarray(ecg["data"]),
        }
    except Exception as exc:  # scipy raises ValueError, TypeError, zlib.error, … on damaged files
        raise SourceError(mat, f"unreadable MAT file: {type(exc).__name__}: {exc}", record_id) from None

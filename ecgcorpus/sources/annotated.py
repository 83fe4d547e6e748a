"""Beat-annotated WFDB records (MIT-BIH family): REC.hea + REC.dat + REC.atr, 2 leads at 360/250 Hz."""

from __future__ import annotations

import glob
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np

from ..errors import SourceError
from ..types import ECG, RecordRef
from .base import Source, ecg_from_wfdb
from .wfdb_io import read_header, read_record


@dataclass(frozen=True)
class Annotations:
    """Beat (and rhythm) annotations of one record, at the record's sampling rate."""

    sample: np.ndarray        # int64 sample indices, ascending
    symbol: tuple[str, ...]   # MIT-BIH symbols: N, V, A, L, R, +, ~ …
    aux_note: tuple[str, ...]
    fs: float


class BeatAnnotatedWfdb(Source):
    name = "wfdb-annotated"
    title = "Beat-annotated WFDB records (MIT-BIH Arrhythmia, European ST-T, MIT-BIH ST …)"
    layout = "REC.hea, REC.dat and an annotation file REC.atr per record, side by side (any folder)"
    license = "ODC-By 1.0 (MIT-BIH Arrhythmia Database); per database otherwise"
    homepage = "https://physionet.org/content/mitdb/1.0.0/"
    license_id = "odc-by"
    citation = (
        "Moody GB, Mark RG. The impact of the MIT-BIH Arrhythmia Database. IEEE Engineering in Medicine and Biology 20(3), 45–50 (2001). doi:10.1109/51.932724"
    )

    def __init__(self, root, annotator: str = "atr", on_error=None, encoding: str | None = None):
        super().__init__(root, on_error=on_error, encoding=encoding)
        self.annotator = annotator

    def _scan(self) -> Iterator[RecordRef | SourceError]:
        for hea in sorted(glob.glob(self.path("**", "*.hea"), recursive=True)):
            record_path = hea[: -len(".hea")]
            native_id = os.path.relpath(record_path, self.root).replace(os.sep, "/")
            if not os.path.exists(f"{record_path}.{self.annotator}"):
                yield SourceError(hea, f"no .{self.annotator} annotation file beside the header", self.record_id(native_id))
                continue
            try:
                check_annotation_file(f"{record_path}.{self.annotator}")   # cheap: its size and last word
                header = read_header(hea)
            except SourceError as exc:
                exc.record_id = self.record_id(native_id)
                yield exc
                continue
            age, sex = _age_sex(header.comments)
            yield RecordRef(
                record_id=self.record_id(native_id),
                source=self.name,
                native_id=native_id,
                path=record_path,
                fs=header.fs,
                n_samples=header.n_samples,
                leads=tuple(read_record_names(header)),
                age=age,
                sex=sex,
                extra={"annotator": self.annotator, "channel_names": header.lead_names},
            )

    def load(self, ref: RecordRef) -> ECG:
        rec = read_record(ref.path)
        return ecg_from_wfdb(ref, replace(rec, names=channel_leads(rec.names)))

    def annotations(self, ref: RecordRef) -> Annotations:
        return read_annotations(ref.path, self.annotator)

    def beat_counts(self, ref: RecordRef) -> Counter:
        return Counter(self.annotations(ref).symbol)


def read_annotations(record_path: str, annotator: str = "atr") -> Annotations:
    """The record's annotations, checked: a file that is empty, cut short (no end-of-file marker),
    holds no annotation, or points past the signal's end is a SourceError, never an empty answer."""
    import wfdb

    path = f"{record_path}.{annotator}"
    check_annotation_file(path)
    try:
        ann = wfdb.rdann(record_path, annotator)
    except FileNotFoundError:
        raise SourceError(path, "annotation file not found") from None
    except Exception as exc:  # wfdb raises assorted errors on damaged annotation files
        raise SourceError(path, f"unreadable annotation file: {exc}") from None
    header = read_header(record_path + ".hea")
    samples = np.asarray(ann.sample, dtype=np.int64)
    if samples.size == 0:
        raise SourceError(path, "annotation file holds no annotations")
    if header.n_samples and samples.max() >= header.n_samples:
        raise SourceError(path, f"annotation at sample {int(samples.max())} lies past the signal's end "
                          f"({header.n_samples} samples)")
    header_fs = ann.fs if ann.fs else header.fs
    return Annotations(
        sample=np.asarray(ann.sample, dtype=np.int64),
        symbol=tuple(ann.symbol),
        aux_note=tuple(a.rstrip("\x00") for a in ann.aux_note),
        fs=float(header_fs),
    )


def check_annotation_file(path: str) -> None:
    """MIT format: 16-bit little-endian words, ending with the end-of-file word 0x0000."""
    try:
        size = os.path.getsize(path)
    except FileNotFoundError:
        raise SourceError(path, "annotation file not found") from None
    if size == 0:
        raise SourceError(path, "annotation file is empty")
    with open(path, "rb") as f:
        f.seek(max(0, size - 2))
        tail = f.read(2)
    if size % 2 or tail != b"\x00\x00":
        raise SourceError(path, f"annotation file truncated: {size} bytes, no end-of-file marker")


# MIT-BIH ST Change names both channels "ECG"; like anyECG we take them as MLII and V1 (its
# records are MIT-BIH-style Holter leads), and a lone "ECG" channel as lead I.
UNNAMED_CHANNELS = {1: ("I",), 2: ("II", "V1")}      # MLII is lead II


def channel_leads(names: list[str]) -> list[str]:
    """The header's channel names, with the stdb convention for channels all named ``ECG``."""
    if names and all(n.strip().upper() == "ECG" for n in names) and len(names) in UNNAMED_CHANNELS:
        return list(UNNAMED_CHANNELS[len(names)])
    return list(names)


def read_record_names(header) -> list[str]:
    from ..leads import canonical_lead, canonical_order

    names = [canonical_lead(n) for n in channel_leads(header.lead_names)]
    return [names[i] for i in canonical_order(names)]


def _age_sex(comments: list[str]) -> tuple[str | None, str | None]:
    """MIT-BIH's first comment is ``69 M 1085 1629 x1`` (age, sex, …); '-1'/'?' mean unknown."""
    for line in comments:
        parts = line.split()
        if len(parts) >= 2 and parts[1] in ("M", "F") and parts[0].lstrip("-").isdigit():
            return (parts[0] if not parts[0].startswith("-") else None), parts[1]
    return None, None

"""What every source module provides: scan() for metadata rows, load() for signals."""

from __future__ import annotations

import codecs
import hashlib
import os
from functools import lru_cache
from collections.abc import Callable, Iterator
from typing import ClassVar

import numpy as np

from ..errors import SourceError
from ..leads import CANONICAL_LEADS, canonical_order
from ..record_table import RecordTable, RefTable
from ..types import ECG, RecordRef
from .tables import TableText, read_table_text
from .wfdb_io import WFDB_INVALID_16, WfdbSignal, read_record


class Source:
    """Base class of the database readers.

    ``scan()`` yields one RecordRef per readable record; a record or metadata row that cannot be
    read is never skipped silently: it becomes a SourceError in ``self.errors`` (and is passed to
    ``on_error`` when given), so the engine can quarantine it.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    layout: ClassVar[str]          # the release layout expected under root (for `sources list`)
    license: ClassVar[str]
    homepage: ClassVar[str]
    license_id: ClassVar[str] = "other"      # the Hub's licence id (cc-by-4.0, odbl …); "other" with ``license``
    citation: ClassVar[str] = ""             # the reference the database's authors ask users to cite
    report_languages: ClassVar[tuple[str, ...]] = ()   # languages of its written reports (ISO 639-1)
    # How the release stores samples, hence what a lossless copy needs: int16 ADC values with a
    # gain (WFDB, MAT v4), or floats in mV (HDF5, MAT structs, CSV).
    storage_dtype: ClassVar[str] = "int16"

    def __init__(self, root: str | os.PathLike, on_error: Callable[[SourceError], None] | None = None,
                 encoding: str | None = None):
        self.root = os.fspath(root)
        if not os.path.isdir(self.root):
            raise SourceError(self.root, f"{self.name} root is not a directory")
        if encoding is not None:
            try:
                codecs.lookup(encoding)
            except LookupError:
                raise SourceError(self.root, f"unknown encoding {encoding!r} (e.g. cp1252, latin-1)") from None
        self.encoding = encoding            # the declared fallback for metadata tables that are not UTF-8
        self.table_encodings: dict[str, str] = {}   # table (relative to root) → encoding, where not UTF-8
        self.errors: list[SourceError] = []
        self._on_error = on_error
        self.limit: int | None = None       # set by the engine from the manifest: a reader may stop there

    # -- the two operations ------------------------------------------------------------------------
    def scan(self) -> Iterator[RecordRef]:
        self.errors = []
        for item in self._scan():
            if isinstance(item, SourceError):
                self.report(item)
            else:
                yield item

    def scan_table(self, tick: Callable[[], None] | None = None) -> RecordTable:
        """The records as a table (see ``record_table``), at most ``limit`` of them. A columnar
        source (MIMIC-IV-ECG) builds one without a RecordRef per record; the others scan, calling
        ``tick`` per record (a progress counter)."""
        refs = []
        for ref in self.scan():
            if tick is not None:
                tick()
            refs.append(ref)
            if self.limit and len(refs) >= self.limit:
                break
        return RefTable(self.name, refs)

    def report(self, error: SourceError) -> None:
        """A problem found while scanning that belongs to no record yielded (a side table's row)."""
        self.errors.append(error)
        if self._on_error:
            self._on_error(error)

    def load(self, ref: RecordRef) -> ECG:
        raise NotImplementedError

    def _scan(self) -> Iterator[RecordRef | SourceError]:
        raise NotImplementedError

    def fingerprint(self, ref: RecordRef) -> str:
        """A hash of the record's signal as read: rate, lead names, gains and baselines, and the
        int16 ADC values (or the float samples of a float source). Two records with the same
        fingerprint are the same ECG, whatever their ids, files or formats. SourceError if unreadable."""
        ecg = self.load(ref)
        h = hashlib.sha256(repr((float(ecg.fs), tuple(ecg.leads), ecg.n_samples)).encode())
        if ecg.digital is not None:
            h.update(np.ascontiguousarray(ecg.gain, dtype="<f8").tobytes())
            h.update(np.ascontiguousarray(ecg.baseline, dtype="<i8").tobytes())
            h.update(np.ascontiguousarray(ecg.digital, dtype="<i2").tobytes())
        else:
            h.update(np.ascontiguousarray(ecg.signal, dtype="<f8").tobytes())
        return h.hexdigest()

    def label_coverage(self, ref: RecordRef) -> frozenset[str] | None:
        """The label keys (SNOMED CT id, else source code) whose absence from ``ref``'s labels means
        the finding is absent: the concepts the database annotated exhaustively for this record.
        None: none (no label is exhaustive), so nothing may be said to be absent."""
        return None

    def official_split(self, ref: RecordRef) -> str | None:
        """The split the database's authors recommend for ``ref`` (train / validation / test),
        None where they give none (the engine then splits by patient)."""
        return None

    def release_table(self, path: str, what: str) -> TableText:
        """``table(path)`` of a table the release must have: absent, a SourceError naming ``what``."""
        try:
            return self.table(path)
        except FileNotFoundError:
            raise missing_table(path, what) from None

    def table(self, path: str) -> TableText:
        """A metadata table's text (UTF-8, else the declared fallback, recorded in ``table_encodings``)."""
        text = read_table_text(path, self.encoding)
        if text.encoding != "utf-8":
            self.table_encodings[os.path.relpath(path, self.root)] = text.encoding
        return text

    @property
    def records_root(self) -> str:
        """The folder the records' files lie under (their release paths are relative to it)."""
        return self.root

    # -- conveniences ------------------------------------------------------------------------------
    def get(self, record_id: str) -> RecordRef:
        """The RecordRef with this id (``ptbxl:17`` or just ``17``); SourceError if absent or unreadable."""
        wanted = record_id if ":" in record_id else f"{self.name}:{record_id}"
        for item in self._scan():
            if isinstance(item, SourceError):
                if item.record_id == wanted:
                    raise item
            elif item.record_id == wanted:
                return item
        raise SourceError(self.root, f"no record {wanted} in this {self.name} tree")

    def path(self, *parts: str) -> str:
        return os.path.join(self.root, *parts)

    def record_id(self, native_id: str) -> str:
        return f"{self.name}:{native_id}"


def missing_table(path: str, what: str) -> SourceError:
    """The error of a table the release must have and the root lacks."""
    return SourceError(path, f"{what} not found (is ROOT the release folder?)")


KNOWN_LEADS = frozenset(CANONICAL_LEADS)


@lru_cache(maxsize=256)
def _lead_plan(names: tuple[str, ...]) -> tuple[tuple[str, ...], list[int] | None, list[int], list[int]]:
    """(canonical leads, full order or None if already canonical, columns that move, where they come from)."""
    order = canonical_order(names)
    if order == list(range(len(order))):
        return names, None, [], []
    moved = [i for i, j in enumerate(order) if i != j]
    return tuple(names[i] for i in order), order, moved, [order[i] for i in moved]


def check_lead_names(names, file: str, record_id: str | None) -> None:
    """Leads are found by name, so a name must be known and appear once: a renamed lead (aVR
    written as I) would otherwise shift every later lead of a fixed 12-lead config by one."""
    seen = set()
    for name in names:
        if name in seen:
            raise SourceError(file, f"duplicate lead name {name} (leads: {' '.join(names)})", record_id)
        seen.add(name)
    unknown = [name for name in names if name not in KNOWN_LEADS]
    if unknown:
        raise SourceError(file, f"unknown lead name(s) {', '.join(map(repr, unknown))} (leads: {' '.join(names)})",
                          record_id)


def ecg_from_wfdb(ref: RecordRef, rec: WfdbSignal) -> ECG:
    """A WFDB read as an ECG in canonical lead order (leads located by name)."""
    check_lead_names(rec.names, rec.header.path, ref.record_id)
    leads, order, moved, sources = _lead_plan(tuple(rec.names))
    if order is None:  # already canonical (PTB-XL, Chapman): the digital array is a view of the frames
        return ECG(record_id=ref.record_id, fs=rec.header.fs, leads=leads, physical=rec.physical,
                   digital=rec.digital, gain=rec.gain, baseline=rec.baseline, native_dtype="int16")
    frames = rec.digital.T   # e.g. MIMIC's aVF/aVL: copy the frames, then swap only the columns that move
    reordered = frames.copy()
    reordered[:, moved] = frames[:, sources]
    return ECG(record_id=ref.record_id, fs=rec.header.fs, leads=leads,
               physical=None if rec.physical is None else rec.physical[order], digital=reordered.T,
               gain=rec.gain[order], baseline=rec.baseline[order], native_dtype="int16")


def load_wfdb(ref: RecordRef, record_path: str) -> ECG:
    """Read a WFDB record and check it against what the scan promised (length, rate, live leads)."""
    rec = read_record(record_path)
    ecg = ecg_from_wfdb(ref, rec)
    if (ref.n_samples and ecg.n_samples != ref.n_samples) or (ref.fs and ecg.fs != ref.fs):
        raise SourceError(record_path + ".hea", f"{ecg.n_samples} samples at {ecg.fs:g} Hz, expected "
                          f"{ref.n_samples} at {ref.fs:g} Hz", ref.record_id)
    signal_file = os.path.join(os.path.dirname(record_path), rec.header.files[0])  # .dat or .mat
    return check_finite_leads(ecg, signal_file)


def ecg_from_float(ref: RecordRef, data: np.ndarray, leads: list[str], fs: float, native_dtype: str) -> ECG:
    """A float source (HDF5, MAT struct, CSV) as an ECG in canonical lead order."""
    check_lead_names(leads, ref.path, ref.record_id)
    order = canonical_order(leads)
    return ECG(
        record_id=ref.record_id,
        fs=fs,
        leads=tuple(leads[i] for i in order),
        physical=np.ascontiguousarray(np.asarray(data, dtype=np.float64)[order]),
        native_dtype=native_dtype,
    )


def check_finite_leads(ecg: ECG, file: str) -> ECG:
    """A lead that is NaN from start to end carries no signal: an error, not a silent zero lead."""
    if ecg.physical is None and ecg.digital is not None:
        # Digital sources: test the ADC values, so that the float signal stays lazy.
        if not ecg.digital.size or ecg.digital.ravel(order="K").min() != WFDB_INVALID_16:
            return ecg
        dead_rows = (ecg.digital == WFDB_INVALID_16).all(axis=1)
    else:
        dead_rows = np.isnan(ecg.signal).all(axis=1) if ecg.n_samples else np.zeros(len(ecg.leads), bool)
    dead = [lead for lead, is_dead in zip(ecg.leads, dead_rows) if is_dead]
    if dead:
        raise SourceError(file, f"lead(s) {', '.join(dead)} contain only NaN samples", ecg.record_id)
    return ecg

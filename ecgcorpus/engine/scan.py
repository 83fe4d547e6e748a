"""Scanning: every source's records as a table, with their splits, the files that are missing
quarantined, duplicates handled, and the digests of the inputs that the plan's identity rests on."""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from dataclasses import dataclass
from functools import partial

import numpy as np

from ..console import progress_counter
from ..manifest import Manifest
from ..record_table import RecordTable
from ..sources import Source, open_source
from ..types import RecordRef
from .dedupe import Fingerprints, fingerprint_table, raise_on_duplicates
from .file_check import missing_files
from .quarantine import Quarantine
from .splits import assign_splits
from .worker import steady_arrow_pool


@dataclass
class ScannedSource:
    key: str
    table: RecordTable             # source_key, splits and coverage set
    storage_dtype: str             # how the source stores samples (Source.storage_dtype)

    @property
    def refs(self) -> list[RecordRef]:
        return self.table.refs()


def scan_sources(manifest: Manifest) -> tuple[dict[str, ScannedSource], Quarantine, dict[str, dict]]:
    """Every source's records, each given its manifest key and its split, once."""
    steady_arrow_pool()
    scanned, quarantine, inputs = {}, Quarantine(), {}
    seen = Fingerprints()
    for spec in manifest.sources:
        src = open_source(spec.name, spec.root, **spec.options)
        src.limit = spec.limit                 # a source that can stops reading there (MIMIC's tables)
        with progress_counter(f"scanning {spec.key}") as counter:
            table = src.scan_table(counter.tick)
            counter.reached(len(table))
        table = drop_missing_files(table, src.root, spec.key, quarantine)
        if type(src).label_coverage is Source.label_coverage:
            coverage = [None] * len(table.group_rows())        # no label is exhaustive in this source
        else:
            coverage = [src.label_coverage(ref) for ref in table.refs(table.group_rows())]
        table.set_planned(spec.key, assign_splits(table, manifest.splits, manifest.seed, src), coverage,
                          src.records_root)
        # after the table is complete: a columnar source may still be reading a side table until then
        quarantine.extend(dict(e.to_dict(), stage="scan", source=spec.key, config=None) for e in src.errors)
        signals = None
        if manifest.dedupe != "keep":
            table, signals = fingerprint_table(src, spec.key, table, seen, quarantine, manifest.dedupe)
        scanned[spec.key] = ScannedSource(spec.key, table, src.storage_dtype)
        inputs[spec.key] = fingerprint_inputs(spec.root, table.files(), signals_fingerprinted=signals is not None,
                                              metadata=partial(metadata_digests, spec.root))
        if signals is not None:            # content, not sizes: a same-size edit changes the plan
            inputs[spec.key]["signals_sha256"] = signals
        if src.table_encodings:            # tables read with the declared fallback, not as UTF-8
            inputs[spec.key]["table_encodings"] = dict(sorted(src.table_encodings.items()))
    if manifest.dedupe == "error":
        raise_on_duplicates(seen)
    return scanned, quarantine, inputs


def drop_missing_files(table: RecordTable, root: str, key: str, quarantine: Quarantine) -> RecordTable:
    """The table without the rows whose required file is absent (quarantined at scan, as one block)."""
    required = table.required_files()
    if required is None:
        return table
    files, suffix, reason = required
    missing = missing_files(root, files, suffix)
    if not missing.any():
        return table
    quarantine.add_rows(table, np.flatnonzero(missing), reason, "scan", key, None, file_suffix=suffix)
    return table.take(np.flatnonzero(~missing))


SMALL_FILE = 1 << 20    # record files up to this size enter the digest by content, larger ones by size
TEXT_FILE_SUFFIXES = (".hea", ".atr")    # headers and annotations: labels live here, never in the fingerprint


def metadata_digests(root: str) -> dict[str, str]:
    """sha256 of each metadata file at the root (files under 512 MiB)."""
    out = {}
    for name in sorted(os.listdir(root)):
        path = os.path.join(root, name)
        if os.path.isfile(path) and os.path.getsize(path) < 512 * 2**20:
            digest = hashlib.sha256()
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 22), b""):
                    digest.update(block)
            out[name] = digest.hexdigest()
    return out


def fingerprint_inputs(root: str, paths: list[str], signals_fingerprinted: bool = False,
                       metadata=None) -> dict:
    """sha256 of the metadata files at the root, and a digest of every record file: its content
    when small (headers, annotations: a same-size label edit shows), its size otherwise. When the
    scan fingerprinted every signal (``signals_sha256``), signal files enter by size: their
    content is already in the digest, and reading each of them a second time would double the
    scan's I/O."""
    if metadata is None:
        metadata = metadata_digests(root)     # (a callable: computed when the plan's inputs are first read)
    sizes = hashlib.sha256()
    listing = _FolderSizes(root)
    for path in paths:
        folder, stem = os.path.split(path)
        files = listing.sizes(folder)
        for ext in RECORD_FILE_SUFFIXES:
            size = files.get(stem + ext)
            if size is None:
                continue
            name = listing.relative(folder, stem + ext)
            by_content = ext in TEXT_FILE_SUFFIXES or not signals_fingerprinted
            if by_content and size <= SMALL_FILE:
                with open(os.path.join(folder, stem + ext), "rb") as f:
                    size = hashlib.sha256(f.read()).hexdigest()
            sizes.update(f"{name}:{size}\n".encode())
    return {"records": len(paths), "metadata_sha256": metadata, "record_files_sha256": sizes.hexdigest()}


RECORD_FILE_SUFFIXES = ("", ".hea", ".dat", ".mat", ".h5", ".csv", ".atr")


class _FolderSizes:
    """File sizes per folder, listed once (one scandir instead of a stat per candidate name:
    the plan of MIMIC-IV-ECG checks 800k records x 7 suffixes). Refs come folder by folder, so a
    few recent listings are kept, not all of them."""

    KEEP = 8

    def __init__(self, root: str):
        self.root = os.path.normpath(root)
        self._recent: OrderedDict[str, dict[str, int]] = OrderedDict()

    def sizes(self, folder: str) -> dict[str, int]:
        if folder in self._recent:
            self._recent.move_to_end(folder)
            return self._recent[folder]
        sizes = {}
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.is_file():
                        sizes[entry.name] = entry.stat().st_size
        except OSError:
            pass                                       # a missing folder: the loader reports it
        self._recent[folder] = sizes
        if len(self._recent) > self.KEEP:
            self._recent.popitem(last=False)
        return sizes

    def relative(self, folder: str, name: str) -> str:
        path = os.path.normpath(os.path.join(folder, name))
        return path[len(self.root) + 1:] if path.startswith(self.root + os.sep) else os.path.relpath(path, self.root)

"""MIMIC-IV-ECG 1.0: record_list.csv ⋈ machine_measurements.csv (on study_id) + files/pNNNN/pS/sT/T.{hea,dat}."""

from __future__ import annotations

import csv
import os
import sys
from collections.abc import Iterator
from collections.abc import Mapping
from functools import cached_property, lru_cache

import numpy as np

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

    @cached_property
    def _prefix(self) -> str:
        return self.root.rstrip(os.sep) + os.sep

    def _scan(self) -> Iterator[RecordRef | SourceError]:
        list_path = self.path("record_list.csv")
        try:
            table = self.table(list_path)
        except FileNotFoundError:
            raise SourceError(list_path, "MIMIC-IV-ECG record list not found (is ROOT the release folder?)") from None
        yield from table.errors()
        rows = self._record_rows(table, list_path)
        if self.limit:
            # a limited scan reads the first `limit` studies of the list, then only their measurements
            head = []
            for item in rows:
                head.append(item)
                if len(head) >= self.limit and not isinstance(item, SourceError):
                    break
            wanted = {row["study_id"].strip() for row in head if not isinstance(row, SourceError)}
            measurements = self._read_measurements(only=wanted)
            rows = iter(head)
        else:
            measurements = self._read_measurements()
        for row in rows:
            if isinstance(row, SourceError):
                yield row
            else:
                yield self._ref(row, measurements.pop(row["study_id"].strip(), None))  # popped: held once

    def _record_rows(self, table, list_path: str) -> Iterator[dict | SourceError]:
        with table.stream as f:
            reader = csv.DictReader(f)
            _require(list_path, reader.fieldnames, ("subject_id", "study_id", "path"))
            for row in reader:
                study_id = (row.get("study_id") or "").strip()
                subject_id = (row.get("subject_id") or "").strip()
                if not (study_id.isdigit() and subject_id.isdigit() and row.get("path")):
                    yield SourceError(f"{list_path}:{reader.line_num}", f"malformed row {row!r}",
                                      self.record_id(study_id) if study_id else None)
                    continue
                yield row

    def _read_measurements(self, only: set[str] | None = None) -> dict[str, tuple]:
        """machine_measurements by study_id (joined by key: the two tables are not in the same
        order), each row reduced to what a record keeps: its report (shared by every study with the
        same statements, see ``_report``), the measurements and the cart's settings."""
        path = self.path("machine_measurements.csv")
        try:
            table = self.table(path)
        except FileNotFoundError:
            return {}  # the demo release ships record_list.csv only
        for error in table.errors():            # their studies then have no report: quarantined by builders
            self.report(error)
        with table.stream as f:
            header = next(csv.reader(f), [])
        _require(path, header, ("study_id", "report_0"))
        if table.encoding != "utf-8" or table.errors():
            rows = self._read_measurements_rows(table, header)
            return rows if only is None else {k: v for k, v in rows.items() if k in only}
        return _measurements_columnar(path, header, only)

    def _read_measurements_rows(self, table, header: list[str]) -> dict[str, tuple]:
        """The row-by-row reading, for a table in a declared fallback encoding or with bad rows."""
        out = {}
        with table.stream as f:
            reader = csv.reader(f)
            next(reader, None)
            column = {name: i for i, name in enumerate(header)}
            reports = [column[f"report_{i}"] for i in range(N_REPORT_COLUMNS) if f"report_{i}" in column]
            measured = [(name, column[name]) for name in MEASUREMENT_COLUMNS if name in column]
            settings = [(name, column[name]) for name in ("cart_id", "bandwidth", "filtering") if name in column]
            for row in reader:
                row = row + [""] * (len(header) - len(row))
                lines = tuple(line for line in (row[i].strip() for i in reports) if line)
                values = tuple(_measurement(row[i]) for _, i in measured)
                cart = tuple((name, sys.intern(row[i].strip())) for name, i in settings if row[i].strip())
                out[row[column["study_id"]].strip()] = (_report(lines), dict(zip((n for n, _ in measured), values)), cart)
        return out

    def _ref(self, row: dict[str, str], mm: tuple | None) -> RecordRef:
        study_id = row["study_id"].strip()
        (report, lines, labels), values, cart = mm if mm is not None else (_report(()), {}, ())
        extra = {"has_machine_measurements": mm is not None}
        if mm is not None:
            extra["measurements"] = values
            extra.update(cart)
        relative = row["path"].strip()
        return RecordRef(
            record_id=self.record_id(study_id),
            source=self.name,
            native_id=study_id,
            path=self._prefix + relative,         # (os.path.join per record: seconds at 800k)
            record_path=relative,
            fs=500.0,
            n_samples=5000,
            leads=CANONICAL_LEADS,
            patient_id=sys.intern(row["subject_id"].strip()),   # shared by the patient's studies
            report=report,
            report_lines=lines,
            labels=labels,
            report_lang="en" if lines else None,
            acquired=(row.get("ecg_time") or "").strip() or None,
            extra=extra,
        )

    def load(self, ref: RecordRef) -> ECG:
        return load_wfdb(ref, ref.path)


def _measurements_columnar(path: str, header: list[str], only: set[str] | None = None) -> dict[str, tuple]:
    """machine_measurements.csv read by pyarrow in blocks, only the columns a record keeps (and,
    with ``only``, only those studies): per block, each distinct report is mapped to labels once
    (800k studies hold a few ten thousand distinct reports; ``_report`` shares them across blocks),
    and the measurements stay integer arrays."""
    import pyarrow as pa
    import pyarrow.compute as pc
    from pyarrow import csv as pacsv

    reports = [f"report_{i}" for i in range(N_REPORT_COLUMNS) if f"report_{i}" in header]
    measured = [name for name in MEASUREMENT_COLUMNS if name in header]
    settings = [name for name in ("cart_id", "bandwidth", "filtering") if name in header]
    options = pacsv.ConvertOptions(include_columns=["study_id", *reports, *measured, *settings],
                                   column_types={name: "string" for name in ["study_id", *reports, *settings]},
                                   strings_can_be_null=True)
    # one thread, 16 MB blocks: the threaded reader reads ahead and held a gigabyte at 800k studies
    read = pacsv.ReadOptions(use_threads=False, block_size=1 << 24)
    wanted = None if only is None else pa.array(sorted(only), pa.string())
    out: dict[str, tuple] = {}
    cart_of: dict[tuple, tuple] = {}        # the carts' settings repeat: one tuple per distinct setting
    with pacsv.open_csv(path, read_options=read, convert_options=options) as reader:
        for batch in reader:
            if wanted is not None:
                batch = batch.filter(pc.is_in(pc.utf8_trim_whitespace(batch.column("study_id")), value_set=wanted))
            if batch.num_rows:
                _add_block(batch, reports, measured, settings, out, cart_of)
    return out


def _add_block(batch, reports, measured, settings, out: dict, cart_of: dict) -> None:
    n = batch.num_rows
    # each row's report as the tuple of its statements' codes (0: none) → one id per distinct report
    codes = np.zeros((n, max(1, len(reports))), dtype=np.int32)
    vocabulary: list[str] = [""]
    for j, name in enumerate(reports):
        encoded = batch.column(name).dictionary_encode()
        words = [str(w).strip() for w in encoded.dictionary.to_pylist()]
        offset = len(vocabulary)
        vocabulary += words
        idx = encoded.indices.to_numpy(zero_copy_only=False)
        valid = ~np.isnan(idx) if idx.dtype.kind == "f" else np.ones(n, bool)
        codes[valid, j] = idx[valid].astype(np.int64) + offset
    rows_as_bytes = np.ascontiguousarray(codes).view(np.dtype((np.void, codes.itemsize * codes.shape[1])))
    distinct, which = np.unique(rows_as_bytes.reshape(-1), return_inverse=True)   # a sort of n keys, not of rows
    which = np.asarray(which).reshape(-1).tolist()
    shared = [_report(tuple(w for w in (vocabulary[c] for c in np.frombuffer(row.tobytes(), np.int32) if c) if w))
              for row in distinct]
    sentinels = np.array(sorted(int(v) for v in NOT_MEASURABLE))
    columns = {}
    for name in measured:
        raw = batch.column(name).to_numpy(zero_copy_only=False).astype("float64")
        ints = np.where(np.isfinite(raw), raw, 0).astype(np.int32)
        columns[name] = np.ma.masked_array(ints, ~np.isfinite(raw) | np.isin(ints, sentinels))
    values = MachineColumns(columns)
    carts = [[None if v is None else sys.intern(v.strip()) for v in batch.column(name).to_pylist()]
             for name in settings]
    cart_rows = list(zip(*carts)) if carts else [()] * n
    for i, (study, report, cart) in enumerate(zip(batch.column("study_id").to_pylist(), which, cart_rows)):
        kept = cart_of.get(cart)
        if kept is None:
            kept = cart_of[cart] = tuple((k, v) for k, v in zip(settings, cart) if v)
        out[study.strip()] = (shared[report], MachineValues(values, i), kept)


class MachineColumns:
    """machine_measurements' interval and axis columns as int32 arrays (masked where not measured)."""

    def __init__(self, columns: dict):
        self.columns = columns


class MachineValues(Mapping):
    """One study's measurements (``rr_interval`` → 833, or None where not measurable), read from the
    shared columns: a dict per study would hold 800k × 9 Python ints. Pickles as a plain dict."""

    __slots__ = ("_table", "_row")

    def __init__(self, table: MachineColumns, row: int):
        self._table, self._row = table, row

    def __getitem__(self, name: str) -> int | None:
        value = self._table.columns[name][self._row]
        return None if value is np.ma.masked else int(value)

    def __iter__(self):
        return iter(self._table.columns)

    def __len__(self) -> int:
        return len(self._table.columns)

    def __reduce__(self):
        return dict, (dict(self.items()),)

    def __repr__(self) -> str:
        return repr(dict(self.items()))


@lru_cache(maxsize=1 << 16)
def _report(lines: tuple[str, ...]) -> tuple[str | None, tuple[str, ...], tuple]:
    """(report text, statement lines, labels) of a report, one shared object per distinct report:
    the machine's vocabulary is small, so 800k studies hold a few ten thousand distinct reports."""
    lines = tuple(sys.intern(line) for line in lines)
    return ("\n".join(lines) or None), lines, map_report(lines)


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

"""MIMIC-IV-ECG's two metadata tables read as columns: record_list.csv and machine_measurements.csv.

Both are read by pyarrow, only the columns a record keeps. A release table that pyarrow cannot take
as it is (a malformed row, a fallback encoding, text in a number column) is read row by row
instead, so that every bad row is reported with its line.
"""

from __future__ import annotations

import csv
import sys
from dataclasses import dataclass, field

import numpy as np

from ..errors import SourceError

N_REPORT_COLUMNS = 18
MEASUREMENT_COLUMNS = (
    "rr_interval", "p_onset", "p_end", "qrs_onset", "qrs_end", "t_end", "p_axis", "qrs_axis", "t_axis",
)
CART_COLUMNS = ("cart_id", "bandwidth", "filtering")
NOT_MEASURABLE = (29999, 32767, 65535)   # sentinels for "not measurable" in machine_measurements.csv
LINE_SEPARATOR = "\x1f"                  # joins a row's report columns (never inside a statement)


class TableShapeError(Exception):
    """The fast reader cannot take this table as it is: read it row by row."""


# -- record_list.csv ---------------------------------------------------------------------------------

@dataclass
class RecordList:
    study: np.ndarray                  # int64
    subject: np.ndarray                # int64
    paths: object                      # pyarrow StringArray, relative to the root, stripped
    times: object                      # pyarrow StringArray (null where not given)


def read_record_list_fast(path: str, header: list[str], limit: int | None) -> RecordList:
    import pyarrow as pa
    import pyarrow.compute as pc
    from pyarrow import csv as pacsv

    columns = [c for c in ("subject_id", "study_id", "path", "ecg_time") if c in header]
    types = {"subject_id": pa.uint32(), "study_id": pa.uint32(), "path": pa.string(), "ecg_time": pa.string()}
    # ids as unsigned integers: a sign, a blank or a non-digit id fails here, and the row reader names its line
    convert = pacsv.ConvertOptions(include_columns=columns, column_types={c: types[c] for c in columns},
                                   strings_can_be_null=True)
    table = _read_arrow(path, convert, limit)
    if limit:
        table = table.slice(0, limit)
    paths = pc.utf8_trim_whitespace(table.column("path"))
    if table.column("study_id").null_count or table.column("subject_id").null_count or paths.null_count or \
            not pc.min(pc.utf8_length(paths)).as_py():
        raise TableShapeError("malformed rows")
    times = table.column("ecg_time") if "ecg_time" in columns else pa.nulls(len(table), pa.string())
    study, subject = (table.column(c).to_numpy().astype(np.int64) for c in ("study_id", "subject_id"))
    return RecordList(study, subject, paths.combine_chunks(), pc.utf8_trim_whitespace(times).combine_chunks())


def read_record_list_rows(table, path: str, limit: int | None, report) -> RecordList:
    """Row by row: a malformed row becomes a SourceError naming its line (``report``)."""
    import pyarrow as pa

    study, subject, paths, times = [], [], [], []
    with table.stream as f:
        reader = csv.DictReader(f)
        for row in reader:
            study_id = (row.get("study_id") or "").strip()
            subject_id = (row.get("subject_id") or "").strip()
            if not (study_id.isdigit() and subject_id.isdigit() and (row.get("path") or "").strip()):
                report(SourceError(f"{path}:{reader.line_num}", f"malformed row {row!r}",
                                   f"mimic:{study_id}" if study_id else None))
                continue
            study.append(int(study_id))
            subject.append(int(subject_id))
            paths.append(row["path"].strip())
            times.append((row.get("ecg_time") or "").strip() or None)
            if limit and len(study) >= limit:
                break
    return RecordList(np.array(study, dtype=np.int64), np.array(subject, dtype=np.int64),
                      pa.array(paths, pa.string()), pa.array(times, pa.string()))


# -- machine_measurements.csv ------------------------------------------------------------------------

@dataclass
class Measurements:
    """machine_measurements by row: study, the report columns (pyarrow strings; only those with a
    statement in some row), interval and axis values (``missing`` where not measurable), the cart's
    settings (codes into names, −1: none)."""

    study: np.ndarray
    report_columns: list
    values: dict[str, np.ndarray] = field(default_factory=dict)
    missing: dict[str, np.ndarray] = field(default_factory=dict)
    carts: dict[str, tuple[np.ndarray, list[str]]] = field(default_factory=dict)

    def take(self, rows: np.ndarray, reports: bool = True) -> "Measurements":
        """These rows; ``reports=False``: without the report columns (a table already grouped
        holds its reports' texts)."""
        import pyarrow as pa

        index = pa.array(np.asarray(rows, dtype=np.int64))
        return Measurements(self.study[rows], [c.take(index) for c in self.report_columns] if reports else [],
                            {n: v[rows] for n, v in self.values.items()},
                            {n: m[rows] for n, m in self.missing.items()},
                            {n: (codes[rows], names) for n, (codes, names) in self.carts.items()})

    def report_groups(self, rows: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """For these rows: each one's index into the distinct reports, and those reports (each
        its columns' text joined by LINE_SEPARATOR). Grouped only for the rows asked about: a
        plan groups the studies whose files exist, not all 800k listed."""
        import pyarrow as pa
        import pyarrow.compute as pc

        index = pa.array(np.asarray(rows, dtype=np.int64))
        columns = [c.take(index) for c in self.report_columns]
        joined = pc.binary_join_element_wise(*columns, LINE_SEPARATOR, null_handling="skip") if columns else \
            pa.nulls(len(index), pa.string())
        encoded = pc.fill_null(joined, "")
        encoded = (encoded.combine_chunks() if isinstance(encoded, pa.ChunkedArray) else encoded).dictionary_encode()
        return encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64), encoded.dictionary.to_pylist()

    def rows_of(self, studies: np.ndarray) -> np.ndarray:
        """Each study's row (−1: none). A study listed twice keeps its last row."""
        if not len(self.study) or not len(studies):
            return np.full(len(studies), -1, dtype=np.int64)
        low, high = int(min(self.study.min(), studies.min())), int(max(self.study.max(), studies.max()))
        if high - low < 16 * (len(self.study) + len(studies)):
            # ids in a dense range (MIMIC's are 8-digit numbers): a direct lookup, no sort
            row_of = np.full(high - low + 1, -1, dtype=np.int64)
            row_of[self.study - low] = np.arange(len(self.study))      # a later row overwrites an earlier one
            return row_of[studies - low]
        order = np.argsort(self.study, kind="stable")
        ordered = self.study[order]
        at = np.searchsorted(ordered, studies, side="right") - 1
        found = (at >= 0) & (ordered[np.maximum(at, 0)] == studies)
        return np.where(found, order[np.maximum(at, 0)], -1)


def measurement_names(header: list[str]) -> tuple[list[str], list[str], list[str]]:
    """(report columns, measurement columns, cart setting columns) present in the header."""
    return ([f"report_{i}" for i in range(N_REPORT_COLUMNS) if f"report_{i}" in header],
            [name for name in MEASUREMENT_COLUMNS if name in header], [name for name in CART_COLUMNS if name in header])


def read_measurements_fast(path: str, header: list[str], only: np.ndarray | None = None) -> Measurements:
    import pyarrow as pa
    import pyarrow.compute as pc
    from pyarrow import csv as pacsv

    reports, measured, settings = measurement_names(header)
    types = {"study_id": pa.int64(), **{c: pa.string() for c in reports}, **{c: pa.int64() for c in measured},
             **{c: pa.dictionary(pa.int32(), pa.string()) for c in settings}}
    convert = pacsv.ConvertOptions(include_columns=list(types), column_types=types, strings_can_be_null=True)
    wanted = None if only is None else pa.array(np.unique(only))
    table = _read_arrow(path, convert, None, keep=None if wanted is None else (
        lambda batch: batch.filter(pc.is_in(batch.column("study_id"), value_set=wanted))))
    filled = [table.column(c).combine_chunks() for c in reports if table.column(c).null_count < len(table)]
    out = Measurements(_column(table, "study_id", 0), filled)          # (report_17 is rarely filled)
    sentinels = np.array(NOT_MEASURABLE)
    for name in measured:
        column = table.column(name)
        values = _column(column, None, 0)
        out.values[name] = _narrow(values)
        out.missing[name] = column.is_null().to_numpy(zero_copy_only=False) | np.isin(values, sentinels)
    for name in settings:
        column = table.column(name).unify_dictionaries() if table.column(name).num_chunks else table.column(name)
        chunks = column.chunks
        names = [] if not chunks else chunks[0].dictionary.to_pylist()
        codes = np.concatenate([c.indices.fill_null(-1).to_numpy(zero_copy_only=False) for c in chunks]) if chunks \
            else np.zeros(0, np.int32)
        out.carts[name] = (codes.astype(np.int32), [sys.intern((n or "").strip()) for n in names])
    return out


def read_measurements_rows(table, header: list[str], only: np.ndarray | None = None) -> Measurements:
    """Row by row: a table in a declared fallback encoding, or with rows pyarrow cannot parse."""
    reports, measured, settings = measurement_names(header)
    wanted = None if only is None else set(only.tolist())
    column = {name: i for i, name in enumerate(header)}
    study, lines, values, carts = [], [], {n: [] for n in measured}, {n: [] for n in settings}
    with table.stream as f:
        reader = csv.reader(f)
        next(reader, None)
        for row in reader:
            row = row + [""] * (len(header) - len(row))
            study_id = row[column["study_id"]].strip()
            if not study_id.isdigit() or (wanted is not None and int(study_id) not in wanted):
                continue
            study.append(int(study_id))
            lines.append(tuple(row[column[c]] for c in reports))
            for name in measured:
                values[name].append(_measurement(row[column[name]]))
            for name in settings:
                carts[name].append(row[column[name]])
    import pyarrow as pa

    columns = [pa.array([row[j] or None for row in lines], pa.string()) for j in range(len(reports))]
    out = Measurements(np.array(study, dtype=np.int64), columns)
    for name, column_values in values.items():
        out.missing[name] = np.array([v is None for v in column_values], dtype=bool)
        out.values[name] = _narrow(np.array([v or 0 for v in column_values], dtype=np.int64))
    for name, texts in carts.items():
        names = sorted(set(texts))
        code = {text: i for i, text in enumerate(names)}
        out.carts[name] = (np.array([code[t] for t in texts], dtype=np.int32),
                           [sys.intern(n.strip()) for n in names])
    return out


def _read_arrow(path: str, convert, limit: int | None, keep=None):
    """The table as pyarrow reads it: at once, or block by block up to ``limit`` rows (or the
    blocks' rows that ``keep`` keeps). A table pyarrow cannot parse is a TableShapeError."""
    import pyarrow as pa
    from pyarrow import csv as pacsv

    try:
        if not limit and keep is None:
            return pacsv.read_csv(path, read_options=pacsv.ReadOptions(block_size=1 << 24), convert_options=convert)
        batches, rows = [], 0
        # one thread: the threaded reader reads ahead, and a limit should stop reading early
        with pacsv.open_csv(path, read_options=pacsv.ReadOptions(use_threads=False, block_size=1 << 22),
                            convert_options=convert) as reader:
            for batch in reader:
                batch = keep(batch) if keep else batch
                batches.append(batch)
                rows += batch.num_rows
                if limit and rows >= limit:
                    break
            return pa.Table.from_batches(batches, schema=reader.schema)
    except (pa.ArrowInvalid, KeyError, UnicodeDecodeError) as exc:
        raise TableShapeError(str(exc)) from None


def _narrow(values: np.ndarray) -> np.ndarray:
    """int32 where every value fits (intervals and axes do: half the memory a unit carries)."""
    info = np.iinfo(np.int32)
    return values.astype(np.int32) if not len(values) or info.min <= values.min() and values.max() <= info.max \
        else values


def _column(table_or_column, name: str | None, fill) -> np.ndarray:
    import pyarrow.compute as pc

    column = table_or_column.column(name) if name else table_or_column
    return pc.fill_null(column, fill).to_numpy()


def _measurement(value: str | None) -> int | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        number = int(float(value))
    except ValueError:
        return None
    return None if number in NOT_MEASURABLE else number

"""Run one unit and write its shard: the function every executor (local pool, datatrove) calls."""

from __future__ import annotations

import json
import os
import traceback
from dataclasses import asdict, dataclass, field

import pyarrow.parquet as pq

from ..builders import BuildContext, builder_class
from ..errors import EcgCorpusError, SourceError
from ..files import atomic_open, file_sha256
from ..manifest import Manifest
from .plan import Unit
from .schema import samples_to_table

STATE_DIR = ".ecgcorpus"
EMPTY_SHARD = "empty"  # marker sha256 of a unit whose records were all quarantined


@dataclass
class UnitResult:
    unit_id: str
    relpath: str
    rows: int
    sha256: str
    records: int
    quarantine: list[dict] = field(default_factory=list)
    stats: dict = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


_BUILDERS: dict[tuple[str, int], object] = {}


def _builder(manifest: Manifest, index: int):
    key = (manifest.digest(), index)
    if key not in _BUILDERS:
        spec = manifest.builders[index]
        _BUILDERS[key] = builder_class(spec.type)(spec, manifest)
    return _BUILDERS[key]


class UnitFailed(EcgCorpusError):
    """A unit stopped on something that is not a record problem (a bug, a broken environment).

    Only SourceError (records that cannot be used as released, and builders' documented
    rejections) is quarantined; anything else fails the unit, so that a broken builder cannot
    pass as a corpus of quarantined records. Picklable: it crosses process pools.
    """

    def __init__(self, summary: str, details: str):
        self.summary = summary        # one line: config, shard, item, exception, where
        self.details = details        # the full traceback
        super().__init__(summary)

    def __reduce__(self):
        return (UnitFailed, (self.summary, self.details))


def run_unit(unit: Unit, manifest: Manifest, out_dir: str) -> UnitResult:
    """Build the unit's samples, write its shard atomically, then its completion marker."""
    builder = _builder(manifest, unit.builder_index)
    ctx = BuildContext(manifest, unit.config)
    quarantine = []
    writer = ShardWriter(os.path.join(out_dir, unit.relpath), manifest, unit)
    for item in unit.items:
        ctx.begin(item)
        try:
            produced = builder.run(item, ctx)
        except SourceError as exc:
            quarantine.append(_entry(item, exc.file, exc.problem, unit))
            continue
        except Exception as exc:
            writer.abort()
            failure = _failure(unit, item, exc)
            write_failure(out_dir, unit, failure)
            raise failure from exc
        for sample in produced:
            sample.split = unit.split
            writer.add(sample)
    # Every record of the unit quarantined: no shard (readers reject zero-row Parquet files).
    sha = writer.close() or EMPTY_SHARD
    result = UnitResult(unit.unit_id, unit.relpath, writer.rows, sha, unit.n_items, quarantine, ctx.stats)
    write_marker(out_dir, result)
    stale = failure_path(out_dir, unit.unit_id)
    if os.path.exists(stale):
        os.remove(stale)
    return result


def _entry(item, file: str, reason: str, unit: Unit) -> dict:
    return {"record_id": item.key, "file": file, "reason": reason, "stage": "build", "config": unit.config,
            "source": item.refs[0].key}


def _failure(unit: Unit, item, exc: BaseException) -> UnitFailed:
    where = traceback.extract_tb(exc.__traceback__)[-1]
    summary = (f"{unit.relpath}: {type(exc).__name__}: {exc} (at {os.path.basename(where.filename)}:"
               f"{where.lineno}, item {item.key})")
    return UnitFailed(summary, "".join(traceback.format_exception(exc)))


def failure_path(out_dir: str, unit_id: str) -> str:
    return os.path.join(out_dir, STATE_DIR, "failed", f"{unit_id}.log")


def write_failure(out_dir: str, unit: Unit, failure: UnitFailed) -> None:
    """The traceback beside the output, where any executor (and a cluster's driver) can find it."""
    path = failure_path(out_dir, unit.unit_id)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(failure.summary + "\n\n" + failure.details)


def read_failure(out_dir: str, unit_id: str) -> UnitFailed | None:
    try:
        with open(failure_path(out_dir, unit_id), encoding="utf-8") as f:
            summary, _, details = f.read().partition("\n\n")
    except FileNotFoundError:
        return None
    return UnitFailed(summary, details)


SIGNAL_COLUMN = "ecgs.list.element.signal.list.element.list.element"
# Signals are smooth: delta encoding halves int16 shards and triples write speed; floats compress
# better byte-split. Dictionaries and min/max statistics only where they help (short string columns).
_SIGNAL_ENCODING = {"int16": "DELTA_BINARY_PACKED", "float32": "BYTE_STREAM_SPLIT", "float64": "BYTE_STREAM_SPLIT"}
_DICTIONARY_COLUMNS = ["task", "split", "ecgs.list.element.source", "ecgs.list.element.leads.list.element"]
_STATISTICS_COLUMNS = ["id", "task", "split"]


class ShardWriter:
    """A unit's shard, written a row group at a time: a worker holds one row group of samples
    (``output.row_group_rows``), not the whole unit, so a unit of 10,000 MIMIC records does not
    hold 10,000 signals. The file appears atomically (a temporary name, then a rename)."""

    def __init__(self, path: str, manifest: Manifest, unit: Unit):
        self.path, self.manifest, self.unit = path, manifest, unit
        self.tmp = f"{path}.tmp-{os.getpid()}"
        self.rows = 0
        self._pending: list = []
        self._writer = None

    def add(self, sample) -> None:
        self._pending.append(sample)
        if len(self._pending) >= self.manifest.output.row_group_rows:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        samples, self._pending = self._pending, []
        table = samples_to_table(samples, [s.content_id(self.unit.config) for s in samples], self.unit.layout)
        if self._writer is None:
            out = self.manifest.output
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            self._writer = pq.ParquetWriter(
                self.tmp, table.schema,
                compression=None if out.compression == "none" else out.compression,
                compression_level=out.compression_level,
                use_dictionary=_DICTIONARY_COLUMNS,
                write_statistics=_STATISTICS_COLUMNS,
                column_encoding={SIGNAL_COLUMN: _SIGNAL_ENCODING[self.unit.layout.dtype]},
            )
        self._writer.write_table(table, row_group_size=len(samples))
        self.rows += len(samples)

    def close(self) -> str | None:
        """The shard's sha256, or None when the unit made no sample (and no file)."""
        self._flush()
        if self._writer is None:
            return None
        self._writer.close()
        sha = file_sha256(self.tmp)
        os.replace(self.tmp, self.path)
        return sha

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.close()
            os.remove(self.tmp)
            self._writer = None


def marker_path(out_dir: str, unit_id: str) -> str:
    return os.path.join(out_dir, STATE_DIR, "units", f"{unit_id}.json")


def write_marker(out_dir: str, result: UnitResult) -> None:
    path = marker_path(out_dir, result.unit_id)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with atomic_open(path) as f:
        f.write(result.to_json())


def read_marker(out_dir: str, unit: Unit) -> UnitResult | None:
    """The unit's result if its shard is complete and unchanged, else None (it will be rebuilt)."""
    path = marker_path(out_dir, unit.unit_id)
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            result = UnitResult(**json.load(f))
    except (ValueError, TypeError):
        return None
    if result.sha256 == EMPTY_SHARD:
        return result
    shard = os.path.join(out_dir, unit.relpath)
    return result if os.path.exists(shard) and result.sha256 == file_sha256(shard) else None

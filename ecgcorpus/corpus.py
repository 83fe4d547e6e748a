"""Read a built corpus: its shards, lock file and samples, streaming (memory bounded by a row group)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .errors import EcgCorpusError

LOCK_NAME = "build.lock.json"              # the names of what a build writes beside data/
QUARANTINE_NAME = "quarantine.jsonl"
LICENSE_NAME = "LICENSE.md"
CARD_NAME = "README.md"


@dataclass(frozen=True)
class Shard:
    path: Path
    relpath: str
    config: str
    split: str


class Corpus:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        if not (self.root / "data").is_dir():
            raise EcgCorpusError(f"{self.root}: not an ecgcorpus output (no data/ folder)")

    @property
    def lock(self) -> dict | None:
        path = self.root / LOCK_NAME
        if not path.exists():
            return None
        try:
            return json.loads(path.read_text())
        except ValueError as exc:
            raise EcgCorpusError(f"{path}: unreadable lock file ({exc})") from None

    def shards(self) -> list[Shard]:
        out = []
        for path in sorted((self.root / "data").glob("*/*.parquet")):
            out.append(Shard(path, str(path.relative_to(self.root)), path.parent.name, path.name.split("-")[0]))
        return out

    @staticmethod
    def signal_dtype(shard: Shard) -> str:
        """How the shard stores signals: int16 (ADC units with gains), float32 or float64 (mV)."""
        signal = pq.read_schema(shard.path).field("ecgs").type.value_type.field("signal").type
        return str(signal.value_type.value_type.to_pandas_dtype().__name__)

    def batches(self, shard: Shard, columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
        yield from pq.ParquetFile(shard.path).iter_batches(batch_size=64, columns=columns)

    def rows(self, columns: list[str] | None = None) -> Iterator[tuple[Shard, dict]]:
        for shard in self.shards():
            for batch in self.batches(shard, columns):
                for row in batch.to_pylist():
                    yield shard, row

    def find(self, sample_id: str) -> tuple[Shard, dict]:
        """The row with this id (a unique prefix is enough)."""
        hits = []
        for shard in self.shards():
            ids = pq.read_table(shard.path, columns=["id"]).column("id").to_pylist()
            for index, value in enumerate(ids):
                if value.startswith(sample_id):
                    hits.append((shard, index))
        if not hits:
            raise EcgCorpusError(f"{self.root}: no sample with id {sample_id!r}")
        if len(hits) > 1:
            raise EcgCorpusError(f"{self.root}: id prefix {sample_id!r} matches {len(hits)} samples; give more of it")
        shard, index = hits[0]
        table = pq.read_table(shard.path)
        return shard, table.slice(index, 1).to_pylist()[0]


def ecg_to_mv(ecg: dict, dtype="float64"):
    """A stored ECG struct (as a Python dict) → array (leads × samples) in mV; WFDB's "no sample"
    value (−32768, MIMIC's gaps, stored as is in int16 configs) becomes NaN."""
    import numpy as np

    from .sources.wfdb_io import WFDB_INVALID_16

    signal = np.asarray(ecg["signal"], dtype=dtype)
    if signal.ndim != 2:                       # an ECG with no samples
        signal = signal.reshape(len(ecg["leads"]), -1)
    gain = np.asarray(ecg["gain"], dtype=dtype)[:, None]
    baseline = np.asarray(ecg["baseline"], dtype=dtype)[:, None]
    return np.where(signal == WFDB_INVALID_16, np.nan, (signal - baseline) / gain).astype(dtype, copy=False)

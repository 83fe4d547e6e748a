"""Reading a built config back as Python rows (shared by the builder tests)."""

from pathlib import Path

import pyarrow.parquet as pq


def rows(out: Path, config: str, columns=("conversations", "ecgs", "meta")) -> list[dict]:
    """Every row of ``config``'s shards, in shard order (``columns=None``: all columns)."""
    return [row for path in sorted((Path(out) / "data" / config).glob("*.parquet"))
            for row in pq.read_table(path, columns=list(columns) if columns else None).to_pylist()]

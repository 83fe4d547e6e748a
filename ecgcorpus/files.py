"""File helpers shared by the engine, the sources and the audit."""

from __future__ import annotations

import hashlib


def file_sha256(path: str) -> str:
    """sha256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()

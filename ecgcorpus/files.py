"""File helpers shared by the engine, the sources and the audit."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO


def file_sha256(path: str) -> str:
    """sha256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@contextmanager
def atomic_open(path: str, mode: str = "w") -> Iterator[IO]:
    """A file that appears at ``path`` whole or not at all: written beside it, then renamed over
    it. The temporary name carries the process id, so workers writing one folder never collide."""
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, mode, encoding=None if "b" in mode else "utf-8") as f:
        yield f
    os.replace(tmp, path)

"""What a build publishes names no local path: files are relative to their source's root, and any
other absolute path (a builder's table, say) is reduced to its file name."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from typing import Any

_ABSOLUTE = re.compile(r"^(?:/|[A-Za-z]:[\\/]|~[\\/])")


def relative_to(path: str, root: str) -> str:
    """``path`` relative to ``root`` when it lies under it, else its file name."""
    path, root = os.path.normpath(path), os.path.normpath(root)
    if path == root:
        return "."
    if path.startswith(root.rstrip(os.sep) + os.sep):
        return path[len(root.rstrip(os.sep)) + 1:]
    return os.path.basename(path) if _ABSOLUTE.match(path) else path


def portable(value: Any) -> Any:
    """``value`` (JSON-like) with every absolute path string reduced to its file name."""
    if isinstance(value, str):
        return os.path.basename(value.rstrip("/\\")) if _ABSOLUTE.match(value) else value
    if isinstance(value, dict):
        return {k: portable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [portable(v) for v in value]
    return value


def portable_quarantine(entries: Iterable[dict], sources) -> Iterator[dict]:
    """Quarantine entries with ``file`` relative to the root of the entry's source (``source``: a
    key of the manifest's ``sources``, the SourceSpecs), one at a time."""
    roots = {spec.key: spec.root for spec in sources}
    for entry in entries:
        root = roots.get(entry.get("source") or "")
        file = entry.get("file")
        if file:
            entry = {**entry, "file": relative_to(file, root) if root else portable(file)}
        yield entry

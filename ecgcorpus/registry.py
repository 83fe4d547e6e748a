"""Name → class tables ("module:Class"), imported lazily so that `ecgcorpus --help` stays fast."""

from __future__ import annotations

import importlib

from .errors import EcgCorpusError


def load_registered(table: dict[str, str], name: str, kind: str):
    """The class registered under ``name``; an unknown name is a user error listing the known ones."""
    try:
        module, cls = table[name].split(":")
    except KeyError:
        raise EcgCorpusError(f"unknown {kind} {name!r}; known: {', '.join(table)}") from None
    return getattr(importlib.import_module(module), cls)

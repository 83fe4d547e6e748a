"""Readers of the public ECG databases, by their release layouts.

>>> from ecgcorpus.sources import open_source
>>> src = open_source("ptbxl", root, rate=500)
>>> for ref in src.scan():
...     ecg = src.load(ref)
"""

from __future__ import annotations

from ..registry import load_registered
from .base import Source

# name → "module:Class"; imported lazily so that `ecgcorpus --help` stays fast.
SOURCES: dict[str, str] = {
    "ptbxl": "ecgcorpus.sources.ptbxl:PtbXl",
    "mimic": "ecgcorpus.sources.mimic:MimicIvEcg",
    "chapman": "ecgcorpus.sources.chapman:ChapmanWfdb",
    "chapman-figshare": "ecgcorpus.sources.chapman_figshare:ChapmanFigshare",
    "sph": "ecgcorpus.sources.sph:Sph",
    "cpsc2018": "ecgcorpus.sources.cpsc2018:Cpsc2018",
    "cpsc2018-cinc": "ecgcorpus.sources.chapman:CincCpsc2018",
    "wfdb-annotated": "ecgcorpus.sources.annotated:BeatAnnotatedWfdb",
    "code15": "ecgcorpus.sources.code15:Code15",
    "ecgqa": "ecgcorpus.sources.ecgqa:EcgQa",
}


def source_class(name: str) -> type[Source]:
    return load_registered(SOURCES, name, "source")


def options_model(name: str):
    """A pydantic model of the source's options (its constructor's keyword arguments), so that a
    manifest's ``options:`` are checked at load with the same messages as every other key."""
    import inspect
    import typing

    from pydantic import ConfigDict, create_model

    init = source_class(name).__init__
    hints = typing.get_type_hints(init)
    fields = {p.name: (hints.get(p.name, typing.Any), p.default)
              for p in inspect.signature(init).parameters.values()
              if p.name not in ("self", "root", "on_error") and p.kind is p.POSITIONAL_OR_KEYWORD}
    return create_model(f"{name}-options", __config__=ConfigDict(extra="forbid", strict=False), **fields)


def open_source(name: str, root, **options) -> Source:
    """Open one database tree; options are per source (e.g. ``rate=100`` for PTB-XL)."""
    return source_class(name)(root, **options)


__all__ = ["SOURCES", "Source", "open_source", "source_class"]

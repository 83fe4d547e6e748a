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
}


def source_class(name: str) -> type[Source]:
    return load_registered(SOURCES, name, "source")


def open_source(name: str, root, **options) -> Source:
    """Open one database tree; options are per source (e.g. ``rate=100`` for PTB-XL)."""
    return source_class(name)(root, **options)


__all__ = ["SOURCES", "Source", "open_source", "source_class"]

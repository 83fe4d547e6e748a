"""Versioned prompt files under ecgcorpus/prompts/llm/ (YAML), with the sha256 that meta records."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import yaml

from ..errors import EcgCorpusError


@dataclass(frozen=True)
class PromptFile:
    name: str
    data: dict
    sha256: str

    def __getitem__(self, key):
        return self.data[key]


@lru_cache(maxsize=None)
def load_llm_prompts(name: str) -> PromptFile:
    """``ecgcorpus/prompts/llm/{name}.yaml``, e.g. ``qa-v1``."""
    path = resources.files("ecgcorpus.prompts").joinpath("llm", f"{name}.yaml")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        known = sorted(p.name[:-5] for p in resources.files("ecgcorpus.prompts").joinpath("llm").iterdir()
                       if p.name.endswith(".yaml"))
        raise EcgCorpusError(f"no LLM prompt file {name!r} (have: {', '.join(known)})") from None
    return PromptFile(name, yaml.safe_load(text), hashlib.sha256(text.encode()).hexdigest())

"""Prompt and template files (YAML / Markdown), shipped as package data."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import yaml


@lru_cache(maxsize=None)
def load_prompts(name: str) -> dict:
    """The parsed YAML file ``ecgcorpus/prompts/{name}.yaml``."""
    text = resources.files("ecgcorpus.prompts").joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)

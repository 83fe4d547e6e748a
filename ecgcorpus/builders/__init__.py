"""Builders turn RecordRefs into Samples: report, localization, comparison, features, label QA, image, LLM QA."""

from __future__ import annotations

import importlib

from ..errors import EcgCorpusError
from .base import Builder, BuildContext, WorkItem

BUILDERS: dict[str, str] = {
    "report": "ecgcorpus.builders.report:ReportBuilder",
    "image": "ecgcorpus.builders.image:ImageBuilder",
    "comparison": "ecgcorpus.builders.comparison:ComparisonBuilder",
    "features": "ecgcorpus.builders.features:FeaturesBuilder",
    "label_qa": "ecgcorpus.builders.label_qa:LabelQABuilder",
    "llm_qa": "ecgcorpus.builders.llm_qa:LlmQaBuilder",
    "localization": "ecgcorpus.builders.localization:LocalizationBuilder",
    "rhythm_strips": "ecgcorpus.builders.localization_strips:RhythmStripBuilder",
}


def builder_class(name: str) -> type[Builder]:
    try:
        module, cls = BUILDERS[name].split(":")
    except KeyError:
        raise EcgCorpusError(f"unknown builder type {name!r}; known: {', '.join(BUILDERS)}") from None
    return getattr(importlib.import_module(module), cls)


__all__ = ["BUILDERS", "Builder", "BuildContext", "WorkItem", "builder_class"]

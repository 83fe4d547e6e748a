"""Builders turn RecordRefs into Samples: report, localization, comparison, features, label QA, image, LLM QA."""

from __future__ import annotations

from ..registry import load_registered
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
    "ecgqa": "ecgcorpus.builders.ecgqa:EcgQaBuilder",
}


def builder_class(name: str) -> type[Builder]:
    return load_registered(BUILDERS, name, "builder type")


__all__ = ["BUILDERS", "Builder", "BuildContext", "WorkItem", "builder_class"]

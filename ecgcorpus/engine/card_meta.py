"""The Hub YAML header of the dataset card: licence, task categories, languages, sizes, configs
and ``dataset_info`` (features, splits with bytes and example counts), as the Hub and `datasets`
read them."""

from __future__ import annotations

import os
from collections import defaultdict

import pyarrow.parquet as pq

from ..sources import source_class
from .schema import SignalLayout, hf_features

SPLIT_ORDER = ("train", "validation", "test")
MIXED_LICENSE_NAME = "ecgcorpus-source-terms"
# The Hub's size buckets (n = examples).
_SIZES = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
          (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"), (1_000_000_000, "100M<n<1B")]


def size_category(n: int) -> str:
    return next((label for limit, label in _SIZES if n < limit), "n>1T")


def corpus_license(manifest) -> dict:
    """``license`` (+ ``license_name``/``license_link`` for "other"): one source licence id when
    every source shares it, else "other", pointing at LICENSE.md, which lists each source's terms."""
    if manifest.output.license:
        return {"license": manifest.output.license}
    ids = {source_class(spec.name).license_id for spec in manifest.sources}
    if len(ids) == 1 and "other" not in ids:
        return {"license": ids.pop()}
    return {"license": "other", "license_name": MIXED_LICENSE_NAME, "license_link": "LICENSE.md"}


def languages(manifest) -> list[str]:
    """English (every template and generated answer), plus the languages of written reports that
    reach a report answer as written (PTB-XL's German and Swedish, unless filtered or translated)."""
    out = {"en"}
    for spec in manifest.builders:
        params = spec.params or {}
        writes_reports = spec.type == "report" or (spec.type == "features" and params.get("with_report"))
        if not writes_reports or params.get("ptbxl_translation"):
            continue
        keys = spec.sources or [s.key for s in manifest.sources]
        written = {lang for key in keys for lang in source_class(manifest.source(key).name).report_languages}
        out |= set(params["languages"]) & written if params.get("languages") else written
    return sorted(out)


def task_categories(manifest) -> list[str]:
    types = {spec.type for spec in manifest.builders}
    out = {"text-generation"}
    if types - {"report", "image"} or any((spec.params or {}).get("base", "report") != "report"
                                          for spec in manifest.builders if spec.type == "image"):
        out.add("question-answering")
    if "image" in types:
        out |= {"image-text-to-text", "visual-question-answering"}
    return sorted(out)


def yaml_features(spec: dict) -> list[dict]:
    """`datasets` feature dict (``hf_features``) → the card's YAML feature list."""
    return [dict(name=name, **_yaml_type(feature)) for name, feature in spec.items()]


def _yaml_type(feature) -> dict:
    if isinstance(feature, dict) and "_type" not in feature:          # a struct
        return {"struct": yaml_features(feature)}
    kind = feature["_type"]
    if kind == "Value":
        return {"dtype": feature["dtype"]}
    if kind == "Image":
        return {"dtype": "image"}
    if kind == "List":
        inner = feature["feature"]
        if isinstance(inner, dict) and "_type" not in inner:
            out = {"list": yaml_features(inner)}
        elif inner["_type"] == "Value":
            out = {"list": inner["dtype"]}
        elif inner["_type"] == "Image":
            out = {"list": "image"}
        else:
            out = {"list": _yaml_type(inner)}
        if feature.get("length", -1) not in (-1, None):
            out["length"] = feature["length"]
        return out
    raise ValueError(f"no YAML form for feature type {kind}")


def card_header(plan, results, root: str) -> dict:
    """The whole YAML header; sizes come from the shards' Parquet footers."""
    manifest = plan.manifest
    layouts: dict[str, SignalLayout] = {}
    splits: dict[str, dict[str, dict]] = defaultdict(dict)
    for unit, result in zip(plan.units, results):
        layouts.setdefault(unit.config, unit.layout)
        if not result.rows:
            continue
        path = os.path.join(root, result.relpath)
        meta = pq.ParquetFile(path).metadata
        entry = splits[unit.config].setdefault(unit.split, {"num_bytes": 0, "num_examples": 0, "download": 0})
        entry["num_bytes"] += sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        entry["num_examples"] += result.rows
        entry["download"] += os.path.getsize(path)
    built = [config for config in layouts if splits.get(config)]
    total = sum(e["num_examples"] for config in built for e in splits[config].values())
    header = {
        **corpus_license(manifest),
        "pretty_name": manifest.name,
        "language": languages(manifest),
        "task_categories": task_categories(manifest),
        "size_categories": [size_category(total)],
        "tags": ["ecg", "electrocardiogram", "medical", "biosignals", "instruction-tuning", "ecgcorpus"],
        "configs": [
            {"config_name": config, **({"default": True} if i == 0 else {}),
             "data_files": [{"split": s, "path": f"data/{config}/{s}-*.parquet"}
                            for s in SPLIT_ORDER if s in splits[config]]}
            for i, config in enumerate(built)
        ],
        "dataset_info": [
            {"config_name": config,
             "features": yaml_features(hf_features(layouts[config])),
             "splits": [{"name": s, "num_bytes": splits[config][s]["num_bytes"],
                         "num_examples": splits[config][s]["num_examples"]}
                        for s in SPLIT_ORDER if s in splits[config]],
             "download_size": sum(e["download"] for e in splits[config].values()),
             "dataset_size": sum(e["num_bytes"] for e in splits[config].values())}
            for config in built
        ],
    }
    return header

"""The dataset card (README.md of the output): HF YAML header + how the corpus was built."""

from __future__ import annotations

from collections import defaultdict

import yaml

from ..sources import source_class
from .plan import Plan
from .shard import UnitResult


def render_card(plan: Plan, results: list[UnitResult], quarantine: list[dict]) -> str:
    manifest = plan.manifest
    configs: dict[str, set[str]] = defaultdict(set)
    rows: dict[tuple[str, str], int] = defaultdict(int)
    for unit, r in zip(plan.units, results):
        configs.setdefault(unit.config, set())
        if r.rows:
            configs[unit.config].add(unit.split)
            rows[(unit.config, unit.split)] += r.rows
    sources = [source_class(spec.name) for spec in manifest.sources]
    licenses = sorted({cls.license for cls in sources})
    header = {
        "license": manifest.output.license or "other",
        "pretty_name": manifest.name,
        "tags": ["ecg", "electrocardiogram", "medical", "instruction-tuning", "ecgcorpus"],
        "configs": [
            {"config_name": config, **({"default": True} if i == 0 else {}),
             "data_files": [{"split": s, "path": f"data/{config}/{s}-*.parquet"}
                            for s in ("train", "validation", "test") if s in splits]}
            for i, (config, splits) in enumerate((c, s) for c, s in configs.items() if s)
        ],
    }
    lines = ["---", yaml.safe_dump(header, sort_keys=False, allow_unicode=True).rstrip(), "---", "",
             f"# {manifest.name}", ""]
    if manifest.description:
        lines += [manifest.description.strip(), ""]
    lines += ["Built with [ecgcorpus](https://pypi.org/project/ecgcorpus/) from the manifest recorded in "
              "`build.lock.json` (same manifest + same inputs = byte-identical shards).", "",
              "## Contents", "", "| config | split | samples |", "|---|---|---|"]
    lines += [f"| {c} | {s} | {n} |" for (c, s), n in sorted(rows.items())]
    lines += ["", f"Quarantined (skipped with a reason, listed in `quarantine.jsonl`): {len(quarantine)}.", "",
              "## Sources, licences and attribution", ""]
    for spec, cls in zip(manifest.sources, sources):
        lines.append(f"- **{cls.title}** (`{spec.name}`, {plan.record_counts.get(spec.key, 0)} records read): "
                     f"{cls.license}. {cls.homepage}")
    lines += ["", "The corpus inherits the terms of its sources: " + "; ".join(licenses) + ". Cite the source "
              "databases when you use it.", "", "## How it was built", ""]
    profile = manifest.profile
    lines += [
        f"- Signal profile: rate {profile.fs or 'native'} Hz, leads {' '.join(profile.leads) if profile.leads else 'as recorded'}, "
        f"duration {profile.duration_s or 'whole record'} s (crop: {profile.crop}, pad: {profile.pad}); "
        f"normalization for training: `{profile.normalization}` (signals are stored raw).",
        f"- Splits: `{manifest.splits.policy}` (patient-disjoint by a hash of source + patient id"
        + (", the sources' official splits where they have one" if manifest.splits.policy == "official" else "")
        + f"), ratios {manifest.splits.ratios}, seed {manifest.seed}.",
        "- Builders: " + ", ".join(f"`{b.type}` → config `{b.config_name}` {b.params or ''}".strip()
                                   for b in manifest.builders) + ".",
        "- Schema: `id` (content hash), `task`, `split`, `conversations` ([{from, value}] with `<ecg>`/`<image>` "
        "placeholders), `ecgs` (record id, source, patient id, fs, leads, start/stop in native samples, gain, "
        "baseline, signal leads × samples; int16 signals are ADC units: mV = (signal − baseline) / gain), "
        "`images`, `meta` (JSON).",
        "",
        "## Loading",
        "",
        "```python",
        "import datasets",
        "from ecgcorpus.hf import to_mv          # pip install ecgcorpus",
        "",
        f'ds = datasets.load_dataset("path/or/hub-id", "{next(iter(c for c, s in configs.items() if s), "default")}", split="train")',
        "ds.set_transform(to_mv)                 # every ECG's signal as float32 mV (torch tensor if torch is installed)",
        'ds[0]["ecgs"][0]["signal"].shape        # (leads, samples)',
        "```",
        "",
        "Needs `datasets>=4.0` (the schema uses its `List` feature type).",
        "",
    ]
    return "\n".join(lines)

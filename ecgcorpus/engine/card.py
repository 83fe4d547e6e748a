"""The dataset card (README.md of the output): the Hub YAML header (``card_meta``), then what is
in the corpus, how to load it in mV, where it comes from (licences, citations), how it was built,
what was quarantined and its known limits. LICENSE.md lists each source's terms."""

from __future__ import annotations

from collections import defaultdict

import yaml

from ..sources import source_class
from .card_meta import card_header
from .health import QuarantineTally
from .plan import Plan
from .portable import portable
from .shard import UnitResult

LIMITATIONS = [
    "Answers restate what the sources' labels, reports and machine measurements say of each ECG; they "
    "are not a clinician's reading. Machine reports (e.g. MIMIC-IV-ECG's) are the cart's own statements.",
    "Label vocabularies differ between sources, and a source labels only the classes it was built for: the "
    "absence of a label is not evidence of absence.",
    "Written reports keep the language their source wrote them in unless the manifest filters or translates "
    "them (see `language` above and `meta.report_lang`).",
    "Not for clinical use: a corpus for training and evaluating models.",
]


def render_card(plan: Plan, results: list[UnitResult], quarantine: QuarantineTally, root: str) -> str:
    manifest = plan.manifest
    header = card_header(plan, results, root)
    rows: dict[tuple[str, str], int] = defaultdict(int)
    for unit, r in zip(plan.units, results):
        rows[(unit.config, unit.split)] += r.rows
    first = header["configs"][0]["config_name"] if header["configs"] else "default"
    lines = ["---", yaml.safe_dump(header, sort_keys=False, allow_unicode=True).rstrip(), "---", "",
             f"# {manifest.name}", ""]
    if manifest.description:
        lines += [manifest.description.strip(), ""]
    lines += ["Built with [ecgcorpus](https://pypi.org/project/ecgcorpus/) from the manifest recorded in "
              "`build.lock.json` (same manifest + same inputs = byte-identical shards).", "",
              "## Contents", "", "| config | split | samples |", "|---|---|---|"]
    lines += [f"| {c} | {s} | {n} |" for (c, s), n in sorted(rows.items()) if n]
    lines += ["", "## Loading", "", "```python", "import datasets",
              "from ecgcorpus.hf import to_mv          # pip install ecgcorpus", "",
              f'ds = datasets.load_dataset("path/or/hub-id", "{first}", split="train")',
              "ds.set_transform(to_mv)                 # every ECG's signal as float32 mV (torch tensor if torch is installed)",
              'ds[0]["ecgs"][0]["signal"].shape        # (leads, samples)', "```", "",
              "Needs `datasets>=4.0` (the schema uses its `List` feature type).", "",
              "## Sources, licences and citations", ""]
    for spec in manifest.sources:
        cls = source_class(spec.name)
        lines.append(f"- **{cls.title}** (`{spec.name}`, {plan.record_counts.get(spec.key, 0)} records read). "
                     f"Licence: {cls.license}. {cls.homepage}" + (f"  \n  Cite: {cls.citation}" if cls.citation else ""))
    licenses = sorted({source_class(spec.name).license for spec in manifest.sources})
    lines += ["", "The corpus inherits the terms of its sources (" + "; ".join(licenses) + "): see "
              "`LICENSE.md`. Cite the source databases when you use it.", "", "## How it was built", ""]
    profile = manifest.profile
    lines += [
        f"- Signal profile: rate {profile.fs or 'native'} Hz, leads {' '.join(profile.leads) if profile.leads else 'as recorded'}, "
        f"duration {profile.duration_s or 'whole record'} s (crop: {profile.crop}, pad: {profile.pad}); "
        f"normalization for training: `{profile.normalization}` (signals are stored raw).",
        f"- Splits: `{manifest.splits.policy}` (patient-disjoint by a hash of source + patient id"
        + (", the sources' official splits where they have one" if manifest.splits.policy == "official" else "")
        + f"), ratios {manifest.splits.ratios}, seed {manifest.seed}.",
        "- Builders: " + ", ".join(f"`{b.type}` → config `{b.config_name}` {portable(b.params) or ''}".strip()
                                   for b in manifest.builders) + ".",
        "- Schema: `id` (content hash), `task`, `split`, `conversations` ([{from, value}] with `<ecg>`/`<image>` "
        "placeholders), `ecgs` (record id, source, patient id, fs, leads, start/stop in native samples, gain, "
        "baseline, signal leads × samples; int16 signals are ADC units: mV = (signal − baseline) / gain), "
        "`images`, `meta` (JSON).",
        "",
    ]
    lines += quarantine_section(quarantine)
    lines += ["## Known limitations", ""] + [f"- {item}" for item in LIMITATIONS] + [""]
    return "\n".join(lines)


def quarantine_section(quarantine: QuarantineTally) -> list[str]:
    """How many records were set aside, at which stage, and the commonest reasons."""
    lines = ["## Quarantine", "", f"{quarantine.total} records (or work items) were set aside, each listed with its "
             "reason in `quarantine.jsonl`."]
    if not quarantine.total:
        return lines + [""]
    stages = quarantine.summary()["by_stage"]
    lines += ["By stage: " + ", ".join(f"{stage} {n}" for stage, n in sorted(stages.items())) +
              " (scan: unreadable in its source; builder: does not fit that builder; build: rejected while building).",
              "", "| reason | config | records |", "|---|---|---|"]
    reasons = quarantine.reasons_by_config()
    lines += [f"| {reason} | {config} | {n} |" for (reason, config), n in reasons.most_common(10)]
    return lines + [""]


def render_license(plan: Plan) -> str:
    """LICENSE.md: the corpus is a derivative of its sources; each source's terms, link and citation."""
    lines = [f"# Terms of {plan.manifest.name}", "",
             "This corpus is derived from the databases below. It carries their terms: each sample is "
             "subject to the terms of the database its ECG comes from (`ecgs.source`, or `meta.ecgs` for "
             "images).", ""]
    for spec in plan.manifest.sources:
        cls = source_class(spec.name)
        lines += [f"## {cls.title} (`{spec.name}`)", "", f"- Licence: {cls.license} (Hub id `{cls.license_id}`)",
                  f"- Source: {cls.homepage}"] + ([f"- Cite: {cls.citation}"] if cls.citation else []) + [""]
    return "\n".join(lines)

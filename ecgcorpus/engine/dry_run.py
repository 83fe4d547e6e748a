"""`ecgcorpus build MANIFEST --dry-run`: the plan, without running a unit or touching the output.

What it reports: records per source and those quarantined at scan (the scan reads every signal to
fingerprint it, so missing and damaged files are among them), the missing files with the first few
paths, work items per config and split, shards, and the estimated output size (uncompressed; zstd
typically halves int16 signals).
"""

from __future__ import annotations

from collections import defaultdict

from ..manifest import Manifest
from .plan import make_plan
from .portable import portable_quarantine

MISSING = ("not found", "missing")


def dry_run(manifest: Manifest) -> dict:
    plan = make_plan(manifest)

    def at_scan(source=None, missing=False):
        return lambda q: q.get("stage") == "scan" and source in (None, q.get("source")) and (
            not missing or any(word in q["reason"] for word in MISSING))

    quarantine = plan.quarantine
    first_missing = list(portable_quarantine(quarantine.first(at_scan(missing=True), 5), manifest.sources))
    configs: dict[str, dict] = defaultdict(lambda: {"items": {}, "shards": 0})
    for unit in plan.units:
        entry = configs[unit.config]
        entry["items"][unit.split] = entry["items"].get(unit.split, 0) + unit.n_items
        entry["shards"] += 1
    for config, entry in configs.items():
        entry["estimated_bytes"] = sum(entry["items"].values()) * plan.row_bytes.get(config, 0)
    return {
        "manifest": manifest.name,
        "out_dir": manifest.output.dir,
        "sources": {key: {"records": n, "quarantined_at_scan": quarantine.count(at_scan(key))}
                    for key, n in plan.record_counts.items()},
        "missing_files": {"count": quarantine.count(at_scan(missing=True)),
                          "first": [f"{q['source']}: {q['file']}" for q in first_missing]},
        "declined_at_planning": quarantine.count(lambda q: q.get("stage") == "builder"),
        "configs": dict(configs),
        "skipped": plan.skipped(),
        "estimated_bytes": sum(entry["estimated_bytes"] for entry in configs.values()),
    }


def dry_run_lines(report: dict) -> list[str]:
    out = [f"{report['manifest']} (dry run: nothing built, {report['out_dir']} untouched)"]
    for key, source in report["sources"].items():
        out.append(f"  source {key}: {source['records']} records, {source['quarantined_at_scan']} quarantined at scan")
    missing = report["missing_files"]
    if missing["count"]:
        out.append(f"  missing files: {missing['count']}, first: {', '.join(missing['first'])}")
    for config, entry in report["configs"].items():
        splits = ", ".join(f"{split} {n}" for split, n in sorted(entry["items"].items()))
        out.append(f"  config {config}: {splits} work items, {entry['shards']} shards, "
                   f"~{entry['estimated_bytes'] / 2**20:.1f} MiB before compression")
    out += [f"  config {config}: skipped — {why}" for config, why in report["skipped"].items()]
    out.append(f"  declined at planning: {report['declined_at_planning']} · estimated output "
               f"~{report['estimated_bytes'] / 2**20:.1f} MiB before compression")
    return out

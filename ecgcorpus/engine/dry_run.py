"""`ecgcorpus build MANIFEST --dry-run`: the plan, without running a unit or touching the output.

What it reports: records per source and those quarantined at scan (the scan reads every signal to
fingerprint it, so missing and damaged files are among them), the missing files with the first few
paths, work items per config and split, shards, and the estimated output size (uncompressed; zstd
typically halves int16 signals).
"""

from __future__ import annotations

from collections import Counter, defaultdict

from ..manifest import Manifest
from .plan import make_plan
from .portable import portable_quarantine

MISSING = ("not found", "missing")


def dry_run(manifest: Manifest) -> dict:
    plan = make_plan(manifest)
    scan = [q for q in plan.quarantine if q.get("stage") == "scan"]
    per_source = Counter(q.get("source") for q in scan)
    missing = portable_quarantine([q for q in scan if any(word in q["reason"] for word in MISSING)], manifest.sources)
    configs: dict[str, dict] = defaultdict(lambda: {"items": {}, "shards": 0})
    for unit in plan.units:
        entry = configs[unit.config]
        entry["items"][unit.split] = entry["items"].get(unit.split, 0) + len(unit.items)
        entry["shards"] += 1
    for config, entry in configs.items():
        entry["estimated_bytes"] = sum(entry["items"].values()) * plan.row_bytes.get(config, 0)
    return {
        "manifest": manifest.name,
        "out_dir": manifest.output.dir,
        "sources": {key: {"records": n, "quarantined_at_scan": per_source.get(key, 0)}
                    for key, n in plan.record_counts.items()},
        "missing_files": {"count": len(missing), "first": [f"{q['source']}: {q['file']}" for q in missing[:5]]},
        "declined_at_planning": sum(q.get("stage") == "builder" for q in plan.quarantine),
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

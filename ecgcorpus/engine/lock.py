"""build.lock.json: everything needed to check or reproduce a build (no timestamps: deterministic)."""

from __future__ import annotations

import json
import platform
from importlib import metadata

from .. import __version__
from ..files import atomic_open
from .plan import Plan
from .health import QuarantineTally
from .portable import portable
from .shard import UnitResult

_PINNED = ("wfdb", "neurokit2", "numpy", "scipy", "pandas", "pyarrow", "datasets", "h5py", "openpyxl",
           "pydantic", "opencv-python-headless", "openai")


def dependency_versions() -> dict[str, str | None]:
    out = {}
    for name in _PINNED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def lock_document(plan: Plan, results: list[UnitResult], quarantine: QuarantineTally) -> dict:
    return {
        "ecgcorpus": __version__,
        "python": platform.python_version(),
        "dependencies": dependency_versions(),
        "manifest": portable(json.loads(plan.manifest.canonical_json())),
        "manifest_sha256": plan.manifest.digest(),
        "plan_sha256": plan.digest,
        "inputs": plan.inputs,
        "shards": [{"path": r.relpath, "rows": r.rows, "sha256": r.sha256, "unit_id": r.unit_id}
                   for r in sorted(results, key=lambda r: r.relpath) if r.rows],
        "quarantine": quarantine.summary(),
        "stats": builder_stats(plan, results),
    }


def builder_stats(plan: Plan, results: list[UnitResult]) -> dict[str, dict[str, float]]:
    """Builder counters (LLM requests, tokens, cost …) summed per config, in plan order."""
    out: dict[str, dict[str, float]] = {}
    for unit, result in zip(plan.units, results):
        for key, value in sorted(result.stats.items()):
            totals = out.setdefault(unit.config, {})
            totals[key] = round(totals.get(key, 0) + value, 6)
    return out


def write_json(path: str, doc: dict) -> None:
    with atomic_open(path) as f:
        json.dump(doc, f, indent=2, sort_keys=True, ensure_ascii=False)
        f.write("\n")

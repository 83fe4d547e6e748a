"""Per-config health after a build: a config with no samples, or one that lost more than
``output.max_quarantine_rate`` of its records, fails the build (exit 1) by name, with its top
reasons. Builders disabled on purpose (no LLM endpoint) are exempt: the summary says why.

The rate is the share of the config's work items that were quarantined while building: records
the builder accepted but could not turn into samples. Records it declines at planning because
they do not fit it (``skip_reason``: no labels to ask about, a rhythm it does not localize …),
and records a source could not list at scan (e.g. a partial download), are in the quarantine
with their reasons too, but they are filters, not failures of this config, so they do not count."""

from __future__ import annotations

import re
from collections import Counter

from .plan import Plan

_VARYING = re.compile(r"\S*\d\S*")


def reason_kind(reason: str) -> str:
    """A reason without what varies per record (ids, file names, numbers), to count alike ones."""
    return _VARYING.sub("…", reason.split(" (")[0])[:100]


def quarantine_summary(entries) -> dict:
    """Counts of quarantine entries by stage, by config, and by reason (ids and numbers folded, so
    800k "file missing" lines are one row), commonest first."""
    stages, configs, reasons, total = Counter(), Counter(), Counter(), 0
    for entry in entries:
        total += 1
        stages[entry.get("stage") or "?"] += 1
        configs[entry.get("config") or "(scan)"] += 1
        reasons[reason_kind(entry.get("reason") or "")] += 1
    return {"total": total, "by_stage": dict(sorted(stages.items())), "by_config": dict(sorted(configs.items())),
            "by_reason": dict(reasons.most_common())}


def top_reasons(entries: list[dict], n: int = 3) -> str:
    counts = Counter(reason_kind(entry["reason"]) for entry in entries)
    return "; ".join(f"{reason} ×{k}" for reason, k in counts.most_common(n))


def config_problems(plan: Plan, samples: Counter, quarantine: list[dict]) -> list[str]:
    limit = plan.manifest.output.max_quarantine_rate
    skipped = plan.skipped()
    problems = []
    for builder in plan.builders:
        config = builder.config
        if config in skipped:
            continue
        entries = [q for q in quarantine if q.get("config") == config]
        rows = sum(n for (c, _), n in samples.items() if c == config)
        if rows == 0:
            why = f"top reasons: {top_reasons(entries)}" if entries else "no record reached its builder"
            problems.append(f"config {config!r} has 0 samples ({why})")
            continue
        lost = [q for q in entries if q.get("stage") == "build"]
        given = plan.items_per_config.get(config, 0)
        rate = len(lost) / given if given else 0.0
        if rate > limit:
            problems.append(f"config {config!r} quarantined {len(lost)} of {given} work items ({rate:.0%} > "
                            f"output.max_quarantine_rate {limit:g}); top reasons: {top_reasons(lost)}")
    return problems

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


class QuarantineTally:
    """Quarantine entries counted by (stage, config, kind of reason), as they stream past: what the
    lock, the card and the health check need, without holding the entries."""

    def __init__(self, entries=()):
        self.counts: Counter = Counter()
        for entry in entries:
            self.add(entry)

    def add(self, entry: dict) -> None:
        self.counts[(entry.get("stage") or "?", entry.get("config"), reason_kind(entry.get("reason") or ""))] += 1

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def _by(self, key, where=lambda stage, config, reason: True) -> Counter:
        """The counts summed by ``key(stage, config, reason)``, over the entries ``where`` keeps."""
        out = Counter()
        for fields, n in self.counts.items():
            if where(*fields):
                out[key(*fields)] += n
        return out

    def summary(self) -> dict:
        """Counts by stage, by config, and by reason (ids and numbers folded, so 800k "file
        missing" lines are one row), commonest first."""
        return {"total": self.total, "by_stage": dict(sorted(self._by(lambda s, c, r: s).items())),
                "by_config": dict(sorted(self._by(lambda s, c, r: c or "(scan)").items())),
                "by_reason": dict(self._by(lambda s, c, r: r).most_common())}

    def reasons_by_config(self) -> Counter:
        return self._by(lambda s, c, r: (r, c or "(all)"))

    def _of(self, config: str, stage: str | None):
        return lambda s, c, r: c == config and stage in (None, s)

    def count(self, config: str, stage: str | None = None) -> int:
        kept = self._of(config, stage)
        return sum(n for fields, n in self.counts.items() if kept(*fields))

    def top_reasons(self, config: str, stage: str | None = None, n: int = 3) -> str:
        counts = self._by(lambda s, c, r: r, self._of(config, stage))
        return "; ".join(f"{reason} ×{k}" for reason, k in counts.most_common(n))


def quarantine_summary(entries) -> dict:
    """``QuarantineTally.summary`` of these entries."""
    return QuarantineTally(entries).summary()


def config_problems(plan: Plan, samples: Counter, quarantine: QuarantineTally) -> list[str]:
    limit = plan.manifest.output.max_quarantine_rate
    skipped = plan.skipped()
    problems = []
    for builder in plan.builders:
        config = builder.config
        if config in skipped:
            continue
        rows = sum(n for (c, _), n in samples.items() if c == config)
        if rows == 0:
            why = f"top reasons: {quarantine.top_reasons(config)}" if quarantine.count(config) else \
                "no record reached its builder"
            problems.append(f"config {config!r} has 0 samples ({why})")
            continue
        lost = quarantine.count(config, "build")
        given = plan.items_per_config.get(config, 0)
        rate = lost / given if given else 0.0
        if rate > limit:
            problems.append(f"config {config!r} quarantined {lost} of {given} work items ({rate:.0%} > "
                            f"output.max_quarantine_rate {limit:g}); top reasons: "
                            f"{quarantine.top_reasons(config, 'build')}")
    return problems

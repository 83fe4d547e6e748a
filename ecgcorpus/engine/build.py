"""build(): plan → run the missing units → quarantine, lock file, dataset card. Resumable."""

from __future__ import annotations

import glob
import json
import os
import shutil
from collections import Counter
from dataclasses import dataclass

from ..errors import EcgCorpusError
from ..manifest import Manifest
from .card import render_card
from .executor import Progress, default_workers, run_local
from .lock import LOCK_NAME, lock_document, write_json
from .plan import Plan, make_plan
from .shard import STATE_DIR, UnitResult, read_marker

QUARANTINE_NAME = "quarantine.jsonl"


class BuildError(EcgCorpusError):
    pass


@dataclass
class BuildSummary:
    out_dir: str
    samples: Counter            # (config, split) → rows
    quarantined: int
    stats: dict
    units_run: int
    units_reused: int

    def lines(self) -> list[str]:
        out = [f"{config}/{split}: {n} samples" for (config, split), n in sorted(self.samples.items())]
        out.append(f"quarantined: {self.quarantined} (see {os.path.join(self.out_dir, QUARANTINE_NAME)})")
        for config, totals in self.stats.items():
            out.append(f"{config}: " + ", ".join(f"{k} {v:g}" for k, v in totals.items()))
        out.append(f"units: {self.units_run} built, {self.units_reused} reused · output: {self.out_dir}")
        return out


def build(manifest: Manifest, workers: int | None = None, resume: bool = True,
          progress: bool | None = None, executor: str = "local") -> BuildSummary:
    out_dir = manifest.output.dir
    plan = make_plan(manifest)
    prepare_output(out_dir, plan, resume)
    results: dict[str, UnitResult] = {}
    todo = []
    for unit in plan.units:
        done = read_marker(out_dir, unit)
        if done is not None:
            results[unit.unit_id] = done
        else:
            todo.append(unit)
    reused = len(results)
    bar = Progress(sum(len(u.items) for u in todo), desc=f"building {manifest.name}", enabled=progress)
    try:
        for result in run_units(plan.units if executor == "datatrove" else todo, plan, out_dir, workers, executor):
            if result.unit_id in results:
                continue  # datatrove reports finished units too
            results[result.unit_id] = result
            bar.update(result)
    finally:
        bar.close()
    ordered = [results[u.unit_id] for u in plan.units]
    quarantine = plan.quarantine + [q for r in ordered for q in r.quarantine]
    quarantine.sort(key=lambda q: (q.get("source", ""), q["record_id"] or "", q.get("config", ""), q["reason"]))
    finish_output(out_dir, plan, ordered, quarantine)
    samples = Counter()
    for unit, result in zip(plan.units, ordered):
        samples[(unit.config, unit.split)] += result.rows
    from .lock import builder_stats

    return BuildSummary(out_dir, samples, len(quarantine), builder_stats(plan, ordered), len(todo), reused)


def run_units(units, plan: Plan, out_dir: str, workers: int | None, executor: str):
    if executor == "local":
        return run_local(units, plan.manifest, out_dir, workers or default_workers())
    if executor == "datatrove":
        from .datatrove_executor import run_datatrove

        # datatrove ranks index the whole plan (stable across reruns); finished units are skipped inside.
        return run_datatrove(units, plan.manifest, out_dir, workers)
    raise BuildError(f"unknown executor {executor!r} (available: local, datatrove)")


def prepare_output(out_dir: str, plan: Plan, resume: bool) -> None:
    """Refuse to mix shards of another plan; clear leftovers of interrupted writes."""
    state = os.path.join(out_dir, STATE_DIR, "plan.json")
    if os.path.exists(state):
        with open(state) as f:
            previous = json.load(f).get("plan_sha256")
        if previous != plan.digest and resume:
            raise BuildError(f"{out_dir} holds a build of another manifest or other inputs; "
                             "rerun with --no-resume to start over (its shards will be deleted)")
        if previous != plan.digest or not resume:
            clear_output(out_dir)
    elif not resume:
        clear_output(out_dir)
    elif os.path.isdir(os.path.join(out_dir, "data")):
        raise BuildError(f"{out_dir} holds shards that ecgcorpus did not record; choose another --out or --no-resume")
    os.makedirs(os.path.join(out_dir, STATE_DIR), exist_ok=True)
    for tmp in glob.glob(os.path.join(out_dir, "data", "**", "*.tmp-*"), recursive=True):
        os.remove(tmp)
    write_json(state, {"plan_sha256": plan.digest, "manifest_sha256": plan.manifest.digest()})


def clear_output(out_dir: str) -> None:
    for name in ("data", STATE_DIR):
        shutil.rmtree(os.path.join(out_dir, name), ignore_errors=True)
    for name in (LOCK_NAME, QUARANTINE_NAME, "README.md"):
        path = os.path.join(out_dir, name)
        if os.path.exists(path):
            os.remove(path)


def finish_output(out_dir: str, plan: Plan, results: list[UnitResult], quarantine: list[dict]) -> None:
    expected = {os.path.join(out_dir, r.relpath) for r in results if r.rows}
    for path in glob.glob(os.path.join(out_dir, "data", "**", "*.parquet"), recursive=True):
        if path not in expected:  # a shard of an older layout of the same plan cannot exist; be safe
            os.remove(path)
    tmp = os.path.join(out_dir, QUARANTINE_NAME + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for entry in quarantine:
            f.write(json.dumps(entry, sort_keys=True, ensure_ascii=False) + "\n")
    os.replace(tmp, os.path.join(out_dir, QUARANTINE_NAME))
    write_json(os.path.join(out_dir, LOCK_NAME), lock_document(plan, results, quarantine))
    with open(os.path.join(out_dir, "README.md"), "w", encoding="utf-8") as f:
        f.write(render_card(plan, results, quarantine))

"""build(): plan → prefetch → run the missing units → quarantine, lock file, dataset card. Resumable."""

from __future__ import annotations

import glob
import json
import logging
import os
import shutil
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..corpus import LICENSE_NAME, LOCK_NAME, QUARANTINE_NAME
from ..errors import EcgCorpusError
from ..files import atomic_open
from ..manifest import Manifest
from ..console import announce
from .card import render_card, render_license
from .executor import Progress, default_workers, run_local
from .health import QuarantineTally, config_problems
from .lock import builder_stats, lock_document, write_json
from .plan import Plan, make_plan
from .portable import portable_quarantine
from .shard import STATE_DIR, UnitFailed, UnitResult, read_marker
from .submission import Submitted, load_submission, save_submission, still_running, wait_for

PLAN_STATE = "plan.json"                # ecgcorpus's marker: a folder without it is not ours to delete
OUTPUT_NAMES = ("data", LOCK_NAME, QUARANTINE_NAME, "README.md", LICENSE_NAME)   # what a build writes besides STATE_DIR

log = logging.getLogger("ecgcorpus.build")


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
    skipped: dict[str, str] = field(default_factory=dict)      # config → why its builder made nothing
    problems: list[str] = field(default_factory=list)         # configs that failed their health checks

    @property
    def resumed(self) -> bool:
        return self.units_reused > 0

    def to_dict(self) -> dict:
        configs: dict[str, dict[str, int]] = {}
        for (config, split), n in sorted(self.samples.items()):
            configs.setdefault(config, {})[split] = n
        return {"ok": not self.problems, "out_dir": self.out_dir, "samples": sum(self.samples.values()),
                "configs": configs, "quarantined": self.quarantined, "resumed": self.resumed,
                "units_built": self.units_run, "units_reused": self.units_reused, "skipped": self.skipped,
                "problems": self.problems, "stats": self.stats}

    def lines(self) -> list[str]:
        out = [f"{config}/{split}: {n} samples" for (config, split), n in sorted(self.samples.items())]
        out += [f"{config}: skipped — {why}" for config, why in self.skipped.items()]
        out.append(f"quarantined: {self.quarantined} (see {os.path.join(self.out_dir, QUARANTINE_NAME)})")
        for config, totals in self.stats.items():
            out.append(f"{config}: " + ", ".join(f"{k} {v:g}" for k, v in totals.items()))
        how = (f"resumed: {self.units_reused} units reused, {self.units_run} built" if self.resumed
               else f"fresh build: {self.units_run} units built")
        out.append(f"{how} · output: {self.out_dir}")
        out += [f"FAILED {problem}" for problem in self.problems]
        return out


class BuildIncomplete(BuildError):
    """The build finished writing, but a config is empty or mostly quarantined: exit 1."""

    def __init__(self, summary: BuildSummary):
        self.summary = summary
        super().__init__("; ".join(summary.problems))


def build(manifest: Manifest, workers: int | None = None, resume: bool = True,
          progress: bool | None = None, executor: str = "local", wait: bool = False) -> BuildSummary:
    out_dir = manifest.output.dir
    on_slurm = executor == "datatrove" and manifest.cluster.backend == "slurm"
    stored = load_submission(out_dir, manifest) if on_slurm and resume else None
    if stored is not None:
        plan = stored.plan
        announce(f"{manifest.name}: using the plan submitted earlier (no new scan or plan)")
    else:
        plan = make_plan(manifest)
    for config, why in plan.skipped().items():
        announce(f"{config}: skipped — {why}")
    prepare_output(out_dir, plan, resume)
    results: dict[str, UnitResult] = {}
    todo = unfinished(out_dir, plan.units, results)
    if on_slurm and todo and stored is not None and still_running(stored.job_id):
        # The job submitted earlier is queued or running: never submit its tasks twice.
        if not wait:
            raise Submitted(len(plan.units), stored.job_id, len(plan.units) - len(todo), running=True)
        wait_for(out_dir, todo, stored.job_id, manifest.cluster.poll_s, announce)
        todo = unfinished(out_dir, todo, results)
    reused = len(results)
    prefetch(plan, todo)
    if on_slurm and todo:
        save_submission(out_dir, plan)        # before submitting: the next run finalizes from it
    bar = Progress(sum(u.n_items for u in todo), desc=f"building {manifest.name}", enabled=progress)
    try:
        for result in run_units(plan.units if executor == "datatrove" else todo, plan, out_dir, workers, executor,
                                wait):
            if result.unit_id in results:
                continue  # datatrove reports finished units too
            results[result.unit_id] = result
            bar.update(result)
    except Submitted as submitted:
        save_submission(out_dir, plan, submitted.job_id)      # the next run looks at this job first
        raise
    except UnitFailed as failure:
        log.error("%s", failure.details)
        where = os.path.join(out_dir, STATE_DIR, "failed")
        raise BuildError(f"build stopped: {failure.summary}. This is not a record problem, so nothing was "
                         f"quarantined; traceback in {where}. Finished shards are kept: rerun to resume.") from None
    finally:
        bar.close()
    ordered = [results[u.unit_id] for u in plan.units]
    quarantine = finish_output(out_dir, plan, ordered, plan.quarantine.sorted(q for r in ordered for q in r.quarantine))
    samples = Counter()
    for unit, result in zip(plan.units, ordered):
        samples[(unit.config, unit.split)] += result.rows
    summary = BuildSummary(out_dir, samples, quarantine.total, builder_stats(plan, ordered), len(todo), reused,
                           plan.skipped(), config_problems(plan, samples, quarantine))
    if summary.problems:
        raise BuildIncomplete(summary)
    return summary


def unfinished(out_dir: str, units, results: dict[str, UnitResult]) -> list:
    """The units without a finished shard; the finished ones' results go into ``results``."""
    todo = []
    for unit in units:
        done = read_marker(out_dir, unit)
        if done is not None:
            results[unit.unit_id] = done
        else:
            todo.append(unit)
    return todo


def prefetch(plan: Plan, todo) -> None:
    """The stage between plan and run: builders that need a service fetch for the units still to build."""
    pending = {unit.unit_id for unit in todo}
    for builder in plan.builders:
        if not builder.prefetches():
            continue                          # nothing to fetch: the items are not built at all
        items = [item for unit in plan.units if unit.config == builder.config and unit.unit_id in pending
                 for item in unit.items]
        if items:
            builder.prefetch(items)


def run_units(units, plan: Plan, out_dir: str, workers: int | None, executor: str, wait: bool = False):
    if executor == "local":
        return run_local(units, plan.manifest, out_dir, workers or default_workers())
    if executor == "datatrove":
        from .datatrove_executor import run_datatrove

        # datatrove ranks index the whole plan (stable across reruns); finished units are skipped inside.
        return run_datatrove(units, plan.manifest, out_dir, workers, wait)
    raise BuildError(f"unknown executor {executor!r} (available: local, datatrove)")


def prepare_output(out_dir: str, plan: Plan, resume: bool) -> None:
    """Refuse to mix shards of another plan; clear leftovers of interrupted writes. Deletes only in
    a folder that carries ecgcorpus's marker (.ecgcorpus/plan.json), and only what a build writes."""
    state = os.path.join(out_dir, STATE_DIR, PLAN_STATE)
    check_output_path(out_dir)
    if os.path.exists(state):
        with open(state) as f:
            previous = json.load(f).get("plan_sha256")
        if previous != plan.digest and resume:
            raise BuildError(f"{out_dir} holds a build of another manifest or other inputs; "
                             "rerun with --no-resume to start over (its shards will be deleted)")
        if previous != plan.digest or not resume:
            clear_output(out_dir)
    else:
        foreign = [name for name in OUTPUT_NAMES if os.path.exists(os.path.join(out_dir, name))]
        if foreign:
            raise BuildError(f"{out_dir} was not made by ecgcorpus (no {STATE_DIR}/{PLAN_STATE}) and holds "
                             f"{', '.join(foreign)}: nothing was deleted. Choose a new --out.")
    os.makedirs(os.path.join(out_dir, STATE_DIR), exist_ok=True)
    for tmp in glob.glob(os.path.join(out_dir, "data", "**", "*.tmp-*"), recursive=True):
        os.remove(tmp)
    write_json(state, {"plan_sha256": plan.digest, "manifest_sha256": plan.manifest.digest()})


def check_output_path(out_dir: str) -> None:
    """One line for an output folder that cannot be: it, or a folder above it, is a file."""
    path = os.path.abspath(out_dir)
    while True:
        if os.path.exists(path) and not os.path.isdir(path):
            what = "is a file" if path == os.path.abspath(out_dir) else f"lies under the file {path}"
            raise BuildError(f"output folder {out_dir} {what}, not a folder: choose another --out")
        parent = os.path.dirname(path)
        if parent == path:
            return
        path = parent


def clear_output(out_dir: str) -> None:
    """Delete what a build wrote; the caller has checked the marker."""
    for name in ("data", STATE_DIR):
        shutil.rmtree(os.path.join(out_dir, name), ignore_errors=True)
    for name in OUTPUT_NAMES[1:]:
        path = os.path.join(out_dir, name)
        if os.path.exists(path):
            os.remove(path)


def finish_output(out_dir: str, plan: Plan, results: list[UnitResult], quarantine: Iterable[dict]) -> QuarantineTally:
    """Write the quarantine (streamed, one line per entry), the lock, the licence and the card;
    the quarantine's counts are returned."""
    expected = {os.path.join(out_dir, r.relpath) for r in results if r.rows}
    for path in glob.glob(os.path.join(out_dir, "data", "**", "*.parquet"), recursive=True):
        if path not in expected:  # a shard of an older layout of the same plan cannot exist; be safe
            os.remove(path)
    tally = QuarantineTally()
    with atomic_open(os.path.join(out_dir, QUARANTINE_NAME)) as f:
        for entry in portable_quarantine(quarantine, plan.manifest.sources):     # published: no local paths
            tally.add(entry)
            f.write(json.dumps(entry, sort_keys=True, ensure_ascii=False) + "\n")
    write_json(os.path.join(out_dir, LOCK_NAME), lock_document(plan, results, tally))
    with atomic_open(os.path.join(out_dir, LICENSE_NAME)) as f:
        f.write(render_license(plan))
    with atomic_open(os.path.join(out_dir, "README.md")) as f:
        f.write(render_card(plan, results, tally, out_dir))
    return tally

"""A Slurm build in two steps: submit, then finalize without planning again.

`ecgcorpus build M` on ``cluster.backend: slurm`` plans, stores the plan (``.ecgcorpus/submission.pkl``),
submits one array job and exits 0 ("submitted N tasks …; run it again to finalize"); with ``--wait`` it
polls the job instead. The next ``ecgcorpus build M`` of the same manifest loads the stored plan (for
MIMIC-IV-ECG the scan and plan are the expensive part), resubmits only unfinished tasks if the job has
ended without them, and writes the lock, card and quarantine once every shard is there.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import time
from dataclasses import dataclass, replace

from ..errors import EcgCorpusError
from ..files import atomic_open
from ..manifest import Manifest
from .plan import Plan
from .shard import STATE_DIR, read_marker

SUBMISSION = "submission.pkl"
ENDED = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "PREEMPTED", "BOOT_FAIL",
         "DEADLINE"}


class Submitted(EcgCorpusError):
    """The units run as a Slurm job that has not finished: not a failure, the build resumes later."""

    def __init__(self, tasks: int, job_id: str, done: int = 0, running: bool = False):
        self.tasks, self.job_id, self.done = tasks, job_id, done
        state = f"{done} of {tasks} tasks finished, " if done else ""
        super().__init__(f"{state}{tasks - done} tasks still running as Slurm job {job_id}" if running
                         else f"{state}submitted {tasks - done} tasks as Slurm job {job_id}")


@dataclass
class Submission:
    manifest_sha256: str
    plan: Plan                       # without its builder objects (rebuilt from the manifest on load)
    job_id: str | None = None


def save_submission(out_dir: str, plan: Plan, job_id: str | None = None) -> None:
    plan.inputs                                            # its lazy digests computed: the sources may go
    bare = replace(plan, builders=[])                      # builders hold clients and caches: not stored
    with atomic_open(_path(out_dir), "wb") as f:
        pickle.dump(Submission(plan.manifest.digest(), bare, job_id), f, protocol=pickle.HIGHEST_PROTOCOL)


def load_submission(out_dir: str, manifest: Manifest) -> Submission | None:
    """The stored plan of this manifest (same digest), builders rebuilt; None when there is none."""
    path = _path(out_dir)
    if not os.path.exists(path):
        return None
    try:
        with open(path, "rb") as f:
            sub: Submission = pickle.load(f)
    except Exception:                     # an unreadable or older file: plan again
        return None
    if sub.manifest_sha256 != manifest.digest():
        return None
    from ..builders import builder_class

    plan = replace(sub.plan, manifest=manifest,
                   builders=[builder_class(spec.type)(spec, manifest) for spec in manifest.builders])
    return replace(sub, plan=plan)


def job_state(job_id: str) -> str | None:
    """RUNNING, PENDING, COMPLETED … (the least finished state of the array's tasks, from
    ``scontrol show job``); None when Slurm no longer knows the job."""
    try:
        text = subprocess.run(["scontrol", "show", "job", str(job_id)], capture_output=True, text=True,
                              timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    states = [part.split("=", 1)[1] for part in text.split() if part.startswith("JobState=")]
    if not states:
        return None
    running = [s for s in states if s not in ENDED]
    return running[0] if running else states[0]


def still_running(job_id: str | None) -> bool:
    if not job_id:
        return False
    state = job_state(job_id)
    return state is not None and state not in ENDED


def wait_for(out_dir: str, units, job_id: str, poll_s: float, announce) -> None:
    """Poll until every unit has its shard marker, or the job has ended (then the caller reports
    the units that did not finish)."""
    last = -1
    while True:
        done = sum(read_marker(out_dir, unit) is not None for unit in units)
        if done != last:
            announce(f"Slurm job {job_id}: {done} of {len(units)} tasks finished")
            last = done
        if done == len(units):
            return
        state = job_state(job_id)
        if state is None or state in ENDED:
            return
        time.sleep(poll_s)


def _path(out_dir: str) -> str:
    return os.path.join(out_dir, STATE_DIR, SUBMISSION)

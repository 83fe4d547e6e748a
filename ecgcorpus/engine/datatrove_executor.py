"""Run the plan's units as datatrove tasks (local, Slurm or Ray): one task = one unit = one shard.

Each task calls the same `run_unit` the local pool calls, so the shards are byte-identical. Resume
works twice over: datatrove skips tasks with a completion file, and a task whose unit already has
our marker (shard present, sha256 matching) does nothing.
"""

from __future__ import annotations

import os
import pickle

from ..errors import EcgCorpusError
from ..manifest import ClusterSpec, Manifest
from .plan import Unit
from .shard import STATE_DIR, limit_threads, read_marker, run_unit


class RunUnitTask:
    """A picklable datatrove pipeline step: task ``rank`` runs unit ``rank`` of the saved plan."""

    def __init__(self, plan_path: str):
        self.plan_path = plan_path
        self._loaded = None

    def __call__(self, data, rank: int = 0, world_size: int = 1):
        if self._loaded is None:
            if world_size > 1:
                limit_threads()
            with open(self.plan_path, "rb") as f:
                self._loaded = pickle.load(f)
        units, manifest, out_dir = self._loaded
        unit = units[rank]
        if read_marker(out_dir, unit) is None:
            run_unit(unit, manifest, out_dir)
        return []

    def __getstate__(self):
        return {"plan_path": self.plan_path, "_loaded": None}


def make_executor(units: list[Unit], manifest: Manifest, out_dir: str, workers: int | None):
    try:
        import datatrove  # noqa: F401
    except ImportError:
        raise EcgCorpusError("--executor datatrove needs the cluster extra: pip install 'ecgcorpus[cluster]'") from None
    state = os.path.join(out_dir, STATE_DIR)
    os.makedirs(state, exist_ok=True)
    plan_path = os.path.join(state, "units.pkl")
    with open(plan_path, "wb") as f:
        pickle.dump((units, manifest, out_dir), f)
    spec: ClusterSpec = manifest.cluster
    common = dict(pipeline=[RunUnitTask(plan_path)], tasks=len(units), logging_dir=os.path.join(state, "datatrove"),
                  skip_completed=True)
    if spec.backend == "local":
        from datatrove.executor import LocalPipelineExecutor

        n = workers or (spec.workers if spec.workers > 0 else None) or (os.cpu_count() or 1)
        # fork: workers inherit the imported modules and the plan (spawn re-imports them per worker)
        return LocalPipelineExecutor(workers=n, start_method="fork", **common)
    if spec.backend == "slurm":
        from datatrove.executor import SlurmPipelineExecutor

        if not spec.partition:
            raise EcgCorpusError("cluster.partition is required for the slurm backend")
        return SlurmPipelineExecutor(time=spec.time, partition=spec.partition, cpus_per_task=spec.cpus_per_task,
                                     mem_per_cpu_gb=int(spec.mem_per_cpu_gb), workers=spec.workers,
                                     job_name=spec.job_name, venv_path=spec.venv_path,
                                     sbatch_args=spec.sbatch_args or None, **common)
    from datatrove.executor import RayPipelineExecutor

    return RayPipelineExecutor(workers=spec.workers, cpus_per_task=spec.cpus_per_task,
                               mem_per_cpu_gb=spec.mem_per_cpu_gb, **common)


def run_datatrove(units: list[Unit], manifest: Manifest, out_dir: str, workers: int | None):
    """Run every unit through datatrove (completed ones are skipped), then yield the results in order."""
    if not units:
        return
    make_executor(units, manifest, out_dir, workers).run()
    for unit in units:
        result = read_marker(out_dir, unit)
        if result is None:
            raise EcgCorpusError(f"datatrove task for {unit.relpath} did not complete; see "
                                 f"{os.path.join(out_dir, STATE_DIR, 'datatrove', 'logs')} and rerun to resume")
        yield result

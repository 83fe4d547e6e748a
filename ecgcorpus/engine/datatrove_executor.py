"""Run the plan's units as datatrove tasks (local, Slurm or Ray): one task = one unit = one shard.

Each task calls the same `run_unit` the local pool calls, so the shards are byte-identical. Resume
works twice over: datatrove skips tasks with a completion file, and a task whose unit already has
our marker (shard present, sha256 matching) does nothing.
"""

from __future__ import annotations

import logging
import os
import pickle
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from ..console import log_level
from ..errors import EcgCorpusError
from ..files import atomic_open
from ..manifest import ClusterSpec, Manifest
from .plan import Unit
from .shard import STATE_DIR, read_failure, read_marker, run_unit
from .worker import fork_safe_parent, prepare_worker


class UnitStore:
    """The plan as datatrove tasks read it: one file, the manifest and an offset table up front,
    then each unit pickled on its own. A task unpickles its own unit only: on a cluster, a task
    of a MIMIC-IV-ECG-sized plan must not load 800k record refs to build 40 of them."""

    def __init__(self, path: str):
        self.path = path
        self._head = None

    @staticmethod
    def write(path: str, units: list[Unit], manifest: Manifest, out_dir: str) -> None:
        blobs = [pickle.dumps(unit, protocol=pickle.HIGHEST_PROTOCOL) for unit in units]
        offsets = [0]
        for blob in blobs:
            offsets.append(offsets[-1] + len(blob))
        head = pickle.dumps((manifest, out_dir, offsets), protocol=pickle.HIGHEST_PROTOCOL)
        with atomic_open(path, "wb") as f:
            f.write(len(head).to_bytes(8, "little"))
            f.write(head)
            for blob in blobs:
                f.write(blob)

    def unit(self, rank: int) -> tuple[Unit, Manifest, str]:
        with open(self.path, "rb") as f:
            if self._head is None:
                size = int.from_bytes(f.read(8), "little")
                self._head = (8 + size, pickle.loads(f.read(size)))
            start, (manifest, out_dir, offsets) = self._head
            f.seek(start + offsets[rank])
            return pickle.loads(f.read(offsets[rank + 1] - offsets[rank])), manifest, out_dir


_STORES: dict[tuple, UnitStore] = {}   # per worker process: tasks after the first reuse the header


class RunUnitTask:
    """A picklable datatrove pipeline step: task ``rank`` runs unit ``rank`` of the saved plan."""

    def __init__(self, plan_path: str):
        self.plan_path = plan_path

    def __call__(self, data, rank: int = 0, world_size: int = 1):
        if world_size > 1:
            prepare_worker()
        st = os.stat(self.plan_path)        # a long-lived (Ray) worker may see a later build's plan here
        store = _STORES.setdefault((self.plan_path, st.st_mtime_ns, st.st_size), UnitStore(self.plan_path))
        unit, manifest, out_dir = store.unit(rank)
        if read_marker(out_dir, unit) is None:
            run_unit(unit, manifest, out_dir)
        return []


def make_executor(units: list[Unit], manifest: Manifest, out_dir: str, workers: int | None):
    try:
        import datatrove  # noqa: F401
    except ImportError:
        raise EcgCorpusError("--executor datatrove needs the cluster extra: pip install 'ecgcorpus[cluster]'") from None
    state = os.path.join(out_dir, STATE_DIR)
    os.makedirs(state, exist_ok=True)
    plan_path = os.path.join(state, "units.pkl")
    UnitStore.write(plan_path, units, manifest, out_dir)
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
                                     job_name=spec.job_name, venv_path=spec.venv_path, qos=spec.qos,
                                     tasks_per_job=spec.tasks_per_job, sbatch_args=spec.sbatch_args or None,
                                     **common)
    from datatrove.executor import RayPipelineExecutor

    return RayPipelineExecutor(workers=spec.workers, cpus_per_task=spec.cpus_per_task,
                               mem_per_cpu_gb=spec.mem_per_cpu_gb, **common)


_LOGURU_LEVEL = {logging.ERROR: "ERROR", logging.WARNING: "WARNING", logging.INFO: "INFO", logging.DEBUG: "DEBUG"}
_TASK_FORMAT = "{time:YYYY-MM-DD HH:mm:ss.SSS} | <level>{level: <8}</level> | {name}:{function}:{line} - <level>{message}</level>"


@contextmanager
def datatrove_logging() -> Iterator[None]:
    """datatrove logs through loguru: to stderr at INFO in every task, at DEBUG elsewhere. Route its
    stderr through our verbosity (-q errors, default warnings, -v info, -vv debug); each task's full
    log still goes to its file under .ecgcorpus/datatrove/logs/."""
    import datatrove.executor.base as executor_base
    import datatrove.utils.logging as dt_logging
    from loguru import logger

    level = _LOGURU_LEVEL[log_level()]

    def stderr_only():
        logger.remove()
        logger.add(sys.stderr, level=level, colorize=dt_logging.DATATROVE_COLORIZE_LOGS)

    def task_logger(logging_dir, rank: int, local_rank: int = 0, node_rank: int = -1):
        logfile = logging_dir.open(f"logs/task_{rank:05d}.log", "w")
        logger.remove()
        logger.add(sys.stderr, level=level if local_rank == 0 else "ERROR", format=_TASK_FORMAT,
                   colorize=dt_logging.DATATROVE_COLORIZE_LOGS)
        logger.add(logfile, level="DEBUG", format=_TASK_FORMAT, colorize=False)
        logger.info(f"Launching pipeline for {rank=}")
        return logfile

    saved = executor_base.add_task_logger, dt_logging.setup_default_logger
    executor_base.add_task_logger, dt_logging.setup_default_logger = task_logger, stderr_only
    stderr_only()
    try:
        yield
    finally:
        executor_base.add_task_logger, dt_logging.setup_default_logger = saved
        dt_logging.setup_default_logger()


def run_datatrove(units: list[Unit], manifest: Manifest, out_dir: str, workers: int | None, wait: bool = False):
    """Run every unit through datatrove (completed ones are skipped), then yield the results in order.

    On Slurm, ``run()`` only submits the array job: without ``wait`` that raises ``Submitted`` (the
    build is finalized by a later run); with it, the job is polled until its tasks are done."""
    if not units:
        return
    with fork_safe_parent(), datatrove_logging():
        executor = make_executor(units, manifest, out_dir, workers)
        executor.run()
    if manifest.cluster.backend == "slurm":
        from ..console import announce
        from .submission import Submitted, wait_for

        job_id = getattr(executor, "job_id", None)
        if job_id not in (None, -1):            # -1: every task had already completed, nothing launched
            done = sum(read_marker(out_dir, unit) is not None for unit in units)
            if not wait:
                raise Submitted(len(units), str(job_id), done)
            wait_for(out_dir, units, str(job_id), manifest.cluster.poll_s, announce)
    for unit in units:
        result = read_marker(out_dir, unit)
        if result is None:
            failure = read_failure(out_dir, unit.unit_id)
            if failure is not None:
                raise failure
            raise EcgCorpusError(f"datatrove task for {unit.relpath} did not complete; see "
                                 f"{os.path.join(out_dir, STATE_DIR, 'datatrove', 'logs')} and rerun to resume")
        yield result

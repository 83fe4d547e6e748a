"""Local execution: a process pool over units, with a progress bar on a terminal."""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

from ..console import progress_enabled
from ..manifest import Manifest
from .plan import Unit
from .shard import UnitResult, run_unit
from .worker import fork_safe_parent, prepare_worker


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def run_local(units: list[Unit], manifest: Manifest, out_dir: str, workers: int) -> Iterator[UnitResult]:
    """Results as units finish. At most ``workers`` units are in flight, so memory stays bounded by
    one unit per worker whatever the corpus size."""
    if workers <= 1 or len(units) <= 1:
        for unit in units:
            yield run_unit(unit, manifest, out_dir)
        return
    pending = iter(units)
    with fork_safe_parent(), ProcessPoolExecutor(max_workers=workers, initializer=prepare_worker) as pool:
        running = set()
        for unit in pending:
            running.add(pool.submit(run_unit, unit, manifest, out_dir))
            if len(running) >= workers:
                break
        while running:
            done, running = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()
                nxt = next(pending, None)
                if nxt is not None:
                    running.add(pool.submit(run_unit, nxt, manifest, out_dir))


class Progress:
    """tqdm on a terminal (records, samples, quarantined, ETA); silent otherwise."""

    def __init__(self, total_records: int, desc: str, enabled: bool | None = None):
        self.enabled = progress_enabled(enabled)
        self.samples = 0
        self.quarantined = 0
        self._bar = None
        if self.enabled:
            from tqdm import tqdm

            self._bar = tqdm(total=total_records, desc=desc, unit="rec", dynamic_ncols=True)

    def update(self, result: UnitResult) -> None:
        self.samples += result.rows
        self.quarantined += len(result.quarantine)
        if self._bar is not None:
            self._bar.update(result.records)
            self._bar.set_postfix(samples=self.samples, quarantined=self.quarantined, refresh=False)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


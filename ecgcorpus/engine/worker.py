"""Process settings for build workers: one compute thread each, and an allocator that keeps memory.

Called once per worker process (the local pool's initializer, the first datatrove task of a
process), before any unit runs. ``steady_arrow_pool`` is for the process that scans.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from collections.abc import Iterator
from contextlib import contextmanager

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3      # glibc mallopt parameters
_MMAP_THRESHOLD_MAX = 32 << 20                      # glibc's ceiling for M_MMAP_THRESHOLD on 64-bit


_PREPARED: set[int] = set()       # pids already prepared (threadpoolctl's scan of loaded libraries is not free)


def prepare_worker() -> None:
    """Once per process; later calls in the same process do nothing."""
    if os.getpid() in _PREPARED:
        return
    limit_threads()
    keep_freed_memory()
    _PREPARED.add(os.getpid())


@contextmanager
def fork_safe_parent() -> Iterator[None]:
    """Around forking workers: OpenCV's thread pool does not survive fork (a child that touches it
    waits forever on the parent's threads, which it does not have). Shrinking the pool to one
    thread in the parent joins those threads before the fork; the caller's setting is restored."""
    try:
        import cv2
    except ImportError:
        yield
        return
    before = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(before)


def steady_arrow_pool() -> None:
    """Arrow's jemalloc pool for this process, where pyarrow has one and the user chose none
    (``ARROW_DEFAULT_MEMORY_POOL``). Reading MIMIC-IV-ECG's tables with the default mimalloc
    pool cost 0.3 to 6 s of kernel time from one run to the next on the same virtual machine
    (page faults on memory the host had reclaimed), against about 1 s with jemalloc or the
    system allocator (bench_mimic_plan)."""
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return
    import pyarrow as pa

    try:
        pa.set_memory_pool(pa.jemalloc_memory_pool())
    except NotImplementedError:         # a pyarrow built without jemalloc: the default stays
        pass


def limit_threads() -> None:
    """One compute thread per worker process: with N processes on N cores, BLAS/OpenCV/Arrow thread
    pools of their own only oversubscribe the machine (measured: no speed-up from a second worker)."""
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:
        pass
    try:
        import cv2

        cv2.setNumThreads(1)
    except ImportError:
        pass
    import pyarrow

    pyarrow.set_cpu_count(1)


def keep_freed_memory() -> None:
    """Make glibc reuse freed blocks of up to 32 MB instead of returning them to the kernel.

    A worker allocates the same large arrays for every record (signals, 4–25 MB image pages); by
    default each one is a fresh mmap, and its first touch page-faults: 18 ms of kernel time per
    rendered page, and the two workers' faults contend. Peak memory does not change (it is the
    same arrays), only that they stay mapped between records. No effect off glibc.
    """
    name = ctypes.util.find_library("c")
    if not name:
        return
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX)
    mallopt(_M_TRIM_THRESHOLD, 1 << 30)

"""Work started in a thread while the caller goes on (file hashing, a second table's parsing):
hashlib, pyarrow and numpy release the GIL, so the two proceed together."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor


def in_background(work: Callable, *args) -> Future:
    """``work(*args)`` in a thread of its own; its result (or exception) from ``.result()``."""
    pool = ThreadPoolExecutor(1)
    future = pool.submit(work, *args)
    pool.shutdown(wait=False)
    return future

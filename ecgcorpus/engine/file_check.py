"""Which of a source's record files exist, for 800k records at once.

Folders are listed level by level (``files/`` → ``files/p1000/`` → … → the record's folder), and
only folders that exist and lead to a wanted file are listed: records under an absent folder cost
nothing more, and the listings of one level run in a thread pool (the work is waiting on the
file system). On a complete release that is one listing per record folder, batched by level.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

LISTING_THREADS = 16


def missing_files(root: str, relative) -> np.ndarray:
    """A bool per file of ``relative`` (pyarrow strings, '/'-separated, relative to ``root``):
    True where the file does not exist."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(relative)
    present = np.ones(n, dtype=bool)
    if not n:
        return ~present
    odd = pc.match_substring_regex(relative, r"(^/|//|(^|/)\.\.?(/|$))").to_numpy(zero_copy_only=False)
    for row in np.flatnonzero(odd):                      # "..", "./", "//": not for listing by level
        present[row] = os.path.isfile(os.path.join(root, relative[int(row)].as_py()))
    parts = pc.split_pattern(relative, "/")
    depth = pc.list_value_length(parts).to_numpy(zero_copy_only=False)
    rows = np.flatnonzero(~odd)                          # the rows still present
    with ThreadPoolExecutor(LISTING_THREADS) as pool:
        for level in range(1, int(depth.max()) + 1):
            alive = rows[present[rows] & (depth[rows] >= level)]
            if not len(alive):
                break
            index = pa.array(alive)
            here = parts.take(index)
            parent = pc.binary_join(pc.list_slice(here, 0, level - 1), "/") if level > 1 else \
                pa.array([""] * len(alive), pa.string())
            child = pc.binary_join(pc.list_slice(here, 0, level), "/")
            folders = pc.unique(parent).to_pylist()
            listed = [f"{folder}/{name}" if folder else name
                      for folder, names in zip(folders, pool.map(lambda f: _names(root, f), folders)) for name in names]
            found = pc.is_in(child, value_set=pa.array(listed, pa.string())).to_numpy(zero_copy_only=False)
            present[alive[~found]] = False
            rows = alive
    return ~present


def _names(root: str, folder: str) -> list[str]:
    try:
        return os.listdir(os.path.join(root, folder) if folder else root)
    except OSError:             # absent, or not a folder
        return []

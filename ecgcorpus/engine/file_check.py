"""Which of a source's record files exist, for 800k records at once.

Folders are listed level by level (``files/`` → ``files/p1000/`` → … → the record's folder), and
only folders that exist and lead to a wanted file are listed: records under an absent folder cost
nothing more, and the listings of one level run in a thread pool (the work is waiting on the
file system). On a complete release that is one listing per record folder, batched by level.
Rows are followed by integer ids (their folder so far, the next name), not by path strings.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..console import progress_bar

LISTING_THREADS = 16


def missing_files(root: str, relative, suffix: str = "") -> np.ndarray:
    """A bool per path of ``relative`` (pyarrow strings, '/'-separated, relative to ``root``):
    True where the file ``path + suffix`` does not exist."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(relative)
    present = np.zeros(n, dtype=bool)
    if not n:
        return ~present
    parts = pc.split_pattern(relative, "/")
    depth = pc.list_value_length(parts).to_numpy(zero_copy_only=False)
    alive = np.arange(n)                                 # rows whose folders so far exist
    odd = []                                             # rows with a "", "." or ".." component: checked alone
    folder_of = np.zeros(n, dtype=np.int64)              # each alive row's folder: an index into folders
    folders = [""]
    with ThreadPoolExecutor(LISTING_THREADS) as pool:
        for level in range(1, int(depth.max()) + 1):
            alive = alive[depth[alive] >= level]
            if not len(alive):
                break
            if len(alive) < n // 4 or depth.min() < level:     # take the rows first: few, or of several depths
                names = pc.list_element(parts.take(pa.array(alive)), level - 1).dictionary_encode()
                name_id = names.indices.to_numpy(zero_copy_only=False).astype(np.int64)
            else:
                names = pc.list_element(parts, level - 1).dictionary_encode()
                name_id = names.indices.to_numpy(zero_copy_only=False).astype(np.int64)
                name_id = name_id if len(alive) == n else name_id[alive]
            words = names.dictionary.to_pylist()
            unusual = [i for i, w in enumerate(words) if w in ("", ".", "..")]     # "/x", "a//b", "./x", "x/"
            if unusual:
                strange = np.isin(name_id, unusual)
                odd.append(alive[strange])
                alive, name_id = alive[~strange], name_id[~strange]
                if not len(alive):
                    break
            everyone = len(alive) == n                   # (no fancy indexing while every row is alive)
            last = (depth if everyone else depth[alive]) == level   # the file itself, not a folder on the way
            folder = folder_of if everyone else folder_of[alive]
            pairs, which = _unique((folder * len(words) + name_id) * 2 + last)
            parent, word, is_file = pairs // 2 // len(words), pairs // 2 % len(words), pairs % 2 == 1
            parents = sorted(set(parent.tolist()))
            listed = dict(zip(parents, _listings(pool, root, [folders[p] for p in parents], level)))
            exists = np.array([(words[w] + suffix if f else words[w]) in listed[p]
                               for p, w, f in zip(parent.tolist(), word.tolist(), is_file.tolist())], dtype=bool)
            present[alive[last]] = exists[which[last]]
            base = len(folders)
            folders += [f"{folders[p]}/{words[w]}" if folders[p] else words[w] for p, w in zip(parent.tolist(),
                                                                                             word.tolist())]
            keep = ~last & exists[which]
            folder_of[alive[keep]] = base + which[keep]
            alive = alive[keep]
    for row in np.concatenate(odd).tolist() if odd else ():
        present[row] = os.path.isfile(os.path.join(root, relative[row].as_py() + suffix))
    return ~present


def _unique(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(keys, return_inverse=True)``; without a sort where the keys are few and dense."""
    top = int(keys.max())
    if top > 8 * len(keys) + 4096:
        return np.unique(keys, return_inverse=True)
    seen = np.zeros(top + 1, dtype=bool)
    seen[keys] = True
    return np.flatnonzero(seen), (np.cumsum(seen) - 1)[keys]


def _listings(pool, root: str, folders: list[str], level: int) -> list[set[str]]:
    """Each folder's names, listed by the pool; a bar on a terminal when there are many."""
    bar = progress_bar(len(folders), f"listing folders (level {level})", min_total=10_000)
    out = []
    for names in pool.map(lambda folder: _names(root, folder), folders, chunksize=256):
        out.append(names)
        if bar is not None and len(out) % 1000 == 0:
            bar.update(1000)
    if bar is not None:
        bar.update(len(out) % 1000)
        bar.close()
    return out


def _names(root: str, folder: str) -> set[str]:
    try:
        return set(os.listdir(os.path.join(root, folder) if folder else root))
    except OSError:             # absent, or not a folder
        return set()

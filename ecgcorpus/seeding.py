"""Seeded generators derived from names, never from where work happens to run.

A sample's randomness comes from (manifest seed, config, item key) alone, so shard size, worker
count and executor change only which file a row lands in, never the row.
"""

from __future__ import annotations

import hashlib

import numpy as np


def derived_rng(seed: int, *parts: object) -> np.random.Generator:
    """A generator for (seed, *parts): the same parts give the same stream in any process."""
    blob = "|".join((str(seed), *map(str, parts)))
    return np.random.default_rng(int.from_bytes(hashlib.sha256(blob.encode()).digest()[:8], "big"))

"""A content-addressed SQLite cache: request key → the endpoint's response body.

Every response the endpoint answered (HTTP 200) is kept, refusals and malformed replies included:
they were paid for, and replaying them is what makes a rerun byte-identical. Failures (429, 5xx,
timeouts after all retries) are not kept, so a rerun asks again. WAL mode lets worker processes
read while one process writes.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .request import canonical

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,            -- sha256 of the canonical request
    model TEXT NOT NULL,
    mode TEXT NOT NULL,              -- online | batch | import (the price depends on it)
    request TEXT NOT NULL,
    response TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cached_tokens INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS batches (
    input_sha256 TEXT PRIMARY KEY,   -- the uploaded JSONL: the same file is never submitted twice
    batch_id TEXT NOT NULL,
    status TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class Cached:
    key: str
    model: str
    mode: str
    response: dict[str, Any]
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int


def usage_of(response: dict[str, Any]) -> tuple[int, int, int]:
    usage = response.get("usage") or {}
    details = usage.get("prompt_tokens_details") or {}
    return (int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0),
            int(details.get("cached_tokens") or 0))


class ResponseCache:
    def __init__(self, path: str):
        self.path = path
        if path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self._db = sqlite3.connect(path, timeout=120, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self.hits = 0
        self.misses = 0

    def close(self) -> None:
        self._db.close()

    def get(self, key: str) -> Cached | None:
        row = self._db.execute("SELECT key, model, mode, response, prompt_tokens, completion_tokens, cached_tokens "
                               "FROM responses WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        return Cached(row[0], row[1], row[2], json.loads(row[3]), row[4], row[5], row[6])

    def has(self, key: str) -> bool:
        return self._db.execute("SELECT 1 FROM responses WHERE key = ?", (key,)).fetchone() is not None

    def missing(self, keys: Iterable[str]) -> list[str]:
        """The keys not in the cache (in the given order, duplicates dropped); counts hits and misses."""
        out, seen = [], set()
        for key in keys:
            if key in seen:
                continue
            seen.add(key)
            if self.has(key):
                self.hits += 1
            else:
                self.misses += 1
                out.append(key)
        return out

    def put(self, key: str, request: dict[str, Any], response: dict[str, Any], mode: str) -> None:
        self.put_many([(key, request, response)], mode)

    def put_many(self, rows: Iterable[tuple[str, dict[str, Any], dict[str, Any]]], mode: str) -> int:
        records = []
        for key, request, response in rows:
            records.append((key, str(request.get("model") or response.get("model") or ""), mode, canonical(request),
                            canonical(response), *usage_of(response)))
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?, ?, ?)", records)
        return len(records)

    def count(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    # --- Batch API bookkeeping -----------------------------------------------------------------

    def batch_for(self, input_sha256: str) -> tuple[str, str] | None:
        row = self._db.execute("SELECT batch_id, status FROM batches WHERE input_sha256 = ?",
                               (input_sha256,)).fetchone()
        return None if row is None else (row[0], row[1])

    def record_batch(self, input_sha256: str, batch_id: str, status: str) -> None:
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO batches VALUES (?, ?, ?)", (input_sha256, batch_id, status))

    def forget_batch(self, input_sha256: str) -> None:
        with self._db:
            self._db.execute("DELETE FROM batches WHERE input_sha256 = ?", (input_sha256,))

"""What a fetch returns, whatever the transport (online requests, Batch API, or just collecting)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from .pricing import Usage

Request = tuple[str, dict[str, Any]]            # (key, body)
Fetch = Callable[[list[Request]], "FetchReport"]  # writes the responses it gets into the cache


@dataclass
class FetchReport:
    fetched: int = 0                                       # new responses now in the cache
    failed: dict[str, str] = field(default_factory=dict)   # key → why it has no response (not cached)
    retries: int = 0
    spent: Usage = field(default_factory=Usage)            # tokens of the new responses: paid by this run

    def merge(self, other: "FetchReport") -> None:
        self.fetched += other.fetched
        self.failed.update(other.failed)
        self.retries += other.retries
        self.spent.merge(other.spent)


class Collect:
    """A fetch that sends nothing: it keeps the requests (for ``vllm run-batch`` or a Batch API upload)."""

    def __init__(self):
        self.requests: dict[str, dict[str, Any]] = {}

    def __call__(self, requests: list[Request]) -> FetchReport:
        for key, body in requests:
            self.requests.setdefault(key, body)
        return FetchReport(failed={key: "pending: not sent (collected for a batch)" for key, _ in requests})


def run_sync(coro: Coroutine) -> Any:
    """asyncio.run, also from code that already runs inside an event loop (then in a helper thread)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def target():
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]

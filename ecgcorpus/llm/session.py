"""A session: one endpoint, its cache and its transport, with the run's counters."""

from __future__ import annotations


from ..console import announce
from .cache import ResponseCache
from .config import Endpoint
from .fetch import Collect, FetchReport
from .jobs import Job, Outcome, resolve


class LlmSession:
    """``resolve(jobs)`` through the cache and, for what it lacks, the configured transport.

    ``fetch``: "auto" (the manifest's mode), "online", "cache" (never send) or a Collect."""

    def __init__(self, endpoint: Endpoint, fetch="auto", progress: bool | None = None):
        self.endpoint = endpoint
        self.cache = ResponseCache(endpoint.cache_path)
        mode = endpoint.config.mode if fetch == "auto" else fetch
        if isinstance(mode, Collect):
            self._fetch = mode
        elif mode == "online":
            from .client import OnlineFetcher  # the openai SDK loads when a request is to be sent

            self._fetch = OnlineFetcher(endpoint, self.cache, progress)
        elif mode == "batch":
            from .batch import BatchFetcher

            self._fetch = BatchFetcher(endpoint, self.cache, announce)
        elif mode in ("cache", "offline"):
            self._fetch = None
        else:
            raise ValueError(f"unknown fetch mode {mode!r}")
        self.report = FetchReport()

    def resolve(self, jobs: list[Job], send: bool = True, progress: bool | None = None) -> list[Outcome]:
        """Outcomes from the cache; what it lacks is fetched unless ``send`` is False."""
        fetch = self._fetch if send else None
        if progress is not None and hasattr(fetch, "progress"):
            fetch.progress = progress
        return resolve(jobs, self.cache, fetch, self.report)

    def summary(self) -> str:
        """Cache hits/misses, what was fetched or failed, and what this run paid."""
        cache = self.cache
        return (f"cache {cache.hits} hits / {cache.misses} misses · fetched {self.report.fetched}, "
                f"failed {len(self.report.failed)}, retries {self.report.retries} · this run: "
                f"{self.report.spent.describe(self.endpoint.config)}")

    def close(self) -> None:
        self.cache.close()

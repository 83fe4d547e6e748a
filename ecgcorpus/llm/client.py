"""Online mode: asyncio requests through the openai SDK, at most ``concurrency`` in flight.

Retries 429, 408/409, 5xx, timeouts and connection errors with exponential backoff, waiting what
Retry-After (or retry-after-ms) asks when the server says. A bad key, a forbidden or unknown model
stop the run (LlmError): every request would fail the same way. Other 4xx are recorded as that
request's failure. Each request is sent until it has a response or its retries are spent, and gets
exactly one entry in the report: in the cache (fetched) or in ``failed``.
"""

from __future__ import annotations

import asyncio
import email.utils
import importlib
import json
import random
import time
from typing import Any

import openai

from ..console import progress_enabled
from .cache import ResponseCache, usage_of
from .config import Endpoint
from .errors import LlmError
from .fetch import FetchReport, Request, run_sync

_RETRY_STATUS = {408, 409}
_FATAL = (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError)


class OnlineFetcher:
    def __init__(self, endpoint: Endpoint, cache: ResponseCache, progress: bool | None = None):
        self.endpoint = endpoint
        self.config = endpoint.config
        self.cache = cache
        self.progress = progress_enabled(progress)

    def __call__(self, requests: list[Request]) -> FetchReport:
        if not requests:
            return FetchReport()
        return run_sync(self._fetch_all(requests))

    async def _fetch_all(self, requests: list[Request]) -> FetchReport:
        report = FetchReport()
        client = openai.AsyncOpenAI(base_url=self.endpoint.base_url, api_key=self.endpoint.api_key, max_retries=0,
                                    timeout=self.config.timeout_s, http_client=_http_client(self.config.concurrency))
        pending = iter(requests)
        state = {"ok": 0, "failed": 0}
        bar = _bar(len(requests), self.endpoint.model) if self.progress else None

        async def worker():
            for key, body in pending:   # one shared iterator: each request is taken by exactly one worker
                response, reason, retries = await self._one(client, body)
                report.retries += retries
                if response is not None:
                    self.cache.put(key, body, response, "online")
                    report.fetched += 1
                    report.spent.add(body["model"], "online", *usage_of(response))
                    state["ok"] += 1
                else:
                    report.failed[key] = reason
                    state["failed"] += 1
                    # Nothing has worked yet and many have failed: a setup problem (unreachable endpoint,
                    # unsupported response_format …), not bad luck. Stop instead of failing every record.
                    if state["ok"] == 0 and state["failed"] >= 2 * self.config.concurrency:
                        what = "cannot reach" if reason.startswith("unreachable") else "cannot use"
                        raise LlmError(f"{what} {self.endpoint.describe()}: the first {state['failed']} "
                                       f"requests failed, e.g. {reason}")
                if bar is not None:
                    bar.update(1)

        try:
            await asyncio.gather(*(worker() for _ in range(min(self.config.concurrency, len(requests)))))
        finally:
            if bar is not None:
                bar.close()
            await client.close()
        return report

    async def _one(self, client: openai.AsyncOpenAI, body: dict[str, Any]) -> tuple[dict | None, str, int]:
        """(response body, "", retries) or (None, why, retries)."""
        reason = ""
        for attempt in range(self.config.max_retries + 1):
            wait = None
            try:
                # The SDK's raw POST (its documented way to send a body as is): same auth, errors and
                # timeouts as chat.completions.create, without re-validating a body we built ourselves.
                raw = await client.post("/chat/completions", body=body, cast_to=_RESPONSE)
                data = json.loads(raw.text)
                if isinstance(data, dict) and data.get("choices"):
                    return data, "", attempt
                reason = "the endpoint answered 200 without choices"
            except _FATAL as exc:
                raise LlmError(f"{self.endpoint.describe()} refused the request "
                               f"({exc.status_code}): {self.endpoint.scrub(_message(exc))}") from None
            except openai.APIStatusError as exc:
                if exc.status_code < 500 and exc.status_code not in _RETRY_STATUS and exc.status_code != 429:
                    return None, f"HTTP {exc.status_code}: {self.endpoint.scrub(_message(exc))}", attempt
                reason = f"HTTP {exc.status_code}"
                wait = retry_after(exc.response.headers)
            except openai.APIConnectionError as exc:
                refused = _connection_refused(exc)
                if isinstance(exc, openai.APITimeoutError) and refused is None:
                    reason = f"timeout after {self.config.timeout_s:g} s"
                else:
                    reason = f"unreachable: {refused or exc.__cause__ or exc}"
            except ValueError:
                reason = "the endpoint answered 200 with a body that is not JSON"
            if attempt < self.config.max_retries:
                await asyncio.sleep(wait if wait is not None else self.backoff(attempt))
        return None, f"{reason} (after {self.config.max_retries} retries)", self.config.max_retries

    def backoff(self, attempt: int) -> float:
        # Jitter spreads retries out; it changes timing only, never what is generated.
        delay = min(self.config.backoff_max_s, self.config.backoff_s * 2 ** attempt)
        return delay * (0.5 + random.random() / 2)


def retry_after(headers) -> float | None:
    """Seconds the server asks to wait: retry-after-ms, or Retry-After as seconds or an HTTP date."""
    value = headers.get("retry-after-ms")
    if value is not None:
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return None if parsed is None else max(0.0, parsed.timestamp() - time.time())


def _connection_refused(exc: BaseException) -> BaseException | None:
    """The ConnectionError behind ``exc``, if any (the aiohttp transport reports a refused connection as a
    connect *timeout*: it is not one, and it must not wait out the retries as one)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, ConnectionError):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def _message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error")
        msg = error.get("message") if isinstance(error, dict) else body.get("message")
        if msg:
            return str(msg)[:300]
    return str(exc.message)[:300]


def _http_module():
    """The HTTP library under this SDK version (httpx, or httpx2 for openai 3.x)."""
    base = next(c for c in openai.DefaultAsyncHttpxClient.__mro__ if c.__name__ == "AsyncClient")
    return importlib.import_module(base.__module__.split(".")[0])


_HTTP = _http_module()
_RESPONSE = _HTTP.Response


def _http_client(connections: int):
    """The SDK's aiohttp transport where it has one (httpx's pool costs O(n) per request at high
    concurrency), else its httpx client; either with a pool as large as the concurrency."""
    limits = _HTTP.Limits(max_connections=max(connections, 10), max_keepalive_connections=max(connections, 10))
    try:
        return openai.DefaultAioHttpClient(limits=limits)
    except (AttributeError, RuntimeError):   # an SDK without it, or aiohttp not installed
        return openai.DefaultAsyncHttpxClient(limits=limits)


def _bar(total: int, model: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=f"LLM {model}", unit="req", dynamic_ncols=True)

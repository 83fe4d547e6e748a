"""Batch mode: requests as Batch API JSONL, submitted, polled, and the output joined back on custom_id.

The JSONL lines are ``{"custom_id": key, "method": "POST", "url": "/v1/chat/completions", "body": …}``
with ``custom_id`` the request's content key, so the same file runs offline with ``vllm run-batch``
and its output imports into the cache with ``import_output`` (``ecgcorpus llm import``). A batch
being processed is recorded in the cache under the sha256 of its input file, so an interrupted build
resumes polling it instead of paying for it twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable, Iterator
from typing import Any

import openai

from ..files import atomic_open
from .cache import ResponseCache, usage_of
from .config import Endpoint
from .errors import LlmError
from .fetch import FetchReport, Request

ENDPOINT = "/v1/chat/completions"
_TERMINAL = {"completed", "failed", "expired", "cancelled"}


def batch_line(key: str, body: dict[str, Any]) -> str:
    return json.dumps({"custom_id": key, "method": "POST", "url": ENDPOINT, "body": body},
                      sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n"


def write_requests(path: str, requests: Iterable[Request]) -> int:
    """Write Batch API input JSONL atomically; returns the number of lines."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    n = 0
    with atomic_open(path) as f:
        for key, body in requests:
            f.write(batch_line(key, body))
            n += 1
    return n


def read_requests(path: str) -> dict[str, dict[str, Any]]:
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                out[row["custom_id"]] = row["body"]
    return out


def parse_output(lines: Iterable[str]) -> Iterator[tuple[str, dict | None, str | None]]:
    """(custom_id, response body or None, error or None) per line of a Batch API / vllm run-batch output
    or error file."""
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            custom_id = row["custom_id"]
        except (ValueError, KeyError, TypeError):
            raise LlmError(f"batch output line {n}: not a Batch API output line") from None
        response, error = row.get("response") or {}, row.get("error")
        body, status = response.get("body"), response.get("status_code")
        if error or status != 200 or not isinstance(body, dict) or not body.get("choices"):
            if isinstance(body, dict) and isinstance(body.get("error"), dict):
                error = error or body["error"]
            message = error.get("message") if isinstance(error, dict) else error
            yield custom_id, None, f"batch: {message or f'HTTP {status}'}"[:300]
        else:
            yield custom_id, body, None


def import_output(cache: ResponseCache, lines: Iterable[str], requests: dict[str, dict] | None = None,
                  report: FetchReport | None = None) -> FetchReport:
    """Put a batch output's successful responses into the cache; errors go to ``report.failed``.

    ``requests`` (custom_id → body, from the input JSONL) is stored with each response; ids not in it
    are skipped when it is given (an output of another input file)."""
    report = report if report is not None else FetchReport()
    rows = []
    for key, body, error in parse_output(lines):
        if requests is not None and key not in requests:
            continue
        if body is None:
            report.failed[key] = error or "batch: failed"
            continue
        request = requests[key] if requests is not None else {"model": body.get("model", "")}
        rows.append((key, request, body))
        report.spent.add(request.get("model") or body.get("model", ""), "batch", *usage_of(body))
        report.failed.pop(key, None)
    report.fetched += cache.put_many(rows, "batch")
    return report


class BatchFetcher:
    """A fetch through the Batch API: split, upload, create, poll, download, import."""

    def __init__(self, endpoint: Endpoint, cache: ResponseCache, announce=print):
        self.endpoint = endpoint
        self.config = endpoint.config
        self.cache = cache
        self.announce = announce
        self.dir = self.config.batch.dir or os.path.join(os.path.dirname(endpoint.cache_path), "batches")
        self._client = None

    @property
    def client(self) -> openai.OpenAI:
        if self._client is None:
            self._client = openai.OpenAI(base_url=self.endpoint.base_url, api_key=self.endpoint.api_key,
                                         max_retries=self.config.max_retries, timeout=self.config.timeout_s)
        return self._client

    def __call__(self, requests: list[Request]) -> FetchReport:
        report = FetchReport()
        for attempt in range(self.config.batch.retry_failed + 1):
            submitted = [self.submit(chunk) for chunk in self.chunks(requests)]
            for sha, batch_id, bodies in submitted:
                self.collect(sha, self.wait(batch_id), bodies, report)
            requests = [(key, body) for key, body in requests if key in report.failed]
            if not requests:
                break
            if attempt < self.config.batch.retry_failed:
                report.retries += len(requests)
        return report

    def chunks(self, requests: list[Request]) -> Iterator[list[Request]]:
        opts = self.config.batch
        chunk, size = [], 0
        for key, body in requests:
            n = len(batch_line(key, body).encode())
            if chunk and (len(chunk) >= opts.max_requests or size + n > opts.max_bytes):
                yield chunk
                chunk, size = [], 0
            chunk.append((key, body))
            size += n
        if chunk:
            yield chunk

    def submit(self, chunk: list[Request]) -> tuple[str, str, dict[str, dict]]:
        data = "".join(batch_line(k, b) for k, b in chunk).encode()
        sha = hashlib.sha256(data).hexdigest()
        bodies = dict(chunk)
        known = self.cache.batch_for(sha)
        if known is not None:
            self.announce(f"llm: resuming batch {known[0]} ({len(chunk)} requests)")
            return sha, known[0], bodies
        path = os.path.join(self.dir, f"requests-{sha[:16]}.jsonl")
        write_requests(path, chunk)
        with open(path, "rb") as f:
            uploaded = self.client.files.create(file=(os.path.basename(path), f), purpose="batch")
        batch = self.client.batches.create(input_file_id=uploaded.id, endpoint=ENDPOINT,
                                           completion_window=self.config.batch.completion_window)
        self.cache.record_batch(sha, batch.id, batch.status)
        self.announce(f"llm: submitted batch {batch.id} ({len(chunk)} requests, {path})")
        return sha, batch.id, bodies

    def wait(self, batch_id: str):
        deadline = time.monotonic() + self.config.batch.max_wait_s
        while True:
            batch = self.client.batches.retrieve(batch_id)
            if batch.status in _TERMINAL:
                return batch
            if time.monotonic() > deadline:
                raise LlmError(f"batch {batch_id} is still {batch.status} after {self.config.batch.max_wait_s:g} s; "
                               "rerun the build later: it resumes polling this batch")
            time.sleep(self.config.batch.poll_s)

    def collect(self, sha: str, batch, bodies: dict[str, dict], report: FetchReport) -> None:
        for name, file_id in (("output", batch.output_file_id), ("errors", batch.error_file_id)):
            if not file_id:
                continue
            text = self.client.files.content(file_id).text
            path = os.path.join(self.dir, f"{name}-{sha[:16]}.jsonl")
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            import_output(self.cache, text.splitlines(), bodies, report)
        why = f"batch {batch.id} {batch.status}"
        if batch.status == "failed" and getattr(batch, "errors", None) and batch.errors.data:
            why += f": {batch.errors.data[0].message}"
        for key in bodies:
            if not self.cache.has(key):
                report.failed.setdefault(key, f"{why}: no response for this request")
        # A finished batch is never polled again; what it lacks is resubmitted on the next run.
        self.cache.forget_batch(sha)

"""Jobs: a request and the schema its reply must match. ``resolve`` turns jobs into outcomes.

Round 1 asks the cache, then the fetch (online, Batch API, or collect) for what it lacks. A reply
that is not valid JSON for the schema gets one repair request (the reply and the error shown to the
model) in round 2. Everything comes back from the cache, so the outcome of a job is a pure
function of the cache: the same cache gives the same outcomes, byte for byte.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from pydantic import BaseModel

from .cache import Cached, ResponseCache
from .fetch import Fetch, FetchReport
from .pricing import Usage
from .request import repair_body, request_key
from .schema import parse_reply

# Refusal-like text in place of JSON (endpoints without a ``refusal`` field answer in prose).
_REFUSAL = re.compile(r"^\W*(i'?m sorry|i am sorry|sorry,|i cannot|i can'?t|i can not|i'?m unable|i am unable|"
                      r"i won'?t|i will not|i must decline|as an ai)\b", re.I)


@dataclass(frozen=True)
class Job:
    body: dict[str, Any]
    schema: type[BaseModel]

    @cached_property
    def key(self) -> str:
        return request_key(self.body)


@dataclass
class Outcome:
    status: str                       # ok | refused | invalid | failed
    value: BaseModel | None = None
    detail: str | None = None         # refusal text, validation error, or failure reason
    keys: list[str] = field(default_factory=list)   # requests whose responses were used (original, repair)
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None
    model: str | None = None          # as the endpoint names it (often a dated version of the requested one)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def interpret(response: dict[str, Any], schema: type[BaseModel]) -> tuple[str, BaseModel | None, str | None]:
    """(status, value, detail) of one chat completion body."""
    choice = (response.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    if message.get("refusal"):
        return "refused", None, str(message["refusal"])[:300]
    if choice.get("finish_reason") == "content_filter":
        return "refused", None, "stopped by the endpoint's content filter"
    content = message.get("content")
    if not isinstance(content, str) or not content.strip():
        return "invalid", None, "empty reply"
    try:
        return "ok", parse_reply(content, schema), None
    except ValueError as exc:
        if _REFUSAL.match(content) and not content.lstrip().startswith(("{", "`")):
            return "refused", None, content.strip()[:300]
        detail = str(exc)
        if choice.get("finish_reason") == "length":
            detail += " (the reply was cut at max_tokens)"
        return "invalid", None, detail


def resolve(jobs: list[Job], cache: ResponseCache, fetch: Fetch | None, report: FetchReport | None = None
            ) -> list[Outcome]:
    """One outcome per job, in order. ``fetch`` None: the cache only (what it lacks is 'failed')."""
    report = report if report is not None else FetchReport()
    first = _round([(job.key, job.body) for job in jobs], cache, fetch, report)
    outcomes: list[Outcome] = []
    repairs: dict[int, tuple[str, dict]] = {}
    for i, job in enumerate(jobs):
        cached = first.get(job.key)
        outcome = _outcome(job.key, cached, job.schema, report)
        if outcome.status == "invalid":
            content = (cached.response["choices"][0].get("message") or {}).get("content") or ""
            body = repair_body(job.body, content, outcome.detail or "invalid")
            repairs[i] = (request_key(body), body)
        outcomes.append(outcome)
    if repairs:
        second = _round(list(repairs.values()), cache, fetch, report)
        for i, (key, _) in repairs.items():
            retry = _outcome(key, second.get(key), jobs[i].schema, report)
            retry.keys = outcomes[i].keys + retry.keys
            retry.usage.merge(outcomes[i].usage)
            if retry.status == "invalid":
                retry.detail = f"invalid JSON twice: {retry.detail}"
            outcomes[i] = retry
    return outcomes


def _round(requests: list[tuple[str, dict]], cache: ResponseCache, fetch: Fetch | None,
           report: FetchReport) -> dict[str, Cached]:
    bodies = dict(requests)
    missing = cache.missing(bodies)
    if missing and fetch is not None:
        report.merge(fetch([(key, bodies[key]) for key in missing]))
    return {key: hit for key in bodies if (hit := cache.get(key)) is not None}


def _outcome(key: str, cached: Cached | None, schema: type[BaseModel], report: FetchReport) -> Outcome:
    if cached is None:
        return Outcome("failed", detail=report.failed.get(key, "no response in the cache"), keys=[key])
    usage = Usage()
    usage.add(cached.model, cached.mode, cached.prompt_tokens, cached.completion_tokens, cached.cached_tokens)
    status, value, detail = interpret(cached.response, schema)
    finish = (cached.response.get("choices") or [{}])[0].get("finish_reason")
    return Outcome(status, value, detail, [key], usage, finish, cached.response.get("model") or cached.model)

"""The LLM client against a real HTTP server speaking OpenAI's protocol: faults, retries, cache, refusals."""

import json
from collections import Counter

import pytest
from llm_server import TEST_KEY, FakeOpenAI, Faults, llm_server  # noqa: F401  (fixture)

from ecgcorpus.llm import LlmConfig, LlmError, LlmSession, resolve_endpoint
from ecgcorpus.llm.client import retry_after
from ecgcorpus.llm.config import parse_config
from ecgcorpus.llm.jobs import Job, interpret
from ecgcorpus.llm.request import chat_body, request_key
from ecgcorpus.llm.schema import QualityScore, json_schema, qa_set_model, schema_name
from ecgcorpus.manifest import ManifestError

MCQ = qa_set_model("mcq", 2)


def jobs(config: LlmConfig, n: int, schema=MCQ, tag="q") -> list[Job]:
    return [Job(chat_body(config, config.model, [{"role": "user", "content": f"{tag} {i}"}], schema_name(schema),
                          json_schema(schema)), schema) for i in range(n)]


def session(url: str, tmp_path, monkeypatch, **overrides) -> LlmSession:
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    settings = dict(base_url=url, model="test-model", cache=str(tmp_path / "cache.sqlite"), concurrency=8,
                    timeout_s=0.5, backoff_s=0.02, backoff_max_s=0.1)
    settings.update(overrides)
    endpoint, why = resolve_endpoint(LlmConfig(**settings))
    assert why is None
    return LlmSession(endpoint, progress=False)


def test_every_request_answered_exactly_once_despite_faults(tmp_path, monkeypatch):
    faults = Faults(rate_limit=0.1, server_error=0.1, timeout=0.08, malformed=0.1, refusal=0.08,
                    retry_after="0.05", slow_s=1.0)
    with FakeOpenAI(faults=faults) as server:
        s = session(server.url, tmp_path, monkeypatch)
        work = jobs(s.endpoint.config, 80)
        outcomes = s.resolve(work)
    assert len(outcomes) == 80
    assert all(o.status in ("ok", "refused") for o in outcomes), [o.detail for o in outcomes if o.status == "failed"]
    # every fault kind happened, and was recovered from (or recorded, for refusals)
    assert all(server.served[k] > 0 for k in ("429", "500", "timeout", "malformed", "refusal"))
    assert sum(o.status == "refused" for o in outcomes) == server.distinct("refusal")
    repaired = [o for o in outcomes if len(o.keys) == 2]
    assert len(repaired) == server.distinct("malformed") and any(o.ok for o in repaired)
    assert s.report.failed == {} and s.report.retries >= server.served["429"] + server.served["500"]
    # one response per distinct request in the cache: the originals plus the repairs
    assert s.cache.count() == 80 + len(repaired)
    ok = [o for o in outcomes if o.ok]
    assert all(len(o.value.items) == 2 and o.value.items[0].correct in "ABCD" for o in ok)


def test_rerun_hits_the_cache_and_sends_nothing(tmp_path, monkeypatch):
    with FakeOpenAI(faults=Faults(malformed=0.2, refusal=0.1)) as server:
        first = session(server.url, tmp_path, monkeypatch)
        work = jobs(first.endpoint.config, 30)
        before = first.resolve(work)
        sent = server.chat_requests
        again = session(server.url, tmp_path, monkeypatch)
        after = again.resolve(jobs(again.endpoint.config, 30))
        assert server.chat_requests == sent
    assert again.cache.misses == 0 and again.cache.hits == first.cache.misses
    assert [(o.status, o.value, o.keys) for o in after] == [(o.status, o.value, o.keys) for o in before]
    assert "this run: 0 responses" in again.summary()


def test_retry_after_is_respected(tmp_path, monkeypatch):
    with FakeOpenAI(faults=Faults(rate_limit=1.0, retry_after="0.4")) as server:
        s = session(server.url, tmp_path, monkeypatch, backoff_s=0.0)
        outcomes = s.resolve(jobs(s.endpoint.config, 4))
    assert all(o.ok for o in outcomes) and server.served["429"] == 4
    arrivals: dict[str, list[float]] = {}
    for digest, t in server.chat_log:
        arrivals.setdefault(digest, []).append(t)
    assert all(len(ts) == 2 and ts[1] - ts[0] >= 0.38 for ts in arrivals.values())


def test_retry_after_header_forms():
    assert retry_after({"retry-after-ms": "250"}) == 0.25
    assert retry_after({"retry-after": "3"}) == 3.0
    assert 0 <= retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert retry_after({}) is None


def test_exhausted_retries_are_failures_not_cached(tmp_path, monkeypatch):
    with FakeOpenAI(faults=Faults(server_error=1.0)) as server:
        server.attempts = _AlwaysFirst()           # every attempt looks like a first attempt: 500 forever
        s = session(server.url, tmp_path, monkeypatch, max_retries=2)
        outcomes = s.resolve(jobs(s.endpoint.config, 3))
    assert [o.status for o in outcomes] == ["failed"] * 3
    assert all("HTTP 500" in o.detail and "after 2 retries" in o.detail for o in outcomes)
    assert s.cache.count() == 0 and server.served["500"] == 9


class _AlwaysFirst(Counter):
    def __getitem__(self, key):
        return 1


def test_bad_key_stops_the_run_without_showing_it(llm_server, tmp_path, monkeypatch):  # noqa: F811
    s = session(llm_server.url, tmp_path, monkeypatch)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong-key-0123456789")
    wrong, _ = resolve_endpoint(s.endpoint.config)
    with pytest.raises(LlmError) as info:
        LlmSession(wrong, progress=False).resolve(jobs(wrong.config, 3))
    assert "401" in str(info.value) and "sk-wrong-key-0123456789" not in str(info.value)
    assert "sk-wrong" not in repr(wrong)


def test_refusals_and_invalid_replies_are_recognized():
    def reply(content=None, refusal=None, finish="stop"):
        return {"choices": [{"message": {"content": content, "refusal": refusal}, "finish_reason": finish}]}

    assert interpret(reply(refusal="no."), QualityScore)[0] == "refused"
    assert interpret(reply("I'm sorry, I can't help with that."), QualityScore)[0] == "refused"
    assert interpret(reply("x", finish="content_filter"), QualityScore)[0] == "refused"
    assert interpret(reply('```json\n{"score": 4, "reason": "fine"}\n```'), QualityScore)[1].score == 4
    status, _, detail = interpret(reply('{"score": 9, "reason": "x"}'), QualityScore)
    assert status == "invalid" and detail.startswith("score")
    status, _, detail = interpret(reply('{"score": 4, "rea', finish="length"), QualityScore)
    assert status == "invalid" and "max_tokens" in detail


def test_request_key_is_canonical_and_covers_what_changes_the_answer():
    config = LlmConfig(model="m")
    body = chat_body(config, "m", [{"role": "user", "content": "hi"}], "S", {"type": "object"})
    shuffled = json.loads(json.dumps(dict(reversed(list(body.items())))))
    assert request_key(shuffled) == request_key(body)
    for change in ({"temperature": 0.7}, {"model": "other"}, {"seed": 1}):
        assert request_key({**body, **change}) != request_key(body)
    assert body["response_format"]["json_schema"]["strict"] is True


def test_strict_schemas_require_every_property():
    def walk(schema, defs):
        if "$ref" in schema:
            schema = defs[schema["$ref"].split("/")[-1]]
        if schema.get("type") == "object":
            assert schema["additionalProperties"] is False
            assert set(schema["required"]) == set(schema["properties"])
            for sub in schema["properties"].values():
                walk(sub, defs)
        if schema.get("type") == "array":
            walk(schema["items"], defs)

    for qtype in ("mcq", "fill", "close", "open"):
        schema = json_schema(qa_set_model(qtype, 3))
        walk(schema, schema.get("$defs", {}))


def test_config_rejects_keys_and_resolves_the_environment(monkeypatch):
    with pytest.raises(ManifestError, match="never go in a manifest"):
        parse_config({"model": "m", "api_key": "sk-123"})
    with pytest.raises(ManifestError, match="llm.concurrency"):
        parse_config({"concurrency": 0})
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "MY_KEY"):
        monkeypatch.delenv(var, raising=False)
    endpoint, why = resolve_endpoint(parse_config({"model": "m"}))
    assert endpoint is None and "no LLM configured" in why
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("MY_KEY", "sk-env")
    endpoint, _ = resolve_endpoint(parse_config({"model": "${LLM_MODEL:-m2}", "api_key_env": "MY_KEY"}))
    assert (endpoint.base_url, endpoint.model, endpoint.api_key) == ("http://127.0.0.1:9/v1", "m2", "sk-env")
    assert resolve_endpoint(parse_config({"base_url": "${NOPE:-}", "model": "m", "mode": "offline"}))[0] is not None

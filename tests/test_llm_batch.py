"""Batch mode end to end (JSONL, upload, create, poll, download, join), resume, and the vllm run-batch path."""

import json

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from llm_server import TEST_KEY, FakeOpenAI, Faults, llm_server, run_batch_file  # noqa: F401  (fixture)

from ecgcorpus.engine.build import build
from ecgcorpus.llm import LlmConfig, LlmSession, resolve_endpoint
from ecgcorpus.llm.batch import BatchFetcher, parse_output
from ecgcorpus.llm.cli import llm
from ecgcorpus.llm.jobs import Job
from ecgcorpus.llm.request import chat_body
from ecgcorpus.llm.schema import json_schema, qa_set_model, schema_name
from ecgcorpus.manifest import load_manifest

OPEN = qa_set_model("open", 1)


def batch_session(url, tmp_path, monkeypatch, **batch) -> LlmSession:
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    config = LlmConfig(base_url=url, model="test-model", mode="batch", cache=str(tmp_path / "cache.sqlite"),
                       batch={"poll_s": 0.02, "dir": str(tmp_path / "batches"), **batch})
    endpoint, _ = resolve_endpoint(config)
    return LlmSession(endpoint)


def jobs(config, n):
    return [Job(chat_body(config, "test-model", [{"role": "user", "content": f"record {i}"}], schema_name(OPEN),
                          json_schema(OPEN)), OPEN) for i in range(n)]


def test_batch_flow_end_to_end_with_errors_and_repairs(tmp_path, monkeypatch):
    with FakeOpenAI(faults=Faults(server_error=0.2, malformed=0.15)) as server:
        s = batch_session(server.url, tmp_path, monkeypatch)
        outcomes = s.resolve(jobs(s.endpoint.config, 40))
        assert all(o.ok for o in outcomes) and len(outcomes) == 40
        # round 1 (+ one resubmission of the error-file requests), then the repairs of malformed replies
        assert len(server.batches) >= 3 and server.served["500"] > 0 and server.served["malformed"] > 0
        assert all(b["status"] == "completed" for b in server.batches.values())
        assert sum(len(o.keys) == 2 for o in outcomes) == server.served["malformed"]
        files = sorted(p.name.split("-")[0] for p in (tmp_path / "batches").iterdir())
        assert {"requests", "output", "errors"} <= set(files)
        rows = s.cache._db.execute("SELECT DISTINCT mode FROM responses").fetchall()
        assert rows == [("batch",)]
        # a rerun finds everything in the cache: no new batch, no new file
        n_batches, n_files = len(server.batches), len(server.files)
        again = batch_session(server.url, tmp_path, monkeypatch)
        assert [o.value for o in again.resolve(jobs(again.endpoint.config, 40))] == [o.value for o in outcomes]
        assert (len(server.batches), len(server.files)) == (n_batches, n_files) and again.cache.misses == 0


def test_interrupted_batch_is_resumed_not_paid_twice(tmp_path, monkeypatch):
    with FakeOpenAI() as server:
        s = batch_session(server.url, tmp_path, monkeypatch)
        requests = [(j.key, j.body) for j in jobs(s.endpoint.config, 5)]
        fetcher = BatchFetcher(s.endpoint, s.cache, announce=lambda line: None)
        fetcher.submit(requests)                 # … and the build is killed before it collects
        assert len(server.batches) == 1
        lines = []
        report = BatchFetcher(s.endpoint, s.cache, announce=lines.append)(requests)
        assert len(server.batches) == 1 and report.fetched == 5 and "resuming batch batch_000001" in lines[0]


def test_batch_files_are_split_by_size(llm_server, tmp_path, monkeypatch):  # noqa: F811
    s = batch_session(llm_server.url, tmp_path, monkeypatch, max_requests=4)
    outcomes = s.resolve(jobs(s.endpoint.config, 10))
    assert len(llm_server.batches) == 3 and all(o.ok for o in outcomes)


def test_parse_output_reads_results_and_errors():
    lines = [
        json.dumps({"id": "b1", "custom_id": "k1", "error": None,
                    "response": {"status_code": 200, "body": {"choices": [{"message": {"content": "{}"}}]}}}),
        json.dumps({"id": "b2", "custom_id": "k2", "error": None,
                    "response": {"status_code": 500, "body": {"error": {"message": "boom"}}}}),
        json.dumps({"id": "b3", "custom_id": "k3", "response": None, "error": {"code": "x", "message": "expired"}}),
    ]
    parsed = list(parse_output(lines))
    assert [(k, body is not None, err) for k, body, err in parsed] == [
        ("k1", True, None), ("k2", False, "batch: boom"), ("k3", False, "batch: expired")]


MANIFEST = """\
name: llm-batch
seed: 2
sources:
  - {{name: mimic, root: "{root}/mimic-iv-ecg"}}
profile: {{duration_s: 10}}
builders:
  - {{type: llm_qa, config: qa, params: {{tasks: [rhythm/close, report/open], quality: {{threshold: 2}}}}}}
llm: {{{endpoint}model: test-model, mode: {mode}, cache: "{cache}", batch: {{poll_s: 0.02, dir: "{batches}"}}}}
output: {{dir: "{out}"}}
"""


def test_build_in_batch_mode(fixture_tree, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    with FakeOpenAI(faults=Faults(malformed=0.1)) as server:
        path = tmp_path / "m.yaml"
        path.write_text(MANIFEST.format(root=fixture_tree, endpoint=f'base_url: "{server.url}", ', mode="batch",
                                        cache=tmp_path / "c.sqlite", batches=tmp_path / "b", out=tmp_path / "out"))
        build(load_manifest(path), workers=2, progress=False)
        assert server.chat_requests == 0 and len(server.batches) >= 2    # generation, repairs, scores
    samples = [r for p in (tmp_path / "out" / "data" / "qa").glob("*.parquet") for r in pq.read_table(p).to_pylist()]
    assert samples and all(json.loads(r["meta"])["quality"]["score"] >= 2 for r in samples)


def test_vllm_run_batch_path_offline(fixture_tree, tmp_path, monkeypatch):
    """requests → `vllm run-batch` → import, until nothing is missing; then an offline build."""
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    path = tmp_path / "m.yaml"
    path.write_text(MANIFEST.format(root=fixture_tree, endpoint="", mode="offline", cache=tmp_path / "c.sqlite",
                                    batches=tmp_path / "b", out=tmp_path / "out"))
    model = FakeOpenAI(faults=Faults(malformed=0.15))   # answers without HTTP, like a local vLLM
    runner, rounds = CliRunner(), []
    for i in range(5):
        requests, output = tmp_path / f"requests-{i}.jsonl", tmp_path / f"output-{i}.jsonl"
        result = runner.invoke(llm, ["requests", str(path), "--out", str(requests)])
        assert result.exit_code == 0, result.output
        n = len(requests.read_text().splitlines())
        rounds.append(n)
        if n == 0:
            break
        run_batch_file(model, requests, output)
        result = runner.invoke(llm, ["import", str(output), "--manifest", str(path), "--requests", str(requests)])
        assert result.exit_code == 0 and f"{n} responses imported" in result.output, result.output
    # generation first, then what needs its answers (repairs, quality scores), then nothing
    assert rounds[0] == 12 and rounds[1] > 0 and rounds[-1] == 0
    summary = build(load_manifest(path), workers=1, progress=False)
    assert summary.samples and sum(summary.samples.values()) > 0
    result = runner.invoke(llm, ["cache", "--manifest", str(path)])
    assert "test-model [batch]" in result.output


def test_import_needs_a_cache(tmp_path):
    out = tmp_path / "o.jsonl"
    out.write_text("")
    result = CliRunner().invoke(llm, ["import", str(out)])
    assert result.exit_code == 1 and "--cache FILE or --manifest" in result.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    result = CliRunner().invoke(llm, ["import", str(bad), "--cache", str(tmp_path / "c.sqlite")])
    assert result.exit_code == 1 and "line 1: not a Batch API output line" in result.output


@pytest.fixture(autouse=True)
def _no_endpoint_env(monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def test_requests_include_llm_questions_printed_as_pages(fixture_tree, tmp_path, monkeypatch):
    """ecginstruct.yaml's image_llm_qa (image ← llm_qa) gets its requests written like llm_qa's,
    for the Batch API or `vllm run-batch`."""
    from pathlib import Path

    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("ECGCORPUS_FIXTURES", str(fixture_tree))
    monkeypatch.setenv("ECGCORPUS_LLM_MODEL", "test-model")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    manifest = Path(__file__).resolve().parents[1] / "manifests" / "ecginstruct.yaml"
    result = CliRunner().invoke(llm, ["requests", str(manifest), "--config", "image_llm_qa",
                                      "--out", str(tmp_path / "requests.jsonl")])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in (tmp_path / "requests.jsonl").read_text().splitlines()]
    assert lines and all(r["body"]["model"] == "test-model" for r in lines)

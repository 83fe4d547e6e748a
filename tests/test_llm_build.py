"""The llm_qa builder in a real engine build against the local OpenAI-compatible server."""

import json
from collections import Counter
from pathlib import Path

import pytest
from llm_server import TEST_KEY, FakeOpenAI, Faults

from ecgcorpus.engine.build import build
from ecgcorpus.manifest import ManifestError, load_manifest
from corpus_rows import rows as all_rows

MANIFEST = """\
name: llm-test
seed: 5
sources:
  - {{name: ptbxl, root: "{root}/ptbxl"}}
  - {{name: mimic, root: "{root}/mimic-iv-ecg"}}
profile: {{duration_s: 10}}
splits: {{ratios: {{train: 0.6, validation: 0.2, test: 0.2}}}}
builders:
  - {{type: report, config: report}}
  - {{type: llm_qa, config: qa, params: {{per_item: 2, quality: {{threshold: 3}}}}}}
  - {{type: llm_qa, config: multi, sources: [mimic],
      params: {{tasks: [comparison/open, comparison/close], items_per_request: 3}}}}
  - {{type: llm_qa, config: chat, params: {{tasks: [conversation, diagnosis/open]}}}}
llm: {{base_url: "{url}", model: test-model, cache: "{cache}", concurrency: 8, timeout_s: 0.5, backoff_s: 0.02,
      backoff_max_s: 0.1, prices: {{test-model: {{input: 2.5, output: 10.0}}}}}}
output: {{dir: "{out}", max_rows_per_shard: 40}}
"""

FAULTS = Faults(rate_limit=0.05, server_error=0.05, timeout=0.03, malformed=0.08, refusal=0.04, retry_after="0.05",
                slow_s=1.0)


def write_manifest(path: Path, root, out, url, cache, text=MANIFEST) -> Path:
    path.write_text(text.format(root=root, out=out, url=url, cache=cache))
    return path


def rows(out: Path, config: str) -> list[dict]:
    return all_rows(out, config, columns=None)


def tree_bytes(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and ".ecgcorpus" not in p.parts}


@pytest.fixture(scope="module")
def llm_build(fixture_tree, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("llm")
    mp = pytest.MonkeyPatch()
    mp.setenv("OPENAI_API_KEY", TEST_KEY)
    mp.delenv("OPENAI_BASE_URL", raising=False)
    with FakeOpenAI(faults=FAULTS) as server:
        manifest = write_manifest(tmp / "m.yaml", fixture_tree, tmp / "out", server.url, tmp / "cache.sqlite")
        summary = build(load_manifest(manifest), workers=2, progress=False)
        yield tmp, server, summary
    mp.undo()


def test_llm_samples_are_grounded_structured_and_complete(llm_build):
    tmp, server, summary = llm_build
    out = tmp / "out"
    qa = rows(out, "qa")
    assert qa and {r["task"] for r in qa} == {"llm_qa"}
    quarantine = [json.loads(line) for line in (out / "quarantine.jsonl").read_text().splitlines()]
    q_qa = [q for q in quarantine if q["config"] == "qa"]
    # every usable record is either in the corpus or quarantined with the reason, never both
    have = {r["ecgs"][0]["record_id"] for r in qa}
    lost = {q["record_id"] for q in q_qa}
    assert have.isdisjoint(lost) and len(have | lost) == 24
    assert any("refused" in q["reason"] for q in quarantine)
    # each generated item becomes at most one sample: (record, request, item) never repeats
    keys = Counter((r["ecgs"][0]["record_id"], *json.loads(r["meta"])["llm"]["requests"],
                    json.loads(r["meta"])["llm"]["item"]) for r in qa)
    assert max(keys.values()) == 1
    per_record = Counter(r["ecgs"][0]["record_id"] for r in qa)
    assert max(per_record.values()) <= 4      # 2 tasks × 2 items, minus low scores
    for r in qa:
        meta = json.loads(r["meta"])
        assert meta["quality"]["score"] >= 3 and meta["quality"]["threshold"] == 3
        assert meta["subtask"] in ("basic_features", "rhythm", "morphology", "report")
        assert meta["llm"]["model"] == "test-model" and meta["llm"]["usage"]["prompt_tokens"] > 0
        human = r["conversations"][0]["value"]
        assert human.startswith("<ecg>\n") and human.count("<ecg>") == len(r["ecgs"]) == 1
    # the scorer dropped some items: fewer samples than generated items
    assert len(qa) + len(q_qa) * 4 >= sum(per_record.values())
    assert len(qa) < 2 * 2 * len(have)


def test_comparison_groups_are_one_patient_in_date_order(llm_build):
    tmp, _, _ = llm_build
    multi = rows(tmp / "out", "multi")
    assert multi and {r["task"] for r in multi} == {"multi"}
    for r in multi:
        meta = json.loads(r["meta"])
        ecgs = r["ecgs"]
        assert 2 <= len(ecgs) <= 6 and len({e["patient_id"] for e in ecgs}) == 1
        assert r["conversations"][0]["value"].count("<ecg>") == len(ecgs)
        assert meta["dates"] == sorted(meta["dates"]) and meta["day_gaps"][0] == 0
        assert f"ECG 2 (recorded {meta['dates'][1]}): <ecg>" in r["conversations"][0]["value"]


def test_conversations_and_patient_questions(llm_build):
    tmp, _, _ = llm_build
    chat = rows(tmp / "out", "chat")
    tasks = Counter(r["task"] for r in chat)
    assert set(tasks) <= {"conversation", "diagnosis"} and tasks["conversation"] > 0
    for r in chat:
        turns = r["conversations"]
        assert [t["from"] for t in turns] == ["human", "gpt"] * (len(turns) // 2)
        assert turns[0]["value"].startswith("<ecg>\n") and sum(t["value"].count("<ecg>") for t in turns) == 1
        if r["task"] == "conversation":
            assert 3 <= len(turns) // 2 <= 6


def test_loads_with_datasets(llm_build):
    import datasets

    tmp, _, _ = llm_build
    ds = datasets.load_dataset("parquet", data_dir=str(tmp / "out" / "data" / "multi"))
    n = sum(len(split) for split in ds.values())
    assert n == len(rows(tmp / "out", "multi"))
    first = next(iter(ds.values()))[0]
    assert len(first["ecgs"]) >= 2 and len(first["ecgs"][0]["signal"]) == 12


def test_warm_rerun_sends_nothing_and_writes_the_same_bytes(llm_build, fixture_tree, capfd):
    tmp, server, _ = llm_build
    capfd.readouterr()
    mp = pytest.MonkeyPatch()
    mp.setenv("OPENAI_API_KEY", TEST_KEY)
    with FakeOpenAI(faults=FAULTS) as fresh:   # a new server: any request would show here
        text = (tmp / "m.yaml").read_text().replace(server.url, fresh.url)
        manifest = tmp / "again.yaml"
        manifest.write_text(text.replace(str(tmp / "out"), str(tmp / "again")))
        build(load_manifest(manifest), workers=1, progress=False)
        assert fresh.chat_requests == 0
    mp.undo()
    err = capfd.readouterr().err
    assert "0 misses" in err and "this run: 0 responses" in err
    first, second = tree_bytes(tmp / "out"), tree_bytes(tmp / "again")
    lock1, lock2 = first.pop("build.lock.json"), second.pop("build.lock.json")
    assert first == second
    # the locks differ only in the endpoint URL recorded with the manifest
    assert json.loads(lock1)["shards"] == json.loads(lock2)["shards"]


def test_api_key_is_never_written(llm_build):
    tmp, server, _ = llm_build
    assert f"Bearer {TEST_KEY}" in server.auth_seen          # it was used …
    written = [p for p in tmp.rglob("*") if p.is_file()]
    assert any(p.suffix == ".parquet" for p in written) and any(p.name == "cache.sqlite" for p in written)
    assert [p for p in written if TEST_KEY.encode() in p.read_bytes()] == []   # … and stored nowhere


def test_no_endpoint_skips_the_builder_with_one_line(fixture_tree, tmp_path, monkeypatch, capfd):
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    text = MANIFEST.replace('base_url: "{url}", ', "")
    manifest = write_manifest(tmp_path / "m.yaml", fixture_tree, tmp_path / "out", "", tmp_path / "c.sqlite", text)
    summary = build(load_manifest(manifest), workers=1, progress=False)
    err = [line for line in capfd.readouterr().err.splitlines() if line.strip()]
    skipped = [line for line in err if "skipped" in line]
    assert len(skipped) == 3 and all("no LLM configured" in line for line in skipped)
    assert {config for config, _ in summary.samples} == {"report"}
    assert not (tmp_path / "c.sqlite").exists()


def test_bad_params_and_keys_are_rejected_before_any_request(fixture_tree, tmp_path):

    text = MANIFEST.replace("comparison/close]", "comparison/close, rhythm/mcq]")
    with pytest.raises(ManifestError, match=r"m.yaml:\d+: builders.2.params.tasks: comparison tasks .* builder of their own"):
        load_manifest(write_manifest(tmp_path / "m.yaml", fixture_tree, tmp_path / "o", "http://127.0.0.1:9/v1",
                                     tmp_path / "c.sqlite", text))
    bad = MANIFEST.replace("concurrency: 8", "concurrency: 8, api_key: sk-oops")
    with pytest.raises(ManifestError, match=r"m2.yaml:\d+: llm: api_key: .*never go in a manifest") as err:
        load_manifest(write_manifest(tmp_path / "m2.yaml", fixture_tree, tmp_path / "o", "x", tmp_path / "c.sqlite", bad))
    assert "sk-oops" not in str(err.value)


def test_unreachable_endpoint_stops_the_build_with_one_line(fixture_tree, tmp_path, monkeypatch):
    from ecgcorpus.llm import LlmError

    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    manifest = write_manifest(tmp_path / "m.yaml", fixture_tree, tmp_path / "o", "http://127.0.0.1:9/v1",
                              tmp_path / "c.sqlite")
    with pytest.raises(LlmError, match="cannot reach test-model at http://127.0.0.1:9/v1"):
        build(load_manifest(manifest), workers=1, progress=False)


def test_run_counts_usage_and_cost_for_the_lock(llm_build):
    """run() adds deterministic totals (from the cached responses) to ctx.stats when the engine gives one."""
    from ecgcorpus.builders import BuildContext, WorkItem, builder_class
    from ecgcorpus.sources import open_source

    tmp, server, _ = llm_build
    manifest = load_manifest(tmp / "m.yaml")
    builder = builder_class("llm_qa")(manifest.builders[3], manifest)          # chat: one request per record
    ref = next(r for r in open_source("mimic", manifest.source("mimic").root).scan() if builder.skip_reason(r) is None)
    sent, totals = server.chat_requests, []
    for _ in range(2):
        ctx, item = BuildContext(manifest, builder.config), WorkItem((ref,))
        ctx.begin(item)
        samples = builder.run(item, ctx)
        totals.append(ctx.stats)
    assert server.chat_requests == sent and totals[0] == totals[1]
    stats = totals[0]
    assert stats["llm_requests"] == 1 and stats["llm_samples"] == len(samples) >= 1
    expected = (stats["llm_prompt_tokens"] * 2.5 + stats["llm_completion_tokens"] * 10.0) / 1e6
    assert stats["llm_cost_usd"] == pytest.approx(expected, abs=1e-6)     # the lock keeps micro-dollars


def test_usage_and_cost_reach_the_lock_and_summary(llm_build):
    import json

    tmp, _, summary = llm_build
    lock = json.loads((tmp / "out" / "build.lock.json").read_text())
    llm_configs = {c: t for c, t in lock["stats"].items() if "llm_requests" in t}
    assert llm_configs and all(t["llm_requests"] > 0 and t["llm_cost_usd"] > 0 for t in llm_configs.values())
    assert summary.stats == lock["stats"]
    assert any("llm_cost_usd" in line for line in summary.lines())


TRANSLATE = """\
name: translate
seed: 2
sources: [{{name: ptbxl, root: "{root}/ptbxl"}}]
profile: {{duration_s: 10}}
builders: [{{type: report, params: {{translate: true}}}}]
llm: {{base_url: "{url}", model: test-model, cache: "{cache}", prices: {{test-model: {{input: 2.5, output: 10.0}}}}}}
output: {{dir: "{out}", max_quarantine_rate: 1}}
"""


def test_reports_outside_english_are_translated_once_and_say_so(fixture_tree, tmp_path, monkeypatch):
    """translate: true sends each German or Swedish report (its cleaned statements) to the model once;
    its English statements answer, meta says llm_translation with the model and source language, the
    cost is in the summary, and a rebuild sends nothing."""
    from ecgcorpus.sources import open_source

    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    refs = {r.record_id: r for r in open_source("ptbxl", fixture_tree / "ptbxl").scan()}
    foreign = {rid for rid, r in refs.items() if r.report_lines and r.report_lang != "en"}
    assert foreign
    with FakeOpenAI() as server:
        path = write_manifest(tmp_path / "m.yaml", fixture_tree, tmp_path / "out", server.url, tmp_path / "c.sqlite",
                              TRANSLATE)
        summary = build(load_manifest(path), workers=1, progress=False)
        sent = server.chat_requests
        assert sent == len(foreign) and summary.stats["report"]["llm_translations"] >= 1
        assert summary.stats["report"]["llm_cost_usd"] > 0
        translated = 0
        for row in rows(tmp_path / "out", "report"):
            meta = json.loads(row["meta"])
            rid = meta["labels"][0]["record_id"]
            if meta["report_source"] == "llm_translation":
                translated += 1
                assert rid in foreign and meta["report_lang"] == "en"
                assert meta["translation"]["model"] and meta["translation"]["from"] == refs[rid].report_lang
            else:
                assert rid not in foreign
        quarantined = [json.loads(line) for line in (tmp_path / "out" / "quarantine.jsonl").read_text().splitlines()]
        unusable = [q for q in quarantined if "translation unusable" in q["reason"]]
        assert translated + len(unusable) == len(foreign) and translated
        build(load_manifest(path, out_dir=str(tmp_path / "again")), workers=1, progress=False)
        assert server.chat_requests == sent                                   # paid once


def test_translate_without_an_llm_skips_the_config_and_says_why(fixture_tree, tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    text = TRANSLATE.replace('base_url: "{url}", ', "")
    path = write_manifest(tmp_path / "m.yaml", fixture_tree, tmp_path / "out", "", tmp_path / "c.sqlite", text)
    summary = build(load_manifest(path), workers=1, progress=False)
    assert summary.skipped["report"].startswith("translate: ") and not summary.samples

"""Exports that each paper's training code reads unchanged: their loading paths, re-expressed here
(see target-corpora.md), run on our exports of corpora built from genuine and fixture records."""

import json
import os
import re
from pathlib import Path

import datasets
import pytest
import wfdb
from click.testing import CliRunner
from trainer_loaders import anyecg_collate, llava_image, records, same_signal, stored_by_record

from ecgcorpus.cli import main
from ecgcorpus.engine.build import build
from ecgcorpus.errors import EcgCorpusError
from ecgcorpus.export import export_corpus
from ecgcorpus.manifest import load_manifest

REPO = Path(__file__).resolve().parents[1]
ANYECG_MANIFEST = """\
name: anyecg-mini
seed: 11
sources:
  - {{name: mimic, root: "{fixtures}/mimic-iv-ecg", limit: 6}}
  - {{name: wfdb-annotated, root: "{data}/mitdb", alias: mitdb}}
profile: {{fs: null, leads: null, duration_s: 10, crop: start}}
splits: {{ratios: {{train: 0.5, validation: 0.25, test: 0.25}}}}
builders:
  - {{type: report, config: report, sources: [mimic], params: {{profile: anyecg}}}}
  - type: localization
    config: location
    sources: [mitdb]
    params:
      profile: anyecg
      beat_types: [A, V]
      windows: [{{task: location, length_s: 10}}]
      windows_per_type: 2
      datasets: {{mitdb: mit_bih_arrhythmia}}
output: {{dir: "{out}", max_rows_per_shard: 50}}
"""


@pytest.fixture(scope="module")
def anyecg_corpus(data_dir, fixture_tree, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("anyecg")
    manifest = tmp / "m.yaml"
    manifest.write_text(ANYECG_MANIFEST.format(fixtures=fixture_tree, data=data_dir, out=tmp / "out"))
    build(load_manifest(manifest), workers=1, progress=False)
    return tmp / "out", manifest


@pytest.mark.parametrize("signals", ["link", "copy", "source"])
def test_anyecg_rows_load_through_anyecgs_collate_path(anyecg_corpus, tmp_path, signals):
    corpus, manifest = anyecg_corpus
    out = tmp_path / "x"
    result = CliRunner().invoke(main, ["export", str(corpus), "--format", "anyecg", "--manifest", str(manifest),
                                       "--out", str(out), "--signals", signals])
    assert result.exit_code == 0, result.output
    ecg_dir = json.loads((out / "ecg_dir.json").read_text())
    assert set(ecg_dir) == {"mimic", "mit_bih_arrhythmia"}
    if signals == "source":
        assert all(os.path.isabs(v) for v in ecg_dir.values()) and not (out / "mimic").exists()
    else:
        assert ecg_dir == {"mimic": "mimic", "mit_bih_arrhythmia": "mit_bih_arrhythmia"}
        assert (out / "mimic" / "files").is_dir() and (os.path.islink(out / "mit_bih_arrhythmia" / "100.dat")
                                                       == (signals == "link"))
    stored = stored_by_record(corpus)
    by_path = {}
    for row in stored.values():
        ecg = row["ecgs"][0]
        by_path.setdefault((ecg["path"], ecg["start"]), row)
    files = records(out)
    tasks = set()
    for name, rows in files.items():
        for rec in rows:
            tasks.add(rec["task"])
            assert isinstance(rec["ecg_path"], str)                 # single-ECG rows, as stage1/stage2 write them
            if rec["task"] == "report":
                assert set(rec) == {"question", "answer", "ecg_path", "dataset", "task"}
                assert rec["dataset"] == "mimic" and rec["ecg_path"].startswith("files/p") and rec["answer"].startswith("Report: ")
                row = by_path[(rec["ecg_path"], 0)]
            else:
                assert set(rec) == {"question", "answer", "ecg_path", "dataset", "task", "abnormal_type", "ecg_start",
                                    "ecg_end"}
                assert rec["dataset"] == "mit_bih_arrhythmia" and rec["ecg_path"] == "100"
                assert rec["ecg_end"] - rec["ecg_start"] == 3600           # 10 s at the record's 360 Hz
                row = by_path[(rec["ecg_path"], rec["ecg_start"])]
            same_signal(anyecg_collate(out, rec), row["ecgs"][0])
    assert tasks == {"report", "location"}


def test_anyecg_rows_and_released_rows_load_as_one_table(anyecg_corpus, tmp_path):
    corpus, manifest = anyecg_corpus
    export_corpus(str(corpus), "anyecg", str(tmp_path), roots={s.key: s.root for s in load_manifest(manifest).sources})
    ours = [r for rows in records(tmp_path).values() for r in rows]
    # rows as anyECG's data/stage1.json, stage2.json and ecgqa_train.json write them (target-corpora.md)
    released = {
        "report": [{"question": "Give me the report of this ECG.", "answer": "Report: Sinus rhythm with PAC(s)., Borderline ECG",
                    "ecg_path": "files/p1000/p10000032/s40689238/40689238", "dataset": "mimic", "task": "report"}],
        "location": [{"question": "Where does the Premature ventricular contraction appear in this ECG?",
                      "answer": "Duration: 1.9s-3.1s", "ecg_path": "e0103", "dataset": "european_st_t",
                      "task": "location", "abnormal_type": "V", "ecg_start": 1000, "ecg_end": 3500}],
    }
    for task, theirs in released.items():
        mine = [r for r in ours if r["task"] == task]
        assert mine
        table = datasets.Dataset.from_list(theirs + mine)
        assert table.num_rows == len(mine) + 1 and table.features["ecg_path"].dtype == "string"


def test_anyecg_lists_option_and_image_configs(anyecg_corpus, tmp_path):
    corpus, manifest = anyecg_corpus
    roots = {s.key: s.root for s in load_manifest(manifest).sources}
    export_corpus(str(corpus), "anyecg", str(tmp_path), roots=roots, lists=True)
    assert all(isinstance(r["ecg_path"], list) for rows in records(tmp_path).values() for r in rows)
    with pytest.raises(EcgCorpusError, match="pass --manifest"):
        export_corpus(str(corpus), "anyecg", str(tmp_path / "y"))


def test_non_wfdb_records_are_written_as_windows(corpus, tmp_path):
    """SPH (HDF5) and CPSC2018 (MAT) records cannot be read by wfdb.rdsamp where they lie: the stored
    window is written as a WFDB record instead; PTB-XL and Chapman rows point at the release."""
    roots = {s.key: s.root for s in load_manifest(corpus.parent / "m.yaml").sources}
    export_corpus(str(corpus), "anyecg", str(tmp_path), roots=roots, signals="source")
    stored = stored_by_record(corpus)
    seen = set()
    for rows in records(tmp_path).values():
        for rec in rows:
            seen.add(rec["dataset"])
            loaded = anyecg_collate(tmp_path, rec)
            if rec["dataset"] == "ecgcorpus_windows":
                row = stored[rec["ecg_path"].rsplit("_", 1)[0]]
                assert row["ecgs"][0]["source"] in ("sph", "cpsc2018")
            else:
                (row,) = [r for r in stored.values() if r["ecgs"][0]["path"] == rec["ecg_path"]]
                assert rec["dataset"] == {"ptbxl": "ptbxl", "chapman": "csn"}[row["ecgs"][0]["source"]]
            # report rows attach the record's first 10 s; the whole genuine records are 10 s long
            same_signal((loaded[0][:row["ecgs"][0]["stop"] - row["ecgs"][0]["start"]], loaded[1]), row["ecgs"][0])
    assert seen == {"ptbxl", "csn", "ecgcorpus_windows"}


def test_meit_jsonl_is_read_by_meits_collator(data_dir, tmp_path):
    """MEIT: {dataset, id, ecg_path, messages} with an empty user turn; wfdb.rdsamp(join(export, ecg_path))
    gives the 12 leads; a config not built with profile meit is refused."""
    from genuine_corpus import build_genuine

    manifest = ("name: meit-mini\nseed: 3\nsources:\n  - {{name: ptbxl, root: \"{data}/ptbxl\", limit: 10}}\n"
                "profile: {{duration_s: 10}}\nbuilders:\n  - {{type: report, params: {{profile: meit, languages: null}}}}\n"
                "output: {{dir: \"{out}\"}}\n")
    corpus = build_genuine(manifest, data_dir, tmp_path)
    export_corpus(str(corpus), "meit", str(tmp_path / "x"))
    stored = stored_by_record(corpus)
    rows = [r for rs in records(tmp_path / "x").values() for r in rs]
    assert rows
    for i, rec in enumerate(sorted(rows, key=lambda r: int(r["id"].split("_")[1]))):
        assert set(rec) == {"dataset", "id", "ecg_path", "messages"} and rec["dataset"] == "ptbxl"
        assert [m["role"] for m in rec["messages"]] == ["user", "assistant"] and rec["messages"][0]["content"] == ""
        assert rec["messages"][1]["content"] == rec["messages"][1]["content"].lower()
        signal, fields = wfdb.rdsamp(os.path.join(tmp_path / "x", rec["ecg_path"]))
        assert signal.shape[1] == 12
        same_signal((signal, fields["sig_name"]), stored[os.path.basename(rec["ecg_path"]).rsplit("_", 1)[0]]["ecgs"][0])


def test_meit_and_ecgchat_refuse_what_they_cannot_read(corpus, tmp_path):
    with pytest.raises(EcgCorpusError, match="profile: meit"):
        export_corpus(str(corpus), "meit", str(tmp_path / "m"))
    with pytest.raises(EcgCorpusError, match="writes signals as wfdb"):
        export_corpus(str(corpus), "ecgchat", str(tmp_path / "e"), signals="npy")


def test_ecgchat_llava_json_is_read_by_its_loader(corpus, tmp_path):
    """ECG-Chat (LLaVA-ECG): {ecg: WFDB path, conversations}, `<ecg>\\n` opening the first human turn."""
    export_corpus(str(corpus), "ecgchat", str(tmp_path))
    stored = stored_by_record(corpus)
    rows = [r for rs in records(tmp_path).values() for r in rs]
    assert len(rows) == len(stored)
    for rec in rows:
        first = rec["conversations"][0]
        assert first["from"] == "human" and first["value"].startswith("<ecg>\n")
        assert sum(t["value"].count("<ecg>") for t in rec["conversations"]) == 1
        signal, fields = wfdb.rdsamp(os.path.join(tmp_path, rec["ecg"]))
        same_signal((signal, fields["sig_name"]), stored[rec["id"]]["ecgs"][0])


PULSE_MANIFEST = """\
name: pulse-mini
seed: 4
sources:
  - {{name: ptbxl, root: "{data}/ptbxl", limit: 12}}
  - {{name: mimic, root: "{fixtures}/mimic-iv-ecg", limit: 3}}
  - {{name: code15, root: "{fixtures}/code15", limit: 4}}
profile: {{duration_s: 10}}
splits: {{ratios: {{train: 1.0}}}}
builders:
  - {{type: image, config: report, sources: [ptbxl, mimic], params: {{base: report, dpi: 100,
                                                                     base_params: {{languages: null}}}}}}
  - {{type: image, config: report_aug, sources: [ptbxl, mimic], params: {{base: report, variant: augmented, dpi: 100, probability: 1.0,
                                             base_params: {{languages: null}}}}}}
  - {{type: image, config: qa, sources: [ptbxl], params: {{base: label_qa, dpi: 100}}}}
  - {{type: image, config: c15, sources: [code15], params: {{base: features, dpi: 100, variant: augmented,
                                                      base_params: {{question_types: [close]}}}}}}
output: {{dir: "{out}"}}
"""


def test_pulse_rows_are_read_by_llavas_loader(data_dir, fixture_tree, tmp_path):
    """PULSE (LLaVA-image): Image.open(os.path.join(image_folder, image)) and `<image>\\n` first; ids
    `{source}-{record}`, ECGInstruct's folders and names, standard and augmented pages apart."""
    from PIL import Image

    (tmp_path / "m.yaml").write_text(PULSE_MANIFEST.format(data=data_dir, fixtures=fixture_tree, out=tmp_path / "out"))
    build(load_manifest(tmp_path / "m.yaml"), workers=1, progress=False)
    stored = stored_by_record(tmp_path / "out")
    out = tmp_path / "x"
    export_corpus(str(tmp_path / "out"), "pulse", str(out))
    files = records(out)
    by_image = {}
    for name, rows in files.items():
        for rec in rows:
            assert set(rec) == {"id", "image", "conversations", "metadata"}
            assert rec["conversations"][0]["value"].startswith("<image>\n")
            assert set(rec["metadata"]) == {"subtask", "type", "source"}
            source = rec["metadata"]["source"]
            folder, rest = rec["image"].split("/", 1)
            if source == "code15":          # ECGInstruct keeps CODE-15%'s pages, both kinds, in code15_v4/
                assert folder == "code15_v4" and re.fullmatch(r"code15-\d+", rec["id"])
                assert re.fullmatch(rf"{rec['id'][7:]}-\d\.jpg", rest)
                assert rec["metadata"] == {"subtask": "feature", "type": "close", "source": "code15"}
                by_image.setdefault(rec["image"], set()).add((out / rec["image"]).read_bytes())
                continue
            assert folder == (source + "_aug" if name.startswith("report_aug") else source)
            if source == "mimic":
                assert re.fullmatch(r"mimic-\d{8}", rec["id"])
                assert re.fullmatch(r"p\d{4}/p\d{8}/s(\d{8})/\1-\d\.(png|jpg)", rest) and rest.split("/")[2][1:] == rec["id"][6:]
            else:
                assert source == "ptb-xl" and re.fullmatch(r"ptb-xl-\d{5}", rec["id"])
                assert re.fullmatch(rf"{rec['id'][7:]}_hr-\d\.(png|jpg)", rest)
            assert rest.endswith(".jpg" if folder.endswith("_aug") else ".png")
            with Image.open(os.path.join(out, rec["image"])) as page:
                assert page.convert("RGB").size[0] > 500
            by_image.setdefault(rec["image"], set()).add((out / rec["image"]).read_bytes())
            if rec["metadata"]["subtask"] == "report":
                assert rec["metadata"]["type"] == "open"
            else:
                assert rec["metadata"]["subtask"] in ("rhythm", "morphology")
                assert rec["metadata"]["type"] in ("close", "mcq")
    assert {r["metadata"]["source"] for rows in files.values() for r in rows} == {"mimic", "ptb-xl", "code15"}
    # each page file is the stored image of the rows naming it, and distinct pages get distinct k
    pages = {img["bytes"] for row in stored.values() for img in row["images"]}
    assert all(len(blobs) == 1 and blobs <= pages for blobs in by_image.values())
    assert len(by_image) == len(pages)
    with pytest.raises(EcgCorpusError, match="pulse"):
        export_corpus(str(tmp_path / "out"), "pulse", str(tmp_path / "y"), signals="npy")


def build_shipped_with_llm(name: str, fixture_tree, tmp_path, monkeypatch, workers: int = 1, limit: int | None = None,
                           configs: list[str] | None = None):
    """Build manifests/{name}.yaml on the fixtures, its LLM configs against the local endpoint;
    the (loaded, narrowed) manifest. Output under tmp_path/out."""
    from llm_server import TEST_KEY, FakeOpenAI

    monkeypatch.setenv("ECGCORPUS_FIXTURES", str(fixture_tree))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with FakeOpenAI() as server:
        monkeypatch.setenv("ECGCORPUS_LLM_MODEL", "test-model")
        monkeypatch.setenv("ECGCORPUS_LLM_BASE_URL", server.url)
        m = load_manifest(REPO / "manifests" / f"{name}.yaml")
        update = {"output": m.output.model_copy(update={"dir": str(tmp_path / "out")})}
        if limit is not None:
            update["sources"] = [s.model_copy(update={"limit": limit}) for s in m.sources]
        if configs is not None:
            update["builders"] = [b for b in m.builders if b.config_name in configs]
        m = m.model_copy(update=update)
        build(m, workers=workers, progress=False)
    return m


def test_anyecg_manifest_multi_ecg_qa_through_the_llm_stage(fixture_tree, tmp_path, monkeypatch):
    """The shipped anyecg.yaml's multi config against the local endpoint: groups of 2–6 ECGs of one
    MIMIC patient, oldest first; exported as anyECG's open-ended (train) / multi (test) rows with a
    list of MIMIC record paths that anyECG's collate reads."""
    from ecgcorpus.corpus import Corpus
    from ecgcorpus.sources import open_source

    m = build_shipped_with_llm("anyecg", fixture_tree, tmp_path, monkeypatch, workers=2)
    # the whole manifest exports to every anyECG component, each loading through its collate path
    roots = {s.key: open_source(s.name, s.root, **s.options).records_root for s in m.sources}
    export_corpus(str(tmp_path / "out"), "anyecg", str(tmp_path / "all"), roots=roots)
    components = set()
    for rec in [r for rs in records(tmp_path / "all").values() for r in rs]:
        components.add((rec["task"], rec["dataset"]))
        for path in rec["ecg_path"] if isinstance(rec["ecg_path"], list) else [rec["ecg_path"]]:
            assert len(anyecg_collate(tmp_path / "all", dict(rec, ecg_path=path))[0]) > 0
    beat_dbs = {"mit_bih_arrhythmia", "european_st_t", "mit_bih_st"}
    assert {("report", "mimic"), ("ecgqa", "ptbxl"), ("open-ended", "mimic")} <= components
    assert {(task, db) for task in ("location", "location_long") for db in beat_dbs} <= components
    stored = [row for shard, row in Corpus(tmp_path / "out").rows() if shard.config == "multi"]
    assert stored
    acquired = {r.record_id: r.acquired for r in open_source("mimic", fixture_tree / "mimic-iv-ecg").scan()}
    for row in stored:
        times = [acquired[e["record_id"]] for e in row["ecgs"]]
        assert 2 <= len(row["ecgs"]) <= 6 and len({e["patient_id"] for e in row["ecgs"]}) == 1
        assert times == sorted(times) and len(set(times)) == len(times)          # oldest first
    export_corpus(str(tmp_path / "out"), "anyecg", str(tmp_path / "x"), roots=roots, configs=["multi"])
    rows = [r for rs in records(tmp_path / "x").values() for r in rs]
    assert {r["task"] for r in rows} <= {"open-ended", "multi"} and rows
    for rec in rows:
        assert set(rec) == {"question", "answer", "ecg_path", "dataset", "task"} and rec["dataset"] == "mimic"
        assert isinstance(rec["ecg_path"], list) and 2 <= len(rec["ecg_path"]) <= 6
        assert all(p.startswith("files/p") for p in rec["ecg_path"])
        assert len({p.split("/")[2] for p in rec["ecg_path"]}) == 1                 # one subject's folder
        for path in rec["ecg_path"]:
            assert len(anyecg_collate(tmp_path / "x", dict(rec, ecg_path=path))[0]) == 5000
    splits = {r["split"] for r in stored}
    tasks = {r["task"] for r in rows}
    assert ("test" in splits) == ("multi" in tasks) and (bool(splits - {"test"}) == ("open-ended" in tasks))


def test_ecgchat_manifest_gives_single_and_multi_turn_llava_ecg_rows(fixture_tree, tmp_path, monkeypatch):
    """manifests/ecgchat.yaml against the local endpoint: diagnosis rows are one exchange,
    conversation rows 3–6; both read by ECG-Chat's loader (one WFDB record, `<ecg>\\n` first)."""
    build_shipped_with_llm("ecgchat", fixture_tree, tmp_path, monkeypatch, limit=6)
    export_corpus(str(tmp_path / "out"), "ecgchat", str(tmp_path / "x"), configs=["diagnosis", "conversation"])
    stored = stored_by_record(tmp_path / "out")
    exchanges = {}
    for name, rows in records(tmp_path / "x").items():
        for rec in rows:
            turns = rec["conversations"]
            assert [t["from"] for t in turns] == ["human", "gpt"] * (len(turns) // 2)
            assert turns[0]["value"].startswith("<ecg>\n") and sum(t["value"].count("<ecg>") for t in turns) == 1
            signal, fields = wfdb.rdsamp(os.path.join(tmp_path / "x", rec["ecg"]))
            same_signal((signal, fields["sig_name"]), stored[rec["id"]]["ecgs"][0])
            exchanges.setdefault(name.rsplit("_", 1)[0], set()).add(len(turns) // 2)
    assert exchanges["diagnosis"] == {1} and min(exchanges["conversation"]) >= 3


def test_a_conversation_that_cites_its_findings_is_refused():
    from ecgcorpus.llm.schema import conversation_model, parse_reply

    model = conversation_model(3, 3)
    turn = {"question": "Is my heartbeat regular?", "answer": "Yes: the beats come at even intervals."}
    assert len(parse_reply(json.dumps({"turns": [turn] * 3}), model).turns) == 3
    for leak in ("The report says sinus rhythm.", "According to the findings, yes.", "The provided findings show AF."):
        with pytest.raises(ValueError, match="cites the findings it was given as a source"):
            parse_reply(json.dumps({"turns": [turn, turn, dict(turn, answer=leak)]}), model)


def test_ecginstruct_llm_qa_pages_reach_the_pulse_export(fixture_tree, tmp_path, monkeypatch):
    """ecginstruct.yaml's LLM-curated QA (image ← llm_qa) against the local endpoint: items become
    pages, and the PULSE export reads them like every other page."""
    build_shipped_with_llm("ecginstruct", fixture_tree, tmp_path, monkeypatch, limit=3, configs=["image_llm_qa"])
    export_corpus(str(tmp_path / "out"), "pulse", str(tmp_path / "x"))
    rows = [r for rs in records(tmp_path / "x").values() for r in rs]
    assert rows and {r["metadata"]["source"] for r in rows} <= {"ptb-xl", "mimic"}
    for rec in rows:
        assert llava_image(tmp_path / "x", rec).size[0] > 500
        assert rec["metadata"]["type"] in ("mcq", "fill", "close", "open")
        assert rec["metadata"]["subtask"] in ("feature", "rhythm", "morphology", "report")

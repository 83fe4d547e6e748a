"""ECG-QA: the fixture miniature (PTB-XL version) in the release layout, joined to the PTB-XL
miniature; the ecgqa builder's anyECG and PULSE renderings."""

import ast
import csv
import glob
import json

import pytest
from click.testing import CliRunner
from corpus_rows import rows

from ecgcorpus.cli import main
from ecgcorpus.engine.build import build
from ecgcorpus.manifest import load_manifest
from ecgcorpus.sources import open_source

MANIFEST = """\
name: qa
seed: 1
sources:
  - {{name: ecgqa, root: "{qa}", options: {{ecg_root: "{ptbxl}"}}}}
profile: {{duration_s: 10}}
splits: {{policy: official}}
builders:
  - {{type: ecgqa, config: anyecg}}
  - {{type: ecgqa, config: pulse, params: {{profile: pulse}}}}
output: {{dir: "{out}"}}
"""


def items(root) -> dict[int, dict]:
    return {it["sample_id"]: dict(it, split=path.split("/")[-2])
            for path in glob.glob(f"{root}/paraphrased/*/*.json") for it in json.load(open(path))}


@pytest.fixture(scope="module")
def qa_build(fixture_tree, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ecgqa")
    (tmp / "m.yaml").write_text(MANIFEST.format(qa=fixture_tree / "ecgqa" / "ptbxl", ptbxl=fixture_tree / "ptbxl",
                                                out=tmp / "out"))
    build(load_manifest(tmp / "m.yaml"), workers=1, progress=False)
    return tmp / "out"


def test_scan_joins_items_to_ptbxl_records_and_quarantines_a_missing_ecg(fixture_tree):
    root = fixture_tree / "ecgqa" / "ptbxl"
    src = open_source("ecgqa", root, ecg_root=str(fixture_tree / "ptbxl"))
    refs = list(src.scan())
    ptbxl = {r.native_id: r for r in open_source("ptbxl", fixture_tree / "ptbxl").scan()}
    assert refs and all(r.source == "ptbxl" and r.record_id == f"ptbxl:{r.native_id}" for r in refs)
    every = items(root)
    seen = set()
    for ref in refs:
        assert ref.labels == ptbxl[ref.native_id].labels
        for it in ref.extra["ecgqa_items"]:
            assert str(it["ecg_id"][0]) == ref.native_id and set(ref.extra["ecgqa_partners"]) >= {
                str(e) for e in it["ecg_id"][1:]}
            assert src.official_split(ref) == {"train": "train", "valid": "validation", "test": "test"}[
                every[it["sample_id"]]["split"]]
            seen.add(it["sample_id"])
    (missing,) = src.errors
    assert missing.file.endswith(f":{missing.record_id.split(':')[1]}") and "is not in the ptbxl tree" in missing.problem
    assert seen | {int(missing.record_id.split(":")[1])} == set(every)     # every item: a sample or a quarantine line


def test_fixture_answers_are_true_of_the_ptbxl_labels(fixture_tree):
    names = {r.native_id: {lab.name.lower() for lab in r.labels if lab.name}
             for r in open_source("ptbxl", fixture_tree / "ptbxl").scan()}
    for it in items(fixture_tree / "ecgqa" / "ptbxl").values():
        ids = [str(e) for e in it["ecg_id"]]
        if not all(i in names for i in ids):
            continue
        (attribute,) = it["attribute"] if it["question_type"] != "single-choose" else [it["answer"][0]]
        if it["question_type"] == "single-verify":
            assert it["answer"] == ["yes" if attribute in names[ids[0]] else "no"]
        elif it["question_type"] == "single-choose":
            assert attribute in names[ids[0]] and not set(it["attribute"]) - {attribute} & names[ids[0]]
        else:
            assert it["answer"] == ["yes" if all(attribute in names[i] for i in ids) else "no"]


def test_anyecg_rendering_keeps_ecgqa_grammar_and_ecg_order(fixture_tree, qa_build):
    every = items(fixture_tree / "ecgqa" / "ptbxl")
    samples = rows(qa_build, "anyecg", columns=None)
    assert samples and any(len(s["ecgs"]) == 2 for s in samples)
    for s in samples:
        meta = json.loads(s["meta"])
        it = every[meta["ecgqa"]["sample_id"]]
        human, gpt = s["conversations"][0]["value"], s["conversations"][1]["value"]
        assert human == "<ecg>\n" * len(it["ecg_id"]) + it["question"] + " Please answer briefly."
        assert gpt == ", ".join(it["answer"]) and s["task"] == "ecgqa"
        assert meta["template_id"] == it["template_id"] and isinstance(meta["template_id"], int)
        assert meta["question_type"] == it["question_type"]
        assert [e["record_id"] for e in s["ecgs"]] == [f"ptbxl:{e}" for e in it["ecg_id"]]   # the item's order
        assert s["split"] == {"train": "train", "valid": "validation", "test": "test"}[it["split"]]
    assert CliRunner().invoke(main, ["audit", str(qa_build), "--strict"]).exit_code == 0


def test_pulse_rendering_wraps_a_fixed_question_and_options_core(fixture_tree, qa_build):
    with open(fixture_tree / "ecgqa" / "ptbxl" / "answers_for_each_template.csv", newline="") as f:
        classes = {int(r["template_id"]): ast.literal_eval(r["classes"]) for r in csv.DictReader(f)}
    every = items(fixture_tree / "ecgqa" / "ptbxl")
    wrappers = set()
    for s in rows(qa_build, "pulse"):
        meta = json.loads(s["meta"])
        it = every[meta["ecgqa"]["sample_id"]]
        core = f"Question: {it['question']}\nOptions: {', '.join(classes[it['template_id']])}"
        assert core in s["conversations"][0]["value"] and s["conversations"][1]["value"] == ", ".join(it["answer"])
        wrappers.add(meta["wrapper"])
    assert len(wrappers) >= 3


def test_sources_list_shows_ecgqa():
    result = CliRunner().invoke(main, ["sources", "list"])
    assert result.exit_code == 0 and "ecgqa" in result.output


def test_mimic_version_joins_study_ids_and_exports_by_reference(fixture_tree, tmp_path):
    from trainer_loaders import anyecg_collate, records

    from ecgcorpus.export import export_corpus

    root = fixture_tree / "ecgqa" / "mimic-iv-ecg"
    src = open_source("ecgqa", root, ecg_root=str(fixture_tree / "mimic-iv-ecg"))
    refs = list(src.scan())
    assert src.database == "mimic" and refs and all(r.source == "mimic" for r in refs)
    assert all(str(it["ecg_id"][0]) == r.native_id for r in refs for it in r.extra["ecgqa_items"])  # study_id
    (tmp_path / "m.yaml").write_text(
        f'name: qa\nsources: [{{name: ecgqa, root: "{root}", options: {{ecg_root: "{fixture_tree}/mimic-iv-ecg"}}}}]\n'
        f'profile: {{duration_s: 10}}\nbuilders: [{{type: ecgqa}}]\noutput: {{dir: "{tmp_path}/out"}}\n')
    build(load_manifest(tmp_path / "m.yaml"), workers=1, progress=False)
    export_corpus(str(tmp_path / "out"), "anyecg", str(tmp_path / "x"), roots={"ecgqa": src.records_root})
    rows_ = [r for rs in records(tmp_path / "x").values() for r in rs]
    assert rows_ and all(r["dataset"] == "mimic" and isinstance(r["ecg_path"], list) for r in rows_)
    for rec in rows_:
        assert all(p.startswith("files/p") for p in rec["ecg_path"])
        assert len(anyecg_collate(tmp_path / "x", dict(rec, ecg_path=rec["ecg_path"][0]))[0]) == 5000

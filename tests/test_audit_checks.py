"""Every audit check, made to fire by a planted defect (and silent on a clean corpus)."""

import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ecgcorpus.audit import audit_corpus
from genuine_corpus import build_genuine, codes, rewrite, shards_of

CHECKS = Path(__file__).resolve().parents[1] / "ecgcorpus" / "audit" / "checks.py"


def test_every_finding_code_has_a_planted_test():
    emitted = set(re.findall(r'found\.add\("\w+", "(\w+)"', CHECKS.read_text()))
    tested = set(re.findall(r'"(\w+)"', Path(__file__).read_text()))
    tested |= set(re.findall(r'"(\w+)"', (Path(__file__).parent / "test_audit_export.py").read_text()))
    assert emitted and emitted <= tested, emitted - tested


def set_column(table, name, values):
    field = table.schema.field(name)
    return table.set_column(table.schema.get_field_index(name), field, pa.array(values, field.type))


def first_train(root):
    return shards_of(root, "train")[0]


def test_lock_missing(copy):
    (copy / "build.lock.json").unlink()
    assert "lock_missing" in codes(audit_corpus(copy))


def test_shard_missing_and_unlisted(copy):
    shard = first_train(copy)
    shard.rename(shard.with_name("train-99999-of-99999.parquet"))
    found = codes(audit_corpus(copy))
    assert found["shard_missing"].examples == [str(shard.relative_to(copy))]
    assert found["shard_unlisted"].examples == ["data/report/train-99999-of-99999.parquet"]


def test_shard_unreadable(copy):
    shard = first_train(copy)
    shard.write_bytes(b"not parquet at all")
    found = codes(audit_corpus(copy))
    assert "shard_unreadable" in found and "shard_hash_mismatch" in found


def test_schema_mismatch(copy):
    rewrite(copy, first_train(copy), lambda t: t.drop_columns(["task"]))
    assert codes(audit_corpus(copy))["schema_mismatch"].examples == [str(first_train(copy).relative_to(copy))]


def test_split_mismatch(copy):
    rewrite(copy, first_train(copy), lambda t: set_column(t, "split", ["validation"] * len(t)))
    assert codes(audit_corpus(copy))["split_mismatch"].level == "error"


def _edit_ecgs(copy, edit):
    def fn(table):
        ecgs = table.column("ecgs").to_pylist()
        edit(ecgs[0][0])
        return set_column(table, "ecgs", ecgs)
    rewrite(copy, first_train(copy), fn)


def test_segment_out_of_bounds(copy):
    _edit_ecgs(copy, lambda ecg: ecg.update(stop=ecg["record_samples"] + 1))
    example = codes(audit_corpus(copy))["segment_out_of_bounds"].examples[0]
    assert example["stop"] == example["record_samples"] + 1


def test_signal_shape(copy):
    _edit_ecgs(copy, lambda ecg: ecg.update(leads=ecg["leads"][:-1]))
    assert "signal_shape" in codes(audit_corpus(copy))


def test_empty_answer(copy):
    def fn(table):
        convs = table.column("conversations").to_pylist()
        convs[0][1]["value"] = "  "
        return set_column(table, "conversations", convs)
    rewrite(copy, first_train(copy), fn)
    assert codes(audit_corpus(copy))["empty_answer"].level == "warning"


def test_personal_names_emails_and_record_numbers_are_phi_like(copy):
    def fn(table):
        convs = table.column("conversations").to_pylist()
        convs[0][1]["value"] += " Mrs Jones, jones@example.org, MRN: 1234567."
        return set_column(table, "conversations", convs)
    rewrite(copy, first_train(copy), fn)
    kinds = {e["kind"] for e in codes(audit_corpus(copy))["phi_like"].examples}
    assert {"personal name", "email address", "medical record number"} <= kinds


def test_near_duplicate_across_splits_is_information(copy):
    """The same answer with other numbers, on another record, in another split: info, not an error."""
    train, test = first_train(copy), shards_of(copy, "test")[0]
    row = pq.read_table(train).slice(0, 1)
    convs = row.column("conversations").to_pylist()
    convs[0][1]["value"] = re.sub(r"\d", "7", convs[0][1]["value"]) + " 12 ms"
    row = set_column(set_column(set_column(row, "split", ["test"]), "conversations", convs), "id", ["planted"])
    ecgs = row.column("ecgs").to_pylist()
    ecgs[0][0].update(record_id="elsewhere:1", patient_id="elsewhere")
    row = set_column(row, "ecgs", ecgs)
    rewrite(copy, test, lambda t: pa.concat_tables([t, row]))
    found = codes(audit_corpus(copy))
    assert found["near_duplicate_across_splits"].level == "info"
    assert "leakage_patient" not in found and "duplicate_across_splits" not in found


@pytest.mark.parametrize("split, code", [("train", "signal_duplicate"), ("test", "signal_duplicate_across_splits")])
def test_the_same_signal_under_another_record_id(copy, split, code):
    """One ECG entering twice under two identities (a CinC copy, a second alias): an error, named."""
    row = pq.read_table(first_train(copy)).slice(0, 1)
    ecgs = row.column("ecgs").to_pylist()
    original = ecgs[0][0]["record_id"]
    ecgs[0][0].update(record_id="copy:1", patient_id="copy-patient")
    planted = set_column(set_column(set_column(row, "ecgs", ecgs), "split", [split]), "id", ["planted"])
    convs = planted.column("conversations").to_pylist()
    convs[0][0]["value"] += " (again)"                     # not an exact conversation duplicate
    planted = set_column(planted, "conversations", convs)
    target = first_train(copy) if split == "train" else shards_of(copy, "test")[0]
    rewrite(copy, target, lambda t: pa.concat_tables([t, planted]))
    found = codes(audit_corpus(copy))
    assert found[code].level == "error" and found[code].examples[0]["records"] == sorted(["copy:1", original])


def test_audit_never_reads_signals_into_python(corpus, monkeypatch):
    """The audit's rows carry the number of lead rows, not the samples."""
    from ecgcorpus.audit import checks

    seen = []
    real = checks._Pass.row

    def spy(self, shard, row):
        seen.extend(row["ecgs"])
        return real(self, shard, row)

    monkeypatch.setattr(checks._Pass, "row", spy)
    audit_corpus(corpus)
    assert seen and all("signal" not in ecg and ecg["signal_rows"] == len(ecg["leads"]) for ecg in seen)


# --- label QA: answers that state labels (meta.asserts) -----------------------------------------------

LABEL_QA = """\
name: label-qa
seed: 2
sources:
  - {{name: sph, root: "{data}/sph"}}
  - {{name: cpsc2018, root: "{data}/cpsc2018"}}
  - {{name: chapman, root: "{data}/chapman"}}
profile: {{duration_s: 10}}
builders: [{{type: label_qa, config: qa, params: {{samples_per_record: 3}}}}]
output: {{dir: "{out}", max_quarantine_rate: 1}}
"""


@pytest.fixture(scope="module")
def qa_corpus(data_dir, tmp_path_factory):
    return build_genuine(LABEL_QA, data_dir, tmp_path_factory.mktemp("qa"))


def test_label_qa_states_what_it_asserts_and_the_audit_agrees(qa_corpus):
    rows = [r for p in sorted((qa_corpus / "data" / "qa").glob("*.parquet"))
            for r in pq.read_table(p, columns=["meta"]).to_pylist()]
    metas = [json.loads(r["meta"]) for r in rows]
    assert len(metas) >= 10 and all(m["asserts"]["present"] or m["asserts"]["absent"] for m in metas)
    for m in metas:
        have = {lab.get("snomed") or lab["code"] for e in m["labels"] for lab in e["labels"]}
        assert set(m["asserts"]["present"]) <= have and not set(m["asserts"]["absent"]) & have
    assert "answer_contradicts_labels" not in codes(audit_corpus(qa_corpus))


def test_answer_contradicts_labels(qa_corpus, tmp_path):
    import shutil

    root = tmp_path / "qa"
    shutil.copytree(qa_corpus, root)
    shard = sorted((root / "data" / "qa").glob("*.parquet"))[0]

    def fn(table):
        metas = [json.loads(m) for m in table.column("meta").to_pylist()]
        stated = metas[0]["asserts"]
        stated["absent"] = stated["absent"] + stated["present"]      # deny a label the record has …
        if not stated["present"]:
            label = metas[0]["labels"][0]["labels"][0]
            stated["absent"].append(label.get("snomed") or label["code"])
        return set_column(table, "meta", [json.dumps(m) for m in metas])

    rewrite(root, shard, fn)
    found = codes(audit_corpus(root))
    assert found["answer_contradicts_labels"].level == "error" and found["answer_contradicts_labels"].count == 1


def test_label_qa_negatives_stay_within_what_each_source_annotated(qa_corpus, data_dir):
    """On genuine SPH, CPSC2018 and Chapman records: every concept an answer calls absent is one the
    record's source annotates exhaustively; SPH declares none, so its samples say only what is there."""
    from ecgcorpus.sources import open_source

    coverage = {}
    for name in ("sph", "cpsc2018", "chapman"):
        src = open_source(name, data_dir / name)
        coverage.update({ref.record_id: src.label_coverage(ref) for ref in src.scan()})
    rows = [r for p in sorted((qa_corpus / "data" / "qa").glob("*.parquet"))
            for r in pq.read_table(p, columns=["conversations", "meta"]).to_pylist()]
    seen_sources = set()
    for row in rows:
        meta = json.loads(row["meta"])
        record = meta["labels"][0]["record_id"]
        seen_sources.add(record.split(":")[0])
        absent = set(meta["asserts"]["absent"])
        assert absent <= (coverage[record] or set()), (record, absent)
        if record.startswith("sph:"):
            assert meta["question_type"] == "single-verify" and row["conversations"][1]["value"].startswith("Yes")
    assert seen_sources == {"sph", "cpsc2018", "chapman"}
    assert any(json.loads(r["meta"])["asserts"]["absent"] for r in rows)      # negatives where honest


@pytest.mark.parametrize("edit, problem", [
    (lambda m, c: m.update(measurements={"pr_ms": 160}, labels=[{"record_id": "x", "labels": [
        {"code": "AFIB", "snomed": "164889003", "name": "atrial fibrillation"}]}]),
     "a P wave or PR interval stated under atrial fibrillation"),
    (lambda m, c: m.update(measurements={"qrs_ms": 87}, labels=[{"record_id": "x", "labels": [
        {"code": "CRBBB", "snomed": "713427006", "name": "complete right bundle branch block"}]}]),
     "QRS 87 ms under complete right bundle branch block"),
    (lambda m, c: c.__setitem__(1, {"from": "gpt", "value": "sinusrhythmus linkstyp sonst normales ekg"}),
     "an answer in German"),
])
def test_consistency(copy, edit, problem):
    def fn(table):
        metas = [json.loads(m) for m in table.column("meta").to_pylist()]
        convs = table.column("conversations").to_pylist()
        edit(metas[0], convs[0])
        return set_column(set_column(table, "meta", [json.dumps(m) for m in metas]), "conversations", convs)

    rewrite(copy, first_train(copy), fn)
    found = codes(audit_corpus(copy))
    assert found["consistency"].level == "error" and problem in found["consistency"].examples[0]["problems"]


def test_consistency_flags_an_absence_its_source_does_not_cover(qa_corpus, tmp_path):
    import shutil

    root = tmp_path / "qa"
    shutil.copytree(qa_corpus, root)
    shard = sorted((root / "data" / "qa").glob("*.parquet"))[0]
    metas = [json.loads(m) for m in pq.read_table(shard, columns=["meta"]).column("meta").to_pylist()]
    assert any(m["asserts"]["absent"] and m["asserts"]["covered"] for m in metas)
    assert "consistency" not in codes(audit_corpus(root))

    def fn(table):
        metas = [json.loads(m) for m in table.column("meta").to_pylist()]
        k = next(i for i, m in enumerate(metas) if m["asserts"]["absent"])
        metas[k]["asserts"]["covered"] = []                 # as if the source annotated nothing exhaustively
        return set_column(table, "meta", [json.dumps(m) for m in metas])

    rewrite(root, shard, fn)
    found = codes(audit_corpus(root))
    assert "does not annotate exhaustively" in found["consistency"].examples[0]["problems"][0]


def test_quarantine_counts_by_reason_in_the_lock_and_the_audit(tmp_path, data_dir):
    """The test copy of PTB-XL lists 500 rows for 12 records: 488 "header file not found" lines
    are one row of the summary, in the lock and in the audit's stats and text."""
    from click.testing import CliRunner

    from ecgcorpus.cli import main

    out = build_genuine('name: q\nsources: [{{name: ptbxl, root: "{data}/ptbxl"}}]\n'
                        'profile: {{duration_s: 10}}\nbuilders: [{{type: report}}]\noutput: {{dir: "{out}"}}\n',
                        data_dir, tmp_path)
    lock = json.loads((out / "build.lock.json").read_text())["quarantine"]
    assert lock["total"] == 488 and lock["by_reason"] == {"header file not found": 488}
    assert lock["by_stage"] == {"scan": 488}
    report = audit_corpus(out)
    assert report.stats["quarantine"] == lock and report.stats["quarantined"] == 488
    text = CliRunner().invoke(main, ["audit", str(out)]).output
    assert "quarantined (488)" in text and "header file not found ×488" in text

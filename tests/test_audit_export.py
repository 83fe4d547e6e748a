"""Audit, show, export and push on a corpus built from the genuine sample files."""

import json
import shutil

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner

from ecgcorpus.audit import audit_corpus
from ecgcorpus.cli import main
from ecgcorpus.engine.build import build
from ecgcorpus.manifest import load_manifest
from genuine_corpus import MANIFEST, codes, plant_in_test, rewrite, shards_of

def test_clean_build_passes_strict(corpus):
    report = audit_corpus(corpus)
    assert not report.errors, [(f.code, f.examples) for f in report.errors]
    assert report.stats["samples"] >= 15 and set(report.stats["by_source"]) == {"ptbxl", "sph", "cpsc2018", "chapman"}
    result = CliRunner().invoke(main, ["audit", str(corpus), "--strict", "--json"])
    assert result.exit_code == 0 and json.loads(result.output)["ok"] is True


def test_planted_leakage_and_cross_split_duplicate(copy):
    plant_in_test(copy, shards_of(copy, "train")[0], shards_of(copy, "test")[0])
    found = codes(audit_corpus(copy))
    assert found["leakage_patient"].level == "error" and found["leakage_record"].level == "error"
    assert "duplicate_across_splits" in found
    assert CliRunner().invoke(main, ["audit", str(copy), "--strict"]).exit_code == 1


def test_planted_duplicate_within_split(copy):
    train = shards_of(copy, "train")[0]
    rewrite(copy, train, lambda t: pa.concat_tables([t, t.slice(0, 1)]))
    found = codes(audit_corpus(copy))
    assert found["duplicate"].level == "error" and found["duplicate"].count == 1
    assert "leakage_patient" not in found


def test_planted_placeholder_mismatch(copy):
    train = shards_of(copy, "train")[0]

    def drop_token(table):
        convs = table.column("conversations").to_pylist()
        convs[0][0]["value"] = convs[0][0]["value"].replace("<ecg>\n", "")
        return table.set_column(table.schema.get_field_index("conversations"), table.schema.field("conversations"),
                                pa.array(convs, table.schema.field("conversations").type))

    rewrite(copy, train, drop_token)
    found = codes(audit_corpus(copy))
    assert found["placeholder_mismatch"].examples[0]["ecg_tokens"] == 0


def test_tampered_shard(copy):
    shard = shards_of(copy, "train")[0]
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    found = codes(audit_corpus(copy))
    assert found["shard_hash_mismatch"].examples == [str(shard.relative_to(copy))]


def test_phi_like_text_is_flagged(copy):
    train = shards_of(copy, "train")[0]

    def add_phone(table):
        convs = table.column("conversations").to_pylist()
        convs[0][1]["value"] += " Call Dr. Smith at 617-555-0199."
        return table.set_column(table.schema.get_field_index("conversations"), table.schema.field("conversations"),
                                pa.array(convs, table.schema.field("conversations").type))

    rewrite(copy, train, add_phone)
    kinds = {e["kind"] for e in codes(audit_corpus(copy))["phi_like"].examples}
    assert {"phone number", "personal name"} <= kinds


def test_html_report_and_show(corpus, tmp_path):
    html = tmp_path / "audit.html"
    result = CliRunner().invoke(main, ["audit", str(corpus), "--html", str(html), "--samples", "3"])
    assert result.exit_code == 0, result.output
    text = html.read_text()
    assert "PASS" in text and text.count("data:image/png;base64,") >= 5 and "label distribution" in text
    sample_id = pq.read_table(shards_of(corpus, "train")[0]).column("id")[0].as_py()
    png = tmp_path / "s.png"
    result = CliRunner().invoke(main, ["show", str(corpus), sample_id[:10], "--png", str(png)])
    assert result.exit_code == 0 and "[human] <ecg>" in result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("fmt", ["llava", "sharegpt"])
def test_export_round_trip(corpus, tmp_path, fmt):
    from ecgcorpus.corpus import Corpus, ecg_to_mv
    from ecgcorpus.export import export_corpus

    out = tmp_path / fmt
    counts = export_corpus(str(corpus), fmt, str(out))
    rows = {row["id"]: row for _, row in Corpus(corpus).rows()}
    files = sorted(out.glob("report_*.json*"))
    assert {f.name for f in files} == set(counts)
    records = []
    for f in files:
        records += [json.loads(line) for line in f.read_text().splitlines()] if f.suffix == ".jsonl" else json.loads(f.read_text())
    assert len(records) == len(rows)
    for rec in records:
        if fmt == "llava":
            row = rows[rec["id"]]
            assert rec["conversations"] == row["conversations"]
            path = rec["ecg"]
        else:
            text = " ".join(t["value"] for t in rec["conversations"])
            assert text.count("<ecg>") == len(rec["ecgs"])
            path = rec["ecgs"][0]
        row = rows[path.split("/")[-1].rsplit("_", 1)[0]]
        np.testing.assert_array_equal(np.load(out / path), ecg_to_mv(row["ecgs"][0]).astype(np.float32))


def test_export_wfdb_signals_are_lossless(corpus, tmp_path):
    import wfdb

    from ecgcorpus.corpus import Corpus, ecg_to_mv
    from ecgcorpus.export import export_corpus

    export_corpus(str(corpus), "llava", str(tmp_path), signals="wfdb")
    records = json.loads((tmp_path / "report_train.json").read_text())
    rows = {row["id"]: row for _, row in Corpus(corpus).rows()}
    checked = 0
    for rec in records:
        ecg = rows[rec["id"]]["ecgs"][0]
        if ecg["source"] == "ptbxl":
            # This corpus mixes float sources in, so it stores float32 mV (never float64): PTB-XL's
            # 1 µV steps are within float32 rounding, and the WFDB export restores them exactly.
            read = wfdb.rdrecord(str(tmp_path / rec["ecg"]))
            stored = ecg_to_mv(ecg)
            np.testing.assert_allclose(read.p_signal.T, stored, rtol=0, atol=2e-7)
            np.testing.assert_allclose(read.p_signal * 1000, np.round(read.p_signal * 1000), rtol=0, atol=1e-9)
            assert read.sig_name == ecg["leads"]
            checked += 1
    assert checked


def test_push_dry_run_card_and_round_trip(corpus, tmp_path):
    import datasets

    result = CliRunner().invoke(main, ["push", str(corpus), "me/ecg-demo", "--dry-run", "--private"])
    assert result.exit_code == 0
    listed = [line.split()[-1] for line in result.output.splitlines()[:-1]]
    assert listed[:4] == ["README.md", "LICENSE.md", "build.lock.json", "quarantine.jsonl"]
    assert "would upload" in result.output and "(private)" in result.output
    card = yaml.safe_load((corpus / "README.md").read_text().split("---")[1])
    assert card["configs"][0]["config_name"] == "report"
    staged = tmp_path / "staged"
    for rel in listed:
        (staged / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(corpus / rel, staged / rel)
    ds = datasets.load_dataset(str(staged))
    assert sum(ds[s].num_rows for s in ds) == audit_corpus(corpus).stats["samples"]


def test_push_without_token_is_a_clear_error(corpus, monkeypatch):
    for key in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    result = CliRunner().invoke(main, ["push", str(corpus), "me/x"])
    assert result.exit_code == 1 and "set HF_TOKEN" in result.output


def test_export_wfdb_int16_keeps_adc_values(data_dir, tmp_path):
    import wfdb

    from ecgcorpus.corpus import Corpus
    from ecgcorpus.export import export_corpus

    text = MANIFEST.format(data=data_dir, out=tmp_path / "out")
    text = "\n".join(l for l in text.splitlines() if "sph" not in l and "cpsc" not in l and "chapman" not in l)
    (tmp_path / "m.yaml").write_text(text)
    build(load_manifest(tmp_path / "m.yaml"), workers=1, progress=False)
    export_corpus(str(tmp_path / "out"), "llava", str(tmp_path / "x"), signals="wfdb")
    corpus = Corpus(tmp_path / "out")
    assert {corpus.signal_dtype(s) for s in corpus.shards()} == {"int16"}
    rows = {row["id"]: row for _, row in corpus.rows()}
    records = [r for f in (tmp_path / "x").glob("*.json") for r in json.loads(f.read_text())]
    assert records
    for rec in records:
        ecg = rows[rec["id"]]["ecgs"][0]
        read = wfdb.rdrecord(str(tmp_path / "x" / rec["ecg"]), physical=False)
        np.testing.assert_array_equal(read.d_signal.T, np.asarray(ecg["signal"]))
        assert list(read.adc_gain) == ecg["gain"] == [1000.0] * 12


IMAGE_MANIFEST = """\
name: images
seed: 5
sources:
  - {{name: ptbxl, root: "{data}/ptbxl", limit: 6}}
profile: {{duration_s: 10}}
splits: {{ratios: {{train: 0.5, validation: 0.25, test: 0.25}}}}
builders:
  - {{type: image, config: img, params: {{base: report, dpi: 100}}}}
output: {{dir: "{out}"}}
"""


def test_image_samples_count_for_leakage(data_dir, tmp_path):
    """Image samples carry their records in meta.ecgs only: a planted cross-split image is a leak."""
    (tmp_path / "m.yaml").write_text(IMAGE_MANIFEST.format(data=data_dir, out=tmp_path / "out"))
    build(load_manifest(tmp_path / "m.yaml"), workers=1, progress=False)
    root = tmp_path / "out"
    clean = audit_corpus(root)
    assert not clean.errors and clean.stats["records"] == 6 and clean.stats["by_source"] == {"ptbxl": 6}
    train = sorted((root / "data" / "img").glob("train-*.parquet"))[0]
    test = sorted((root / "data" / "img").glob("test-*.parquet"))[0]
    plant_in_test(root, train, test)
    found = codes(audit_corpus(root))
    assert found["leakage_patient"].level == "error" and found["leakage_record"].level == "error"
    assert "duplicate_across_splits" in found

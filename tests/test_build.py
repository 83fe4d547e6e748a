"""The build engine end to end: determinism, resume after kill -9, quarantine, refusal to mix, loading."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from corpus_rows import rows
from ecgcorpus.engine.build import BuildError, build
from ecgcorpus.manifest import load_manifest

MANIFEST = """\
name: test-corpus
seed: 11
sources:
  - {{name: ptbxl, root: "{root}/ptbxl"}}
  - {{name: mimic, root: "{root}/mimic-iv-ecg"}}
  - {{name: sph, root: "{root}/sph"}}
  - {{name: cpsc2018, root: "{root}/cpsc2018"}}
  - {{name: chapman, root: "{root}/chapman"}}
profile: {{duration_s: 10}}
splits: {{ratios: {{train: 0.6, validation: 0.2, test: 0.2}}}}
builders:
  - {{type: report, config: report}}
  - {{type: report, config: report_meit, sources: [mimic, ptbxl], params: {{profile: meit}}}}
output: {{dir: "{out}", max_rows_per_shard: {rows}, row_group_rows: 4}}
"""


def write_manifest(tmp_path: Path, root: Path, out: Path, rows: int = 5, name="m.yaml", **subs) -> Path:
    text = MANIFEST.format(root=root, out=out, rows=rows)
    for old, new in subs.items():
        text = text.replace(old, new)
    path = tmp_path / name
    path.write_text(text)
    return path


def tree_bytes(out: Path) -> dict[str, bytes]:
    files = sorted(p for p in out.rglob("*") if p.is_file() and ".ecgcorpus" not in p.parts)
    return {str(p.relative_to(out)): p.read_bytes() for p in files}


@pytest.fixture(scope="module")
def reference_build(fixture_tree, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ref")
    manifest = load_manifest(write_manifest(tmp, fixture_tree, tmp / "out"))
    summary = build(manifest, workers=1, progress=False)
    return tmp / "out", summary


def test_build_writes_hf_layout_lock_card_quarantine(reference_build):
    out, summary = reference_build
    shards = sorted((out / "data").rglob("*.parquet"))
    assert shards and all(p.name.split("-")[0] in ("train", "validation", "test") for p in shards)
    assert all(p.name.endswith(".parquet") and "-of-" in p.name for p in shards)
    lock = json.loads((out / "build.lock.json").read_text())
    assert {s["path"] for s in lock["shards"]} == {str(p.relative_to(out)) for p in shards}
    assert sum(s["rows"] for s in lock["shards"]) == sum(summary.samples.values()) > 50
    assert lock["dependencies"]["pyarrow"] and lock["manifest_sha256"]
    card = (out / "README.md").read_text()
    assert card.startswith("---\n") and "config_name: report" in card and "CC BY 4.0" in card and "ODbL" in card
    assert (out / "quarantine.jsonl").exists()


def test_same_bytes_with_one_and_two_workers(reference_build, fixture_tree, tmp_path):
    out1, _ = reference_build
    manifest = load_manifest(write_manifest(tmp_path, fixture_tree, tmp_path / "out2"))
    build(manifest, workers=2, progress=False)
    assert tree_bytes(tmp_path / "out2") == tree_bytes(out1)


def test_splits_are_patient_disjoint(reference_build):
    import pyarrow.parquet as pq

    out, _ = reference_build
    split_of_patient = {}
    for shard in (out / "data").rglob("*.parquet"):
        table = pq.read_table(shard, columns=["split", "ecgs"])
        for split, ecgs in zip(table.column("split").to_pylist(), table.column("ecgs").to_pylist()):
            for ecg in ecgs:
                key = (ecg["source"], ecg["patient_id"] or ecg["record_id"])
                assert split_of_patient.setdefault(key, split) == split, key


def test_resume_after_kill_gives_same_bytes(reference_build, fixture_tree, tmp_path):
    out_ref, _ = reference_build
    out = tmp_path / "killed"
    path = write_manifest(tmp_path, fixture_tree, out)
    cmd = [sys.executable, "-m", "ecgcorpus.cli", "build", str(path), "-j", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    markers = out / ".ecgcorpus" / "units"
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        if markers.exists() and len(list(markers.glob("*.json"))) >= 3:
            break
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    n_done = len(list(markers.glob("*.json")))
    total = len(json.loads((out_ref / "build.lock.json").read_text())["shards"])
    assert 0 < n_done < total, "the kill must land mid-build"
    assert not (out / "build.lock.json").exists()
    summary = build(load_manifest(path), workers=2, progress=False)
    assert summary.units_reused >= n_done - 1  # a unit killed between rename and marker is rebuilt
    assert tree_bytes(out) == tree_bytes(out_ref)


def test_corrupted_record_is_quarantined_and_build_goes_on(fixture_tree, tmp_path):
    import shutil

    root = tmp_path / "src"
    shutil.copytree(fixture_tree / "ptbxl", root / "ptbxl")
    dat = sorted((root / "ptbxl" / "records500").rglob("*_hr.dat"))[2]
    dat.write_bytes(dat.read_bytes()[:1000])
    text = """name: q\nsources:\n  - {name: ptbxl, root: "%s"}\nbuilders:\n  - {type: report}\noutput: {dir: "%s"}\n"""
    (tmp_path / "q.yaml").write_text(text % (root / "ptbxl", tmp_path / "out"))
    summary = build(load_manifest(tmp_path / "q.yaml"), workers=1, progress=False)
    entries = [json.loads(line) for line in (tmp_path / "out" / "quarantine.jsonl").read_text().splitlines()]
    native = str(int(dat.name.split("_")[0]))
    hit = [e for e in entries if e["record_id"] == f"ptbxl:{native}"]
    assert hit and "truncated" in hit[0]["reason"] and hit[0]["file"].endswith(dat.name)
    assert sum(summary.samples.values()) == len(list((root / "ptbxl" / "records500").rglob("*.hea"))) - 1


def test_changed_manifest_refuses_to_mix(reference_build, fixture_tree, tmp_path):
    path = write_manifest(tmp_path, fixture_tree, tmp_path / "o", rows=50)
    build(load_manifest(path), workers=1, progress=False)
    changed = write_manifest(tmp_path, fixture_tree, tmp_path / "o", rows=50, name="m2.yaml", **{"seed: 11": "seed: 12"})
    with pytest.raises(BuildError, match="--no-resume"):
        build(load_manifest(changed), workers=1, progress=False)
    again = build(load_manifest(changed), workers=1, progress=False, resume=False)
    assert again.units_reused == 0
    rerun = build(load_manifest(changed), workers=1, progress=False)
    assert rerun.units_run == 0 and rerun.units_reused == again.units_run


def test_load_dataset_both_ways_and_collate(reference_build, fixture_tree):
    import datasets
    import torch

    from ecgcorpus.collate import collate_ecgs
    from ecgcorpus.sources import open_source

    out, summary = reference_build
    by_dir = datasets.load_dataset("parquet", data_dir=str(out / "data" / "report"))
    by_card = datasets.load_dataset(str(out), "report")
    n_train = summary.samples[("report", "train")]
    assert by_dir["train"].num_rows == by_card["train"].num_rows == n_train
    row = by_card["train"][0]
    assert row["conversations"][0]["value"].count("<ecg>") == len(row["ecgs"]) == 1
    ds = by_card["train"].with_format("arrow")
    sampler = torch.utils.data.BatchSampler(torch.utils.data.SequentialSampler(ds), batch_size=4, drop_last=False)
    loader = torch.utils.data.DataLoader(ds, sampler=sampler, batch_size=None, collate_fn=collate_ecgs)
    batch = next(iter(loader))
    assert batch.dtype == torch.float32 and batch.shape == (4, 12, 5000)
    first = ds[0:1].column("ecgs")[0][0].as_py()
    src = open_source(first["source"], fixture_tree / {"mimic": "mimic-iv-ecg"}.get(first["source"], first["source"]))
    ecg = src.load(src.get(first["record_id"]))
    expected = ecg.signal[:, first["start"]:first["stop"]]
    np.testing.assert_allclose(batch[0].numpy()[:, : expected.shape[1]], expected, rtol=1e-6, atol=1e-6)


def test_to_mv_transform_gives_float32_millivolts(reference_build):
    import datasets
    import torch

    from ecgcorpus.corpus import ecg_to_mv
    from ecgcorpus.hf import to_mv

    out, _ = reference_build
    for config, stored in (("report_meit", "int16"), ("report", "float32")):
        raw = datasets.load_dataset(str(out), config, split="train")
        assert raw.features["ecgs"].feature["signal"].feature.feature.dtype == stored
        ds = raw.with_transform(to_mv)
        for k in range(2):
            ecg, plain = ds[k]["ecgs"][0], raw[k]["ecgs"][0]
            assert ecg["signal"].dtype == torch.float32 and tuple(ecg["signal"].shape) == (12, 5000)
            np.testing.assert_allclose(ecg["signal"].numpy(), ecg_to_mv(plain), rtol=1e-6, atol=1e-6)
            assert set(ecg["gain"]) == {1.0} and set(ecg["baseline"]) == {0}
    assert "set_transform(to_mv)" in (out / "README.md").read_text()


def test_ci_tests_the_oldest_datasets_we_allow():
    """pyproject's floor for datasets is the version the test extra installs, and it reads our shards
    (the other tests load shards with it)."""
    import re
    from importlib.metadata import version

    text = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    floor = re.search(r'"datasets>=([\d.]+)"', text).group(1)
    pinned = re.search(r'"datasets==([\d.]+)"', text).group(1)
    assert pinned.startswith(floor) and version("datasets") == pinned


def test_cli_build_summary_line(fixture_tree, tmp_path):
    from click.testing import CliRunner

    from ecgcorpus.cli import main

    path = write_manifest(tmp_path, fixture_tree, tmp_path / "cli-out", rows=50)
    result = CliRunner().invoke(main, ["build", str(path), "-j", "1"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("built ") and "quarantined" in result.output and str(tmp_path / "cli-out") in result.output


FORK_AFTER_OPENCV = """\
import sys, cv2, numpy as np
cv2.setNumThreads(2)
page = np.zeros((1500, 1500, 3), np.uint8)
for _ in range(3):
    cv2.GaussianBlur(page, (0, 0), 3)          # OpenCV's pool threads are alive in this process now
from ecgcorpus.engine.build import build
from ecgcorpus.manifest import load_manifest
build(load_manifest(sys.argv[1]), workers=2, resume=False, progress=False, executor=sys.argv[2])
print("built", cv2.getNumThreads())
"""


@pytest.mark.parametrize("executor", ["local", "datatrove"])
def test_workers_fork_safely_after_opencv_used_threads(data_dir, tmp_path, executor):
    """A process that ran OpenCV with threads, then builds with 2 workers: forked workers used to
    wait forever on the parent's OpenCV pool. Run in a subprocess so a regression fails, not hangs."""
    (tmp_path / "m.yaml").write_text(f"""\
name: fork
seed: 1
sources:
  - {{name: ptbxl, root: "{data_dir}/ptbxl", limit: 6}}
profile: {{duration_s: 10}}
builders:
  - {{type: report}}
output: {{dir: "{tmp_path}/out", max_rows_per_shard: 2}}
cluster: {{backend: local}}
""")
    proc = subprocess.run([sys.executable, "-c", FORK_AFTER_OPENCV, str(tmp_path / "m.yaml"), executor],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split()[-2:] == ["built", "2"]                 # the caller's setting is restored
    assert len(list((tmp_path / "out" / "data").rglob("*.parquet"))) >= 3


def test_english_profiles_never_emit_a_german_or_swedish_report(fixture_tree, tmp_path):
    """By default (languages: [en]) a PTB-XL report in German or Swedish is replaced by the record's
    labels as text; without labels_as_report it is skipped with the reason; languages: null keeps it."""
    from ecgcorpus.engine.plan import make_plan
    from ecgcorpus.reports import detect_report_language

    out = tmp_path / "out"
    build(load_manifest(write_manifest(tmp_path, fixture_tree, out)), workers=1, progress=False)
    answers = [(json.loads(r["meta"]), r["conversations"][1]["value"]) for r in rows(out, "report")]
    ptbxl = [(m, a) for m, a in answers if m["labels"][0]["record_id"].startswith("ptbxl:")]
    assert any(m["report_source"] == "labels" for m, _ in ptbxl) and any(m["report_source"] == "report" for m, _ in ptbxl)
    assert all(m["report_lang"] == "en" for m, _ in answers if m["report_source"] == "report" or m["report_lang"])
    assert all(detect_report_language(a.lower()) in ("en", None) for _, a in answers)

    strict = write_manifest(tmp_path, fixture_tree, tmp_path / "o2", name="strict.yaml", **{
        "{type: report, config: report}": "{type: report, config: report, params: {labels_as_report: false}}"})
    skipped = [q for q in make_plan(load_manifest(strict)).quarantine if q.get("config") == "report"]
    assert skipped and all(q["source"] == "ptbxl" and "report language" in q["reason"] for q in skipped
                           if "language" in q["reason"])
    assert any("report language de not in ['en']" in q["reason"] for q in skipped)
    anything = write_manifest(tmp_path, fixture_tree, tmp_path / "o3", name="any.yaml", **{
        "{type: report, config: report}": "{type: report, config: report, params: {languages: null}}"})
    kept = [ref for unit in make_plan(load_manifest(anything)).units if unit.config == "report"
            for item in unit.items for ref in item.refs]
    assert {ref.report_lang for ref in kept if ref.source == "ptbxl"} >= {"de", "en"}

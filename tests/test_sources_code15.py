"""CODE-15%: the fixture miniature in the release layout (exams.csv + exams_part{i}.hdf5, 400 Hz,
4096 samples zero-padded, trailing exam_id 0, trace_file only on a patient's first exam)."""

import csv
import json

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from ecgcorpus.cli import main
from ecgcorpus.engine.build import build
from ecgcorpus.errors import SourceError
from ecgcorpus.leads import CANONICAL_LEADS
from ecgcorpus.manifest import load_manifest
from ecgcorpus.sources import open_source
from ecgcorpus.sources.code15 import ABNORMALITIES, NORMAL_ECG


@pytest.fixture(scope="module")
def code15(fixture_tree):
    return fixture_tree / "code15"


def exams(root) -> dict[str, dict]:
    with open(root / "exams.csv", newline="") as f:
        return {row["exam_id"]: row for row in csv.DictReader(f)}


def test_scan_finds_exams_through_the_parts_not_trace_file(code15):
    rows = exams(code15)
    assert any(row["trace_file"] == "" for row in rows.values())          # later exams of a patient
    src = open_source("code15", code15)
    refs = list(src.scan())
    in_parts = set()
    for part in sorted(code15.glob("exams_part*.hdf5")):
        with h5py.File(part) as h5:
            ids = h5["exam_id"][()]
            assert ids[-1] == 0 and not h5["tracings"][-1].any()           # the release's padding row
            in_parts |= {str(i) for i in ids[:-1]}
    assert {r.native_id for r in refs} == set(rows) & in_parts and "0" not in {r.native_id for r in refs}
    (missing,) = [e for e in src.errors]
    assert "has no tracing in any exams_part" in missing.problem and missing.record_id.split(":")[1] not in in_parts
    ref = refs[0]
    assert (ref.fs, ref.n_samples, ref.leads) == (400.0, 4096, CANONICAL_LEADS)
    # patients: several exams share a patient_id; labels are the six flags (+ normal_ecg) as SNOMED
    assert len({r.patient_id for r in refs}) < len(refs)
    for r in refs:
        row = rows[r.native_id]
        expected = {code for column, code in ABNORMALITIES.items() if row[column] == "True"}
        expected |= {NORMAL_ECG} if row["normal_ecg"] == "True" else set()
        assert {lab.snomed for lab in r.labels} == expected
        assert src.label_coverage(r) == frozenset(ABNORMALITIES.values())
        assert r.sex == {"True": "M", "False": "F"}[row["is_male"]]


def test_load_reads_one_exam_and_marks_the_padding_as_no_sample(code15):
    src = open_source("code15", code15)
    checked = {7: 0, 10: 0}
    for ref in src.scan():
        try:
            ecg = src.load(ref)
        except SourceError as exc:
            assert "zero throughout" in exc.problem
            checked["zero"] = 1
            continue
        with h5py.File(ref.path) as h5:
            raw = h5["tracings"][ref.extra["hdf5_row"]]
        finite = np.isfinite(ecg.signal).all(axis=0)
        active = int(finite.sum())
        assert active in (2800, 4000) and ecg.signal.shape == (12, 4096)
        start = (4096 - active) // 2
        assert finite[start:start + active].all() and not finite[:start].any() and not finite[start + active:].any()
        np.testing.assert_array_equal(ecg.signal[:, start:start + active], raw[start:start + active].T.astype(np.float64))
        checked[active // 400] += 1
    assert checked[7] and checked[10] and checked.get("zero")


def test_a_damaged_part_and_a_wrong_shape_are_named(code15, tmp_path):
    import shutil

    root = tmp_path / "c"
    shutil.copytree(code15, root)
    (root / "exams_part1.hdf5").write_bytes(b"not hdf5")
    src = open_source("code15", root)
    refs = list(src.scan())
    problems = [e.problem for e in src.errors]
    assert any("unreadable HDF5 file" in p for p in problems)
    assert sum("has no tracing" in p for p in problems) >= len(refs) // 2      # its exams: quarantined, named
    with h5py.File(root / "exams_part1.hdf5", "w") as h5:
        h5["tracings"] = np.zeros((2, 4000, 12), np.float32)
        h5["exam_id"] = np.array([1, 0])
    src = open_source("code15", root)
    list(src.scan())
    assert any("'tracings' has shape (2, 4000, 12)" in e.problem for e in src.errors)


def test_label_qa_states_absence_only_among_the_six(code15, tmp_path):
    (tmp_path / "m.yaml").write_text(
        f'name: c15\nseed: 2\nsources: [{{name: code15, root: "{code15}"}}]\nprofile: {{duration_s: 10}}\n'
        f'builders: [{{type: label_qa, params: {{samples_per_record: 2}}}}]\noutput: {{dir: "{tmp_path}/out"}}\n')
    build(load_manifest(tmp_path / "m.yaml"), workers=1, progress=False)
    six = set(ABNORMALITIES.values())
    import pyarrow.parquet as pq

    rows = [r for p in sorted((tmp_path / "out" / "data").rglob("*.parquet")) for r in pq.read_table(p).to_pylist()]
    assert rows
    for row in rows:
        asserts = json.loads(row["meta"]).get("asserts", {})
        assert set(asserts.get("absent", [])) <= six
    assert CliRunner().invoke(main, ["audit", str(tmp_path / "out"), "--strict"]).exit_code == 0


def test_sources_list_shows_code15():
    result = CliRunner().invoke(main, ["sources", "list"])
    assert result.exit_code == 0 and "code15" in result.output and "CODE-15%" in result.output

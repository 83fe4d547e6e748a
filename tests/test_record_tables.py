"""Record tables: MIMIC-IV-ECG as columns, the file check by folder listings, quarantine blocks, and
units that carry table rows. What a plan of 800k studies rests on, checked on small trees."""

import json
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from ecgcorpus.sources import open_source


def mimic_copy(fixture_tree, tmp_path) -> Path:
    root = tmp_path / "mimic"
    shutil.copytree(fixture_tree / "mimic-iv-ecg", root)
    return root


def manifest_for(tmp_path, root, **output):
    from ecgcorpus.manifest import load_manifest

    out = {"dir": str(tmp_path / "out"), "max_rows_per_shard": 3, **output}
    doc = {"name": "tables", "sources": [{"name": "mimic", "root": str(root)}],
           "builders": [{"type": "report"}, {"type": "label_qa"}], "output": out}
    (tmp_path / "m.yaml").write_text(json.dumps(doc))
    return load_manifest(tmp_path / "m.yaml")


@pytest.mark.parametrize("tree", ["fixture", "genuine"])
def test_the_arrow_and_the_row_readers_make_the_same_refs(fixture_tree, data_dir, tree):
    """The row reader (fallback encodings, malformed rows) and pyarrow's must agree field by field."""
    from ecgcorpus.sources import mimic_csv as mc
    from ecgcorpus.sources.mimic_table import MimicTable
    from ecgcorpus.sources.mimic import _header_of

    root = fixture_tree / "mimic-iv-ecg" if tree == "fixture" else data_dir / "mimic-iv-ecg"
    src = open_source("mimic", root)
    fast = [ref.to_dict() for ref in src.scan_table().refs()]
    listing, measured = str(root / "record_list.csv"), str(root / "machine_measurements.csv")
    records = mc.read_record_list_rows(src.table(listing), listing, None, src.report)
    by_row = mc.read_measurements_rows(src.table(measured), _header_of(measured))
    slow = [ref.to_dict() for ref in MimicTable.join(src._prefix, records, by_row).refs()]
    assert fast == slow and fast
    assert any(ref["extra"].get("measurements") for ref in fast) and any(ref["report"] for ref in fast)


def test_a_malformed_row_sends_the_table_to_the_row_reader_which_names_its_line(fixture_tree, tmp_path):
    root = mimic_copy(fixture_tree, tmp_path)
    with open(root / "record_list.csv", "a") as f:
        f.write("10000032,-5,-5,2180-08-06 09:07:00,files/x\n")
    src = open_source("mimic", root)
    table = src.scan_table()
    lines = (root / "record_list.csv").read_text().splitlines()
    assert [str(e) for e in src.errors] and f"record_list.csv:{len(lines)}" in str(src.errors[0])
    assert len(table) == len(lines) - 2


def test_missing_files_are_found_by_listing_folders(tmp_path):
    from ecgcorpus.engine.file_check import missing_files

    for path in ("files/p1/p10/s1/1.hea", "files/p1/p10/s2/2.hea", "files/p2/p20/s3/3.dat", "top.hea"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("x")
    (tmp_path / "files/p1/p10/s9.hea").mkdir()         # a folder named like the file: still a name listed
    paths = ["files/p1/p10/s1/1", "files/p1/p10/s2/2", "files/p2/p20/s3/3", "files/p3/p30/s4/4", "top",
             "files/p1/p10/s1/7", "files//p1/p10/s1/1", "./top", "files/p1/../p1/p10/s2/2", "/nowhere/x", "files/"]
    got = missing_files(str(tmp_path), pa.array(paths), ".hea")
    expected = [not os.path.isfile(os.path.join(tmp_path, p + ".hea")) for p in paths]
    assert got.tolist() == expected == [False, False, True, True, False, True, False, False, False, True, True]


def test_splits_for_a_table_are_the_splits_of_each_record(fixture_tree):
    from ecgcorpus.engine.splits import assign_split, assign_splits
    from ecgcorpus.manifest import SplitPolicy
    from ecgcorpus.record_table import SPLITS

    src = open_source("mimic", fixture_tree / "mimic-iv-ecg")
    table = src.scan_table()
    for ratios in ({"train": 0.8, "validation": 0.1, "test": 0.1}, {"train": 0.5, "test": 0.5}):
        policy = SplitPolicy(ratios=ratios)
        for seed in (0, 7, 123):
            codes = assign_splits(table, policy, seed, src)
            assert [SPLITS[c] for c in codes] == [assign_split(ref, policy, seed) for ref in table.refs()]


def test_group_skip_reasons_match_each_record(fixture_tree):
    """Builders that skip by group are asked once per distinct report: the same rows as asking each."""
    from ecgcorpus.builders import builder_class
    from ecgcorpus.engine.plan import usable_rows
    from ecgcorpus.engine.quarantine import Quarantine
    from ecgcorpus.manifest import BuilderSpec, Manifest

    src = open_source("mimic", fixture_tree / "mimic-iv-ecg")
    table = src.scan_table()
    table.set_planned("mimic", np.zeros(len(table), np.int8), [None] * len(table.group_rows()), src.root)
    manifest = Manifest(name="t", sources=[{"name": "mimic", "root": str(src.root)}], builders=[{"type": "report"}])
    for spec in ({"type": "report"}, {"type": "report", "params": {"labels_as_report": False}}, {"type": "label_qa"},
                 {"type": "features", "params": {"with_report": True, "profile": "ecgchat"}}):
        builder = builder_class(spec["type"])(BuilderSpec(**spec), manifest)
        assert builder.skips_by_group
        quarantine = Quarantine()
        kept = usable_rows(builder, table, quarantine)
        assert kept.tolist() == [i for i, ref in enumerate(table.refs()) if builder.skip_reason(ref) is None]
        reasons = {q["record_id"]: q["reason"] for q in quarantine}
        assert reasons == {ref.record_id: builder.skip_reason(ref) for ref in table.refs() if builder.skip_reason(ref)}


def test_a_dry_run_counts_missing_files_as_one_block(fixture_tree, tmp_path):
    from ecgcorpus.engine.dry_run import dry_run
    from ecgcorpus.engine.plan import make_plan

    root = mimic_copy(fixture_tree, tmp_path)
    refs = open_source("mimic", root).scan_table().refs()
    gone = refs[1:5]
    for ref in gone:
        Path(ref.path + ".hea").unlink()
    shutil.rmtree(Path(refs[-1].path).parent)              # a whole study folder
    manifest = manifest_for(tmp_path, root)
    plan = make_plan(manifest)
    assert [len(b) for b in plan.quarantine.blocks if b.stage == "scan"] == [5]
    assert not [e for e in plan.quarantine.entries if "not found" in e["reason"]]   # no dict per record
    report = dry_run(manifest)
    missing = sorted([*gone, refs[-1]], key=lambda r: r.record_id)
    assert report["missing_files"]["count"] == 5
    assert report["missing_files"]["first"] == [f"mimic: {r.record_path}.hea" for r in missing]
    assert report["sources"]["mimic"] == {"records": len(refs) - 5, "quarantined_at_scan": 5}


def test_a_build_writes_each_blocked_record_on_its_own_line(fixture_tree, tmp_path):
    from ecgcorpus.engine.build import build
    from ecgcorpus.engine.quarantine import sort_key

    root = mimic_copy(fixture_tree, tmp_path)
    refs = open_source("mimic", root).scan_table().refs()
    for ref in refs[:3]:
        Path(ref.path + ".hea").unlink()
    build(manifest_for(tmp_path, root), workers=1, progress=False)
    lines = [json.loads(line) for line in (tmp_path / "out/quarantine.jsonl").read_text().splitlines()]
    assert lines == sorted(lines, key=sort_key)
    missing = [q for q in lines if q["reason"] == "header file not found"]
    assert sorted(q["record_id"] for q in missing) == sorted(r.record_id for r in refs[:3])
    assert all(q["file"] == f"{r.record_path}.hea" for q, r in zip(missing, sorted(refs[:3], key=lambda r: r.record_id)))
    lock = json.loads((tmp_path / "out/build.lock.json").read_text())
    assert lock["quarantine"]["total"] == len(lines)
    assert lock["quarantine"]["by_reason"]["header file not found"] == 3
    assert all(len(v) == 64 for v in lock["inputs"]["mimic"]["metadata_sha256"].values())


def test_units_carry_their_rows_only_and_build_the_same_refs(fixture_tree, tmp_path):
    from ecgcorpus.engine.plan import make_plan

    root = mimic_copy(fixture_tree, tmp_path)
    manifest = manifest_for(tmp_path, root)
    plan = make_plan(manifest)
    whole = {ref.record_id: ref.to_dict() for ref in open_source("mimic", root).scan_table().refs()}
    report_units = [u for u in plan.units if u.config == "report"]
    assert report_units and all(u.listed is None and sum(len(t) for t in u.tables) == u.n_items <= 3
                                for u in report_units)
    for unit in report_units:
        shipped = pickle.loads(pickle.dumps(unit))
        assert shipped == unit
        for item in shipped.items:
            (ref,) = item.refs
            got = ref.to_dict()
            assert got["split"] == unit.split and got["source_key"] == "mimic"
            assert {k: v for k, v in got.items() if k not in ("split", "source_key")} == {
                k: v for k, v in whole[ref.record_id].items() if k not in ("split", "source_key")}
    # a unit's table holds its rows' reports and measurements, not the source's
    (table,) = report_units[0].tables
    assert len(table.reports) <= 4 and len(table.measurements.study) <= 3


def test_a_stored_plan_keeps_a_blocks_ids_and_files_not_its_table(fixture_tree, tmp_path):
    from ecgcorpus.engine.plan import make_plan

    root = mimic_copy(fixture_tree, tmp_path)
    refs = open_source("mimic", root).scan_table().refs()
    for ref in refs[2:6]:
        Path(ref.path + ".hea").unlink()
    plan = make_plan(manifest_for(tmp_path, root))
    (block,) = [b for b in plan.quarantine.blocks if b.stage == "scan"]
    before = list(block.entries())
    stored = pickle.loads(pickle.dumps(block))
    assert stored.table is None and list(stored.entries()) == before and len(before) == 4
    assert list(stored.entries(limit=2)) == list(block.entries(limit=2)) and len(list(stored.entries(limit=2))) == 2


def test_the_scanning_process_uses_a_steady_arrow_pool_unless_the_user_chose_one(monkeypatch):
    from ecgcorpus.engine.worker import steady_arrow_pool

    before = pa.default_memory_pool()
    try:
        monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", "system")
        pa.set_memory_pool(pa.system_memory_pool())
        steady_arrow_pool()
        assert pa.default_memory_pool().backend_name == "system"         # the user's choice stands
        monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL")
        steady_arrow_pool()
        try:
            pa.jemalloc_memory_pool()
        except NotImplementedError:
            pytest.skip("this pyarrow has no jemalloc")
        assert pa.default_memory_pool().backend_name == "jemalloc"
    finally:
        pa.set_memory_pool(before)


def test_a_fraction_keeps_the_same_records_in_row_units_as_in_listed_items(fixture_tree, tmp_path):
    """Row units (one item per record) and listed items keep the records whose own place is below
    the fraction: the same rule, whatever the shard size."""
    from ecgcorpus.engine.plan import in_fraction, make_plan

    root = mimic_copy(fixture_tree, tmp_path)
    manifest = manifest_for(tmp_path, root)
    manifest = manifest.model_copy(update={"builders": [b.model_copy(update={"fraction": 0.5}) for b in manifest.builders]})
    plan = make_plan(manifest)
    for spec in manifest.builders:
        kept = [item.key for unit in plan.units if unit.config == spec.config_name for item in unit.items]
        every = [ref.record_id for ref in open_source("mimic", root).scan_table().refs()]
        assert 0 < len(kept) < len(every)
        assert set(kept) <= {k for k in every if in_fraction(spec, k, manifest)}
    report_kept = {item.key for unit in plan.units if unit.config == "report" for item in unit.items}
    usable = {r.record_id for r in open_source("mimic", root).scan_table().refs() if r.report_lines}
    assert report_kept == {k for k in usable if in_fraction(manifest.builders[0], k, manifest)}

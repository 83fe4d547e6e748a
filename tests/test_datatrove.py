"""The same build through datatrove's local executor: identical bytes, and resume of one lost task."""

import os

import pytest

from ecgcorpus.engine.build import build
from ecgcorpus.engine.datatrove_executor import UnitStore
from ecgcorpus.engine.plan import make_plan
from ecgcorpus.manifest import load_manifest

pytest.importorskip("datatrove")

MANIFEST = """\
name: dt
seed: 2
sources:
  - {{name: ptbxl, root: "{data}/ptbxl", limit: 10}}
  - {{name: sph, root: "{data}/sph"}}
profile: {{duration_s: 10}}
builders:
  - {{type: report}}
output: {{dir: "{out}", max_rows_per_shard: 2}}
cluster: {{backend: local, workers: 2}}
"""


def tree(out):
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and ".ecgcorpus" not in p.parts}


def test_datatrove_matches_local_and_resumes_one_task(data_dir, tmp_path):
    (tmp_path / "m.yaml").write_text(MANIFEST.format(data=data_dir, out=tmp_path / "local"))
    build(load_manifest(tmp_path / "m.yaml"), workers=1, progress=False)
    manifest = load_manifest(tmp_path / "m.yaml", out_dir=str(tmp_path / "dt"))
    summary = build(manifest, workers=2, executor="datatrove", progress=False)
    assert summary.units_run > 2
    assert tree(tmp_path / "dt") == tree(tmp_path / "local")

    # A task that died: its shard, our marker and datatrove's completion file are gone.
    state = tmp_path / "dt" / ".ecgcorpus"
    shards = sorted((tmp_path / "dt" / "data").rglob("*.parquet"))
    victim = shards[1]
    import json

    markers = {json.loads(p.read_text())["relpath"]: p for p in (state / "units").glob("*.json")}
    store = UnitStore(str(state / "units.pkl"))
    rank = next(i for i in range(summary.units_run + summary.units_reused)
                if store.unit(i)[0].relpath == str(victim.relative_to(tmp_path / "dt")))
    victim.unlink()
    markers[str(victim.relative_to(tmp_path / "dt"))].unlink()
    os.remove(state / "datatrove" / "completions" / f"{rank:05d}")
    before = {p: p.stat().st_mtime_ns for p in shards if p != victim}
    again = build(manifest, workers=2, executor="datatrove", progress=False)
    assert again.units_run == 1
    assert {p: p.stat().st_mtime_ns for p in shards if p != victim} == before  # no double work
    assert tree(tmp_path / "dt") == tree(tmp_path / "local")                    # no missing shard


def test_unit_store_gives_each_task_its_own_unit(data_dir, tmp_path):
    (tmp_path / "m.yaml").write_text(MANIFEST.format(data=data_dir, out=tmp_path / "out"))
    manifest = load_manifest(tmp_path / "m.yaml")
    plan = make_plan(manifest)
    path = str(tmp_path / "units.pkl")
    UnitStore.write(path, plan.units, manifest, str(tmp_path / "out"))
    store = UnitStore(path)
    for rank in reversed(range(len(plan.units))):              # any order: each read seeks to its own unit
        unit, got_manifest, out_dir = store.unit(rank)
        assert unit == plan.units[rank] and out_dir == str(tmp_path / "out")
        assert got_manifest.digest() == manifest.digest()
    with pytest.raises(IndexError):
        store.unit(len(plan.units))


def test_a_bug_in_a_datatrove_task_fails_the_build_with_its_summary(data_dir, tmp_path, monkeypatch):
    """datatrove logs a task's exception and moves on; the build then names the failure, not just a
    task that did not complete (the traceback is in .ecgcorpus/failed/)."""
    from ecgcorpus.builders.report import ReportBuilder
    from ecgcorpus.engine.build import BuildError

    monkeypatch.setattr(ReportBuilder, "run", lambda self, item, ctx: {}["missing"])
    (tmp_path / "m.yaml").write_text(MANIFEST.format(data=data_dir, out=tmp_path / "dt"))
    with pytest.raises(BuildError) as err:
        build(load_manifest(tmp_path / "m.yaml"), workers=2, executor="datatrove", progress=False)
    assert "KeyError" in str(err.value) and "data/report/" in str(err.value)
    assert list((tmp_path / "dt" / ".ecgcorpus" / "failed").glob("*.log"))

"""Engine integrity: content independent of sharding, typed identity, safe folders, errors by kind."""

import os
import pathlib
import re
import subprocess
import sys

import pytest

from ecgcorpus.engine.build import BuildError, BuildIncomplete, build
from ecgcorpus.manifest import load_manifest
from corpus_rows import rows

REPO = pathlib.Path(__file__).resolve().parents[1]


def demo_manifest(tmp_path, fixture_tree, out, rows_per_shard):
    text = (REPO / "manifests" / "demo.yaml").read_text()
    text = text.replace("${ECGCORPUS_FIXTURES:-../fixtures}", str(fixture_tree))
    text = text.replace('"${ECGCORPUS_OUT:-../out/demo}"', f'"{out}"')
    text = text.replace("max_rows_per_shard: 40", f"max_rows_per_shard: {rows_per_shard}")
    path = tmp_path / f"demo-{rows_per_shard}.yaml"
    path.write_text(text)
    return load_manifest(path)


def test_demo_rows_are_the_same_bag_whatever_the_shard_size(fixture_tree, tmp_path, monkeypatch):
    monkeypatch.delenv("ECGCORPUS_LLM_MODEL", raising=False)
    bags = {}
    for n in (7, 40):
        out = tmp_path / f"out{n}"
        summary = build(demo_manifest(tmp_path, fixture_tree, out, n), workers=1, progress=False)
        shards = list((out / "data").rglob("*.parquet"))
        bags[n] = sorted((config.name, str(r)) for config in (out / "data").iterdir()
                         for r in rows(out, config.name, ("id", "split", "conversations", "meta", "ecgs")))
        assert sum(summary.samples.values()) == len(bags[n])
        bags[n + 1000] = len(shards)
    assert bags[1007] > bags[1040]              # the partition differs …
    assert bags[7] == bags[40] and len(bags[7]) >= 60   # … the rows do not


def test_no_source_name_in_the_engine():
    from ecgcorpus.sources import SOURCES

    names = sorted(SOURCES, key=len, reverse=True)
    for path in (REPO / "ecgcorpus" / "engine").glob("*.py"):
        text = path.read_text()
        for name in names:
            assert not re.search(rf"[\"']{re.escape(name)}[\"']", text), f"{path.name} names source {name!r}"


OFFICIAL = """\
name: official
dedupe: keep          # the records are copies of one genuine file: the splits are what is tested
sources:
  - {{name: cpsc2018, root: "{cpsc}"}}
  - {{name: cpsc2018-cinc, root: "{cinc}"}}
splits: {{policy: official}}
builders: [{{type: report, config: report}}]
output: {{dir: "{out}"}}
"""


def test_official_policy_keeps_cpsc_validation_records_out_of_train(data_dir, tmp_path):
    from ecgcorpus.engine.plan import make_plan
    from test_sources_chapman import add_record
    from test_sources_cpsc2018 import make_tree

    ids = ["A0001", "A0150", "A0300", "A0301", "A0953"]
    cpsc = make_tree(data_dir, tmp_path, "".join(f"{i},1,,\r\n" for i in ids),
                     {f"{i}.mat": "A1980" for i in ids}).root
    for i in ids:
        add_record(data_dir, tmp_path / "cinc" / "training" / "cpsc_2018" / "g1", i, dx="426783006")
    path = tmp_path / "m.yaml"
    path.write_text(OFFICIAL.format(cpsc=cpsc, cinc=tmp_path / "cinc", out=tmp_path / "out"))
    plan = make_plan(load_manifest(path))
    splits = {ref.record_id: ref.split for unit in plan.units for item in unit.items for ref in item.refs}
    for source in ("cpsc2018", "cpsc2018-cinc"):
        assert [splits[f"{source}:{i}"] for i in ids] == ["test", "test", "test", "train", "train"]
    assert all(item.refs[0].split == unit.split for unit in plan.units for item in unit.items)


def test_refs_carry_their_key_split_and_report_lines(fixture_tree, tmp_path):
    from ecgcorpus.engine.scan import scan_sources

    manifest = demo_manifest(tmp_path, fixture_tree, tmp_path / "out", 40)
    scanned, _, _ = scan_sources(manifest)
    mimic = scanned["mimic"].refs
    assert all(ref.source_key == "mimic" and ref.split in ("train", "validation", "test") for ref in mimic)
    with_report = [ref for ref in mimic if ref.report]
    assert with_report and all(ref.report_lines == tuple(ref.report.split("\n")) for ref in with_report)
    assert "_source_key" not in str([ref.extra for ref in mimic])
    assert scanned["sph"].storage_dtype == "float32" and scanned["mimic"].storage_dtype == "int16"


# --- safe folders -------------------------------------------------------------------------------------

SMALL = """\
name: small
seed: 5
sources: [{{name: ptbxl, root: "{root}/ptbxl"}}, {{name: mimic, root: "{root}/mimic-iv-ecg"}}]
profile: {{duration_s: 10}}
builders: [{builders}]
output: {{dir: "{out}"{output}}}
"""


def small(tmp_path, fixture_tree, out, builders="{type: report, config: report}", output=""):
    path = tmp_path / "small.yaml"
    path.write_text(SMALL.format(root=fixture_tree, out=out, builders=builders, output=output))
    return path


def cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "ecgcorpus.cli", *map(str, args)], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, cwd=REPO, timeout=300)


@pytest.mark.parametrize("resume", ["--resume", "--no-resume"])
def test_a_folder_ecgcorpus_did_not_make_keeps_every_file(fixture_tree, tmp_path, resume):
    out = tmp_path / "mine"
    (out / "data").mkdir(parents=True)
    (out / "data" / "thesis.parquet").write_bytes(b"precious")
    (out / "README.md").write_text("my project")
    (out / "notes.txt").write_text("keep")
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    result = cli("build", small(tmp_path, fixture_tree, out), "-j", "1", resume)
    assert result.returncode == 1
    assert str(out) in result.stderr and "new --out" in result.stderr and "Traceback" not in result.stderr
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_no_resume_clears_only_its_own_output(fixture_tree, tmp_path):
    out = tmp_path / "out"
    manifest = load_manifest(small(tmp_path, fixture_tree, out))
    build(manifest, workers=1, progress=False)
    (out / "notes.txt").write_text("keep")
    summary = build(manifest, workers=1, progress=False, resume=False)
    assert (out / "notes.txt").read_text() == "keep" and not summary.resumed
    again = build(manifest, workers=1, progress=False)
    assert again.resumed and again.units_run == 0 and any("resumed" in line for line in again.lines())


def test_output_under_a_file_is_a_clear_error(fixture_tree, tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(BuildError, match="afile"):
        build(load_manifest(small(tmp_path, fixture_tree, tmp_path / "afile")), workers=1, progress=False)


# --- errors by kind -------------------------------------------------------------------------------------

def test_a_config_with_zero_samples_fails_the_build(fixture_tree, tmp_path):
    builders = ("{type: report, config: report}, "
                "{type: report, config: qa, sources: [mimic], params: {languages: [de], labels_as_report: false}}")
    result = cli("build", small(tmp_path, fixture_tree, tmp_path / "out", builders), "-j", "1")
    assert result.returncode == 1
    assert "'qa' has 0 samples" in result.stderr and "report language en not in" in result.stderr
    assert "report/train" in result.stderr                 # the rest was built and reported
    assert (tmp_path / "out" / "build.lock.json").exists()


def test_a_bug_fails_the_unit_loudly_instead_of_quarantining(fixture_tree, tmp_path, monkeypatch):
    from ecgcorpus.builders.report import ReportBuilder

    def broken(self, item, ctx):
        return 1 / 0

    monkeypatch.setattr(ReportBuilder, "run", broken)
    out = tmp_path / "out"
    with pytest.raises(BuildError) as err:
        build(load_manifest(small(tmp_path, fixture_tree, out)), workers=1, progress=False)
    message = str(err.value)
    assert "ZeroDivisionError" in message and "report/" in message and "\n" not in message
    logs = list((out / ".ecgcorpus" / "failed").glob("*.log"))
    assert logs and "Traceback" in logs[0].read_text() and "1 / 0" in logs[0].read_text()
    assert not (out / "quarantine.jsonl").exists()


def test_a_bug_in_a_worker_process_fails_the_build_too(fixture_tree, tmp_path):
    """A real pool: the exception crosses the process boundary with its summary."""
    out = tmp_path / "out"
    code = ("import sys; from ecgcorpus.builders.report import ReportBuilder\n"
            "ReportBuilder.run = lambda self, item, ctx: [][1]\n"
            "from ecgcorpus.cli import main; sys.exit(main())")
    result = subprocess.run([sys.executable, "-c", code, "build", str(small(tmp_path, fixture_tree, out)), "-j", "2"],
                            capture_output=True, text=True, cwd=REPO, timeout=300)
    assert result.returncode == 1 and "IndexError" in result.stderr and "rerun to resume" in result.stderr


def test_quarantine_rate_over_the_limit_fails_the_build(fixture_tree, tmp_path, monkeypatch):
    from ecgcorpus.builders.report import ReportBuilder
    from ecgcorpus.errors import SourceError

    real = ReportBuilder.run

    def picky(self, item, ctx):
        if item.refs[0].source == "mimic":
            raise SourceError(item.refs[0].path, "planted rejection", item.key)
        return real(self, item, ctx)

    monkeypatch.setattr(ReportBuilder, "run", picky)
    path = small(tmp_path, fixture_tree, tmp_path / "out", output=", max_quarantine_rate: 0.2")
    with pytest.raises(BuildIncomplete) as err:
        build(load_manifest(path), workers=1, progress=False)
    assert "'report' quarantined" in str(err.value) and "planted rejection" in str(err.value)
    path = small(tmp_path, fixture_tree, tmp_path / "out", output=", max_quarantine_rate: 0.9")
    summary = build(load_manifest(path), workers=1, progress=False)      # same corpus: resumed, passes
    assert summary.resumed and not summary.problems


def test_mixed_storage_configs_are_float32(fixture_tree, tmp_path):
    import pyarrow.parquet as pq

    text = SMALL.format(root=fixture_tree, out=tmp_path / "out", builders="{type: report, config: report}", output="")
    text = text.replace('sources: [', f'sources: [{{name: sph, root: "{fixture_tree}/sph"}}, ')
    (tmp_path / "mixed.yaml").write_text(text)
    build(load_manifest(tmp_path / "mixed.yaml"), workers=1, progress=False)
    shard = next((tmp_path / "out" / "data" / "report").glob("*.parquet"))
    signal = pq.read_schema(shard).field("ecgs").type.value_type.field("signal").type
    assert str(signal.value_type.value_type) == "float"


IMAGES = """\
name: images
seed: 3
sources: [{{name: ptbxl, root: "{root}", limit: 4}}]
profile: {{duration_s: 10}}
builders:
  - {{type: image, config: img, params: {{base: report, dpi: 100}}}}
  - {{type: image, config: img_aug, params: {{base: report, variant: augmented, dpi: 100, probability: 1.0,
                                             format: png}}}}
  - {{type: image, config: img_aug_jpeg, params: {{base: report, variant: augmented, dpi: 100, probability: 1.0}}}}
output: {{dir: out, max_rows_per_shard: 2}}
"""


def test_image_configs_are_byte_identical_across_workers_and_fresh_processes(data_dir, tmp_path):
    (tmp_path / "m.yaml").write_text(IMAGES.format(root=data_dir / "ptbxl"))
    digests = []
    for run, workers in enumerate((1, 2, 1)):
        out = tmp_path / f"out{run}"
        result = cli("build", tmp_path / "m.yaml", "--out", out, "-j", workers)
        assert result.returncode == 0, result.stderr
        shards = sorted((out / "data").rglob("*.parquet"))
        assert len(shards) >= 4
        digests.append({str(p.relative_to(out)): p.read_bytes() for p in shards})
    assert digests[0] == digests[1] == digests[2]
    # augmented pages default to JPEG (bench_page_format.py), standard ones stay PNG
    import pyarrow.parquet as pq

    magic = {cfg: {img["bytes"][:3] for path in sorted((tmp_path / "out0" / "data" / cfg).glob("*.parquet"))
                   for row in pq.read_table(path, columns=["images"]).to_pylist() for img in row["images"]}
             for cfg in ("img", "img_aug_jpeg")}
    assert magic == {"img": {b"\x89PN"}, "img_aug_jpeg": {b"\xff\xd8\xff"}}


def test_dry_run_plans_without_building_and_names_missing_files(data_dir, tmp_path):
    """The test copy of PTB-XL lists 500 rows for 12 records: the dry run counts the 488 missing
    files and shows the first ones, gives work items per config and split, shards and an estimated
    size, and creates nothing."""
    import json

    (tmp_path / "m.yaml").write_text(f'name: dry\nsources: [{{name: ptbxl, root: "{data_dir}/ptbxl"}}]\n'
                                     f'profile: {{duration_s: 10}}\nbuilders: [{{type: report}}]\n'
                                     f'output: {{dir: "{tmp_path}/out"}}\n')
    result = cli("build", tmp_path / "m.yaml", "--dry-run", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["sources"]["ptbxl"] == {"records": 12, "quarantined_at_scan": 488}
    assert report["missing_files"]["count"] == 488 and len(report["missing_files"]["first"]) == 5
    assert all(not path.startswith("/") for path in report["missing_files"]["first"])
    items = report["configs"]["report"]["items"]
    assert sum(items.values()) == 12 and report["configs"]["report"]["shards"] >= 1
    assert report["estimated_bytes"] >= 12 * 12 * 5000 * 2                    # 12 records of 12 × 5000 int16
    assert not (tmp_path / "out").exists()
    text = cli("build", tmp_path / "m.yaml", "--dry-run")
    assert "missing files: 488" in text.stdout and "dry run" in text.stdout

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


# --- Slurm, through fake sbatch / srun / scontrol scripts that run the array tasks here ---------------

SLURM = MANIFEST.replace("cluster: {{backend: local, workers: 2}}",
                         "cluster: {{backend: slurm, partition: test, tasks_per_job: 2, poll_s: 0.2}}")
FAKE_SLURM = os.path.join(os.path.dirname(__file__), "fake_slurm")


def cli_build(manifest, out, env, *extra):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "ecgcorpus.cli", "build", str(manifest), "--out", str(out),
                           "--executor", "datatrove", *extra], capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture()
def slurm_env(tmp_path):
    env = dict(os.environ, PATH=f"{FAKE_SLURM}{os.pathsep}{os.environ['PATH']}",
               FAKE_SLURM_DIR=str(tmp_path / "slurm"))
    return env


def test_slurm_build_submits_exits_0_then_finalizes_without_planning_again(data_dir, tmp_path, slurm_env):
    import shutil

    data = tmp_path / "data"
    for name in ("ptbxl", "sph"):
        shutil.copytree(data_dir / name, data / name)
    (tmp_path / "m.yaml").write_text(SLURM.format(data=data, out=tmp_path / "unused"))
    (tmp_path / "local.yaml").write_text(MANIFEST.format(data=data, out=tmp_path / "local"))
    build(load_manifest(tmp_path / "local.yaml"), workers=1, progress=False)

    first = cli_build(tmp_path / "m.yaml", tmp_path / "slurm_out", slurm_env)
    assert first.returncode == 0, first.stderr
    assert "as Slurm job 1001; run `ecgcorpus build" in first.stdout and "again to finalize" in first.stdout
    assert not (tmp_path / "slurm_out" / "build.lock.json").exists()
    script = (tmp_path / "slurm" / "1001.sh").read_text()
    assert "#SBATCH --partition=test" in script and "#SBATCH --qos=normal" in script
    units = len(list((tmp_path / "slurm_out" / ".ecgcorpus" / "units").glob("*.json")))
    assert f"#SBATCH --array=0-{(units + 1) // 2 - 1}" in script                # tasks_per_job: 2

    # Finalizing reads the stored plan: with the source trees gone, a new scan could not even start.
    submitted = (tmp_path / "slurm" / "next").read_text()        # job ids handed out so far
    shutil.rmtree(data)
    second = cli_build(tmp_path / "m.yaml", tmp_path / "slurm_out", slurm_env)
    assert second.returncode == 0, second.stderr
    assert "using the plan submitted earlier" in second.stderr and "built" in second.stdout
    assert tree(tmp_path / "slurm_out") == tree(tmp_path / "local")            # byte-identical to a local build
    assert (tmp_path / "slurm" / "next").read_text() == submitted               # nothing submitted again


def test_slurm_build_with_wait_polls_the_job_and_finishes_in_one_run(data_dir, tmp_path, slurm_env):
    (tmp_path / "m.yaml").write_text(SLURM.format(data=data_dir, out=tmp_path / "unused"))
    env = dict(slurm_env, FAKE_SLURM_SYNC="0")            # tasks run in the background, as on a cluster
    result = cli_build(tmp_path / "m.yaml", tmp_path / "out", env, "--wait", "--json")
    assert result.returncode == 0, result.stderr
    import json

    assert json.loads(result.stdout)["ok"] is True and (tmp_path / "out" / "build.lock.json").exists()
    assert "Slurm job 1001: 8 of 8 tasks finished" in result.stderr      # it polled the job to the end


def test_a_rerun_while_the_job_runs_submits_nothing_and_wait_then_finalizes(data_dir, tmp_path, slurm_env):
    (tmp_path / "m.yaml").write_text(SLURM.format(data=data_dir, out=tmp_path / "unused"))
    env = dict(slurm_env, FAKE_SLURM_SYNC="0", FAKE_SLURM_HOLD=str(tmp_path / "go"))
    first = cli_build(tmp_path / "m.yaml", tmp_path / "out", env)
    assert first.returncode == 0 and "submitted" in first.stdout, first.stderr
    handed_out = (tmp_path / "slurm" / "next").read_text()
    second = cli_build(tmp_path / "m.yaml", tmp_path / "out", env)
    assert second.returncode == 0, second.stderr
    assert "still running as Slurm job 1001" in second.stdout
    assert (tmp_path / "slurm" / "next").read_text() == handed_out           # not submitted twice
    (tmp_path / "go").touch()                                                 # the scheduler starts the tasks
    third = cli_build(tmp_path / "m.yaml", tmp_path / "out", env, "--wait")
    assert third.returncode == 0, third.stderr
    assert (tmp_path / "out" / "build.lock.json").exists() and (tmp_path / "slurm" / "next").read_text() == handed_out


def test_ray_backend_builds_the_same_bytes_on_a_local_ray_cluster(data_dir, tmp_path, monkeypatch):
    """`cluster.backend: ray` through datatrove's Ray executor, on a local `ray.init()`."""
    ray = pytest.importorskip("ray")
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    (tmp_path / "local.yaml").write_text(MANIFEST.format(data=data_dir, out=tmp_path / "local"))
    build(load_manifest(tmp_path / "local.yaml"), workers=1, progress=False)
    text = MANIFEST.replace("cluster: {{backend: local, workers: 2}}", "cluster: {{backend: ray, workers: 2}}")
    (tmp_path / "ray.yaml").write_text(text.format(data=data_dir, out=tmp_path / "ray"))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        summary = build(load_manifest(tmp_path / "ray.yaml"), workers=2, executor="datatrove", progress=False)
    finally:
        ray.shutdown()
    assert summary.units_run > 2 and tree(tmp_path / "ray") == tree(tmp_path / "local")

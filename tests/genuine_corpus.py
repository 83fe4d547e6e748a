"""A small corpus built from the genuine sample files, and helpers that plant defects in it
(shared by the audit and export tests; the fixtures are registered in conftest.py)."""

import json
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ecgcorpus.engine.build import build
from ecgcorpus.files import file_sha256
from ecgcorpus.manifest import load_manifest

MANIFEST = """\
name: genuine
seed: 5
sources:
  - {{name: ptbxl, root: "{data}/ptbxl", limit: 10}}
  - {{name: sph, root: "{data}/sph"}}
  - {{name: cpsc2018, root: "{data}/cpsc2018"}}
  - {{name: chapman, root: "{data}/chapman"}}
profile: {{duration_s: 10}}
splits: {{ratios: {{train: 0.5, validation: 0.25, test: 0.25}}}}
builders:
  - {{type: report}}
output: {{dir: "{out}", max_rows_per_shard: 3}}
"""


def build_genuine(template: str, data_dir, tmp):
    """Build ``template`` (a manifest with {data} and {out}) from the genuine files into tmp/out."""
    (tmp / "m.yaml").write_text(template.format(data=data_dir, out=tmp / "out"))
    build(load_manifest(tmp / "m.yaml"), workers=1, progress=False)
    return tmp / "out"


@pytest.fixture(scope="module")
def corpus(data_dir, tmp_path_factory):
    return build_genuine(MANIFEST, data_dir, tmp_path_factory.mktemp("genuine"))


@pytest.fixture()
def copy(corpus, tmp_path):
    dst = tmp_path / "c"
    shutil.copytree(corpus, dst)
    return dst


def shards_of(root, split):
    return sorted((root / "data" / "report").glob(f"{split}-*.parquet"))


def rewrite(root, shard, fn):
    """Rewrite a shard through ``fn(table) -> table`` and re-seal it in the lock (a bad build, not tampering)."""
    table = fn(pq.read_table(shard))
    pq.write_table(table, shard)
    lock_path = root / "build.lock.json"
    lock = json.loads(lock_path.read_text())
    rel = str(shard.relative_to(root))
    for entry in lock["shards"]:
        if entry["path"] == rel:
            entry["sha256"] = file_sha256(shard)
    lock_path.write_text(json.dumps(lock))


def plant_in_test(root, train, test):
    """Copy the first row of a train shard into a test shard (a leak the audit must catch)."""
    row = pq.read_table(train).slice(0, 1)
    moved = row.set_column(row.schema.get_field_index("split"), "split", pa.array(["test"]))
    rewrite(root, test, lambda t: pa.concat_tables([t, moved]))


def codes(report):
    return {f.code: f for f in report.findings}

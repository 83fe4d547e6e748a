"""Scaling of the datatrove local executor from 1 to 2 workers, and a projection to MIMIC-IV-ECG size.

    python bench/bench_scaling.py [--records 1200] [--rows-per-shard 40]

Builds report samples from the MIMIC-IV-ECG fixture with `--executor datatrove` (one task per
shard), once with 1 worker and once with 2, in this run, and checks both outputs are identical.
The projection multiplies the measured records/s per core by core counts: a projection, not a
measurement (I/O of a real cluster file system is not modelled).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import textwrap
import time

from ecgcorpus.engine.build import build
from ecgcorpus.fixtures import write_fixtures
from ecgcorpus.manifest import load_manifest

MIMIC_RECORDS = 800_035

MANIFEST = textwrap.dedent("""\
    name: scaling
    seed: 1
    sources:
      - {{name: mimic, root: "{root}"}}
    profile: {{duration_s: 10}}
    builders:
      - {{type: {builder}}}
    output: {{dir: "{out}", max_rows_per_shard: {rows}}}
    cluster: {{backend: local}}
""")


def timed_build(root: str, out: str, rows: int, workers: int, builder: str) -> float:
    path = out + ".yaml"
    with open(path, "w") as f:
        f.write(MANIFEST.format(root=root, out=out, rows=rows, builder=builder))
    t0 = time.perf_counter()
    build(load_manifest(path), workers=workers, resume=False, progress=False, executor="datatrove")
    return time.perf_counter() - t0


def shard_bytes(out: str) -> dict[str, bytes]:
    data = os.path.join(out, "data")
    return {os.path.relpath(os.path.join(d, f), data): open(os.path.join(d, f), "rb").read()
            for d, _, files in os.walk(data) for f in files}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=1200)
    ap.add_argument("--rows-per-shard", type=int, default=40)
    ap.add_argument("--builder", default="features", help="features (neurokit2, CPU-bound) or report (I/O-bound)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = str(write_fixtures(os.path.join(tmp, "fx"), records=args.records, seed=0)["mimic-iv-ecg"])
        timed_build(root, os.path.join(tmp, "warm"), args.rows_per_shard, 2, args.builder)       # page cache, imports
        t1 = timed_build(root, os.path.join(tmp, "w1"), args.rows_per_shard, 1, args.builder)
        t2 = timed_build(root, os.path.join(tmp, "w2"), args.rows_per_shard, 2, args.builder)
        same = shard_bytes(os.path.join(tmp, "w1")) == shard_bytes(os.path.join(tmp, "w2"))
    per_core = args.records / t1
    print(f"{args.builder} builder, {args.records} records, {args.records // args.rows_per_shard} tasks: 1 worker {t1:.1f} s "
          f"({per_core:.0f} rec/s), 2 workers {t2:.1f} s, speed-up {t1 / t2:.2f}x, identical shards: {same}")
    print(f"PROJECTION (not measured): MIMIC-IV-ECG {args.builder} build, records/s per core measured here x cores")
    for cores in (1, 16, 64, 256):
        hours = MIMIC_RECORDS / (per_core * cores) / 3600
        print(f"  {cores:4d} cores: {per_core * cores:9.0f} rec/s, {hours:7.2f} h for {MIMIC_RECORDS:,} records")
    print(f"RESULT scaling builder={args.builder} speedup_1_to_2={t1 / t2:.2f} rec_per_s_per_core={per_core:.0f} identical={same}")


if __name__ == "__main__":
    main()

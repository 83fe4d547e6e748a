"""Scaling of the datatrove local executor from 1 to 2 workers, and a projection to MIMIC-IV-ECG size.

    python bench/bench_scaling.py [--records 480] [--rows-per-shard 20] [--repeats 3]

Builds samples (features builder by default: neurokit2, CPU-bound) from the MIMIC-IV-ECG fixture
with `--executor datatrove` (one task per shard), with 1 worker and with 2, alternating, `repeats`
times in this run; the speed-up is the ratio of the median times, and both outputs must be
identical. Machines that share their cores are noisy (a second vCPU is sometimes slower for seconds), so
the same run also measures the ceiling of the machine it runs on: a pure-Python CPU loop in 1 and 2 processes.
The projection multiplies the measured records/s per core by core counts: a projection, not a
measurement (I/O of a real cluster file system is not modelled).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import statistics
import tempfile
import textwrap
import time

from ecgcorpus.engine.build import build
from ecgcorpus.fixtures import write_fixtures
from ecgcorpus.manifest import load_manifest

MIMIC_RECORDS = 800_035
BUILDERS = {                       # CPU-bound: features (neurokit2), image (synth); I/O-bound: report
    "features": "{type: features}",
    "image": "{type: image, params: {base: report, variant: augmented}}",
    "report": "{type: report}",
}

MANIFEST = textwrap.dedent("""\
    name: scaling
    seed: 1
    sources:
      - {{name: mimic, root: "{root}"}}
    profile: {{duration_s: 10}}
    builders:
      - {builder}
    output: {{dir: "{out}", max_rows_per_shard: {rows}}}
    cluster: {{backend: local}}
""")


def timed_build(root: str, out: str, rows: int, workers: int, builder: str) -> float:
    path = out + ".yaml"
    with open(path, "w") as f:
        f.write(MANIFEST.format(root=root, out=out, rows=rows, builder=BUILDERS[builder]))
    t0 = time.perf_counter()
    build(load_manifest(path), workers=workers, resume=False, progress=False, executor="datatrove")
    return time.perf_counter() - t0


def _spin(n: int = 4_000_000) -> int:
    total = 0
    for i in range(n):
        total += i * i
    return total


def machine_ceiling() -> float:
    """Speed-up of two processes over one on pure CPU work: what the host allows right now."""
    t0 = time.perf_counter()
    _spin(), _spin()
    serial = time.perf_counter() - t0
    with multiprocessing.get_context("fork").Pool(2) as pool:
        t0 = time.perf_counter()
        pool.map(_spin, [4_000_000, 4_000_000], chunksize=1)
        parallel = time.perf_counter() - t0
    return serial / parallel


def shard_bytes(out: str) -> dict[str, bytes]:
    data = os.path.join(out, "data")
    return {os.path.relpath(os.path.join(d, f), data): open(os.path.join(d, f), "rb").read()
            for d, _, files in os.walk(data) for f in files}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=480)
    ap.add_argument("--rows-per-shard", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--builder", default="features", choices=sorted(BUILDERS))
    args = ap.parse_args()
    one, two, ceilings = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        root = str(write_fixtures(os.path.join(tmp, "fx"), records=args.records, seed=0)["mimic-iv-ecg"])
        timed_build(root, os.path.join(tmp, "warm"), args.rows_per_shard, 2, args.builder)       # page cache, imports
        for _ in range(args.repeats):
            ceilings.append(machine_ceiling())
            one.append(timed_build(root, os.path.join(tmp, "w1"), args.rows_per_shard, 1, args.builder))
            two.append(timed_build(root, os.path.join(tmp, "w2"), args.rows_per_shard, 2, args.builder))
        same = shard_bytes(os.path.join(tmp, "w1")) == shard_bytes(os.path.join(tmp, "w2"))
    t1, t2, ceiling = statistics.median(one), statistics.median(two), statistics.median(ceilings)
    per_core = args.records / t1
    print(f"{args.builder} builder, {args.records} records, {args.records // args.rows_per_shard} tasks, "
          f"{args.repeats} runs each: 1 worker {' '.join(f'{t:.1f}' for t in one)} s, "
          f"2 workers {' '.join(f'{t:.1f}' for t in two)} s")
    print(f"median: 1 worker {t1:.1f} s ({per_core:.0f} rec/s), 2 workers {t2:.1f} s, speed-up {t1 / t2:.2f}x "
          f"(the host's ceiling in the same run: {ceiling:.2f}x on a pure CPU loop), identical shards: {same}")
    print(f"PROJECTION (not measured): MIMIC-IV-ECG {args.builder} build, records/s per core measured here x cores")
    for cores in (1, 16, 64, 256):
        hours = MIMIC_RECORDS / (per_core * cores) / 3600
        print(f"  {cores:4d} cores: {per_core * cores:9.0f} rec/s, {hours:7.2f} h for {MIMIC_RECORDS:,} records")
    # datatrove's local workers are forked children of this process: their largest peak RSS
    worker_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS of the largest worker process: {worker_mib:.0f} MiB (shards write one row group at a time)")
    print(f"RESULT scaling builder={args.builder} speedup_1_to_2={t1 / t2:.2f} machine_ceiling={ceiling:.2f} "
          f"rec_per_s_per_core={per_core:.0f} identical={same} peak_worker_rss_mib={worker_mib:.0f}")


if __name__ == "__main__":
    main()

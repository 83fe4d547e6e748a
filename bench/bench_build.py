"""End-to-end build rate vs the raw loader rate, and peak RSS as the corpus grows 10×.

    python bench/bench_build.py [--records 500] [--scale 10]

1. Rate: on the same fixture records (MIMIC-IV-ECG layout), time (a) loading every record with the
   source loader (our fast path), (b) wfdb.rdsamp, and (c) a build of report samples in this process
   (plan, load, profile, Arrow, zstd Parquet, lock, card), with 1 worker and with one per core.
   Prints build rate / loader rate for each. And the writer floor: the build's own shards read
   back and written again with the build's Parquet settings (int16 fixed-size lists, delta
   encoding, zstd), nothing else: the rate no build with this schema can pass on the same host.
2. Memory: peak RSS of a one-worker build on N records and on scale×N records (separate processes).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
import time

from ecgcorpus.fixtures import write_fixtures
from ecgcorpus.sources import open_source

MANIFEST = textwrap.dedent("""\
    name: bench
    seed: 1
    sources:
      - {{name: mimic, root: "{root}"}}
    profile: {{duration_s: 10}}
    builders:
      - {{type: report}}
    output: {{dir: "{out}", max_rows_per_shard: 100}}
""")


def loader_rates(root: str) -> tuple[float, float, int]:
    import wfdb

    src = open_source("mimic", root)
    refs = list(src.scan())
    t0 = time.perf_counter()
    for ref in refs:
        src.load(ref)
    fast = len(refs) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for ref in refs:
        wfdb.rdsamp(ref.path)
    return fast, len(refs) / (time.perf_counter() - t0), len(refs)


def build_rate(root: str, out: str, workers: int, n: int) -> float:
    from ecgcorpus.engine.build import build
    from ecgcorpus.manifest import load_manifest

    manifest = os.path.join(os.path.dirname(out), "rate.yaml")
    with open(manifest, "w") as f:
        f.write(MANIFEST.format(root=root, out=out))
    spec = load_manifest(manifest)
    build(spec, workers=workers, resume=False, progress=False)       # warm-up: imports, page cache
    t0 = time.perf_counter()
    build(spec, workers=workers, resume=False, progress=False)
    return n / (time.perf_counter() - t0)


def writer_floor_rate(out: str, n: int) -> float:
    """Records/s of pq.write_table alone on the build's shards, with the build's settings."""
    import glob

    import pyarrow.parquet as pq

    from ecgcorpus.engine.shard import write_parquet_atomic
    from ecgcorpus.manifest import load_manifest

    spec = load_manifest(os.path.join(os.path.dirname(out), "rate.yaml"))
    tables = [pq.read_table(p) for p in sorted(glob.glob(os.path.join(out, "data", "**", "*.parquet"), recursive=True))]
    target = os.path.join(os.path.dirname(out), "floor", "x.parquet")
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for table in tables:
            write_parquet_atomic(table, target, spec, "int16")
        best = min(best, time.perf_counter() - t0)
    return n / best


def build_in_subprocess(root: str, out: str, workers: int = 1) -> tuple[float, float]:
    """(seconds, peak RSS MiB of the build process tree's largest process)."""
    manifest = os.path.join(os.path.dirname(out), f"{os.path.basename(out)}.yaml")
    with open(manifest, "w") as f:
        f.write(MANIFEST.format(root=root, out=out))
    code = ("import resource, sys, time; from ecgcorpus.cli import main; t=time.perf_counter()\n"
            "try: main([*sys.argv[1:]], standalone_mode=False)\n"
            "finally: print('BENCH', time.perf_counter()-t, max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,"
            " resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))")
    proc = subprocess.run([sys.executable, "-c", code, "build", manifest, "-j", str(workers), "--no-resume"],
                          capture_output=True, text=True, check=True)
    line = next(l for l in proc.stdout.splitlines() if l.startswith("BENCH"))
    _, seconds, rss_kib = line.split()
    return float(seconds), int(rss_kib) / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=500)
    ap.add_argument("--scale", type=int, default=10)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        small = write_fixtures(os.path.join(tmp, "small"), records=args.records, seed=0)["mimic-iv-ecg"]
        rate_load, rate_wfdb, n = loader_rates(str(small))
        cores = len(os.sched_getaffinity(0))
        rate_build = build_rate(str(small), os.path.join(tmp, "out-rate"), 1, n)
        rate_pool = build_rate(str(small), os.path.join(tmp, "out-rate"), cores, n)
        rate_floor = writer_floor_rate(os.path.join(tmp, "out-rate"), n)
        print(f"{n} records: loader (fast path) {rate_load:.0f} rec/s, wfdb.rdsamp {rate_wfdb:.0f} rec/s")
        print(f"build, 1 worker: {rate_build:.0f} rec/s = {rate_build / rate_load:.2f} of the loader, "
              f"{rate_build / rate_wfdb:.2f} of wfdb.rdsamp")
        print(f"build, {cores} workers: {rate_pool:.0f} rec/s = {rate_pool / rate_load:.2f} of the loader")
        print(f"writer floor (the same shards re-encoded, one core, nothing else): {rate_floor:.0f} rec/s = "
              f"{rate_floor / rate_load:.2f} of the loader; the 1-worker build runs at {rate_build / rate_floor:.2f} of it")
        _, rss_small = build_in_subprocess(str(small), os.path.join(tmp, "out-small"))
        big = write_fixtures(os.path.join(tmp, "big"), records=args.records * args.scale, seed=0)["mimic-iv-ecg"]
        _, rss_big = build_in_subprocess(str(big), os.path.join(tmp, "out-big"))
        print(f"peak RSS: {rss_small:.0f} MiB at {n} records, {rss_big:.0f} MiB at {n * args.scale} records "
              f"(ratio {rss_big / rss_small:.2f})")
    print(f"RESULT build build_over_loader={rate_build / rate_load:.2f} pool_over_loader={rate_pool / rate_load:.2f} "
          f"build_over_wfdb_rdsamp={rate_build / rate_wfdb:.2f} writer_floor_over_loader={rate_floor / rate_load:.2f} "
          f"build_over_writer_floor={rate_build / rate_floor:.2f} rss_ratio_{args.scale}x={rss_big / rss_small:.2f} "
          f"build_rec_per_s={rate_build:.0f} loader_rec_per_s={rate_load:.0f} rss_mib={rss_small:.0f}/{rss_big:.0f}")


if __name__ == "__main__":
    main()

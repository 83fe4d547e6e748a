"""End-to-end build rate vs the raw loader rate, and peak RSS as the corpus grows 10×.

    python bench/bench_build.py [--records 500] [--scale 10]

1. Rate: on the same fixture records (MIMIC-IV-ECG layout), time (a) loading every record with the
   source loader and (b) `ecgcorpus build` of report samples with one worker (plan, load, profile,
   Arrow, zstd Parquet, lock, card). Prints build rate / loader rate.
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


def loader_rate(root: str) -> tuple[float, int]:
    src = open_source("mimic", root)
    refs = list(src.scan())
    t0 = time.perf_counter()
    for ref in refs:
        src.load(ref)
    return len(refs) / (time.perf_counter() - t0), len(refs)


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
        rate_load, n = loader_rate(str(small))
        seconds, rss_small = build_in_subprocess(str(small), os.path.join(tmp, "out-small"))
        rate_build = n / seconds
        print(f"{n} records: loader {rate_load:.0f} rec/s, build (1 worker, end to end) {rate_build:.0f} rec/s, "
              f"ratio {rate_build / rate_load:.2f}")
        big = write_fixtures(os.path.join(tmp, "big"), records=args.records * args.scale, seed=0)["mimic-iv-ecg"]
        _, rss_big = build_in_subprocess(str(big), os.path.join(tmp, "out-big"))
        print(f"peak RSS: {rss_small:.0f} MiB at {n} records, {rss_big:.0f} MiB at {n * args.scale} records "
              f"(ratio {rss_big / rss_small:.2f})")
    print(f"RESULT build build_over_loader={rate_build / rate_load:.2f} rss_ratio_{args.scale}x={rss_big / rss_small:.2f} "
          f"build_rec_per_s={rate_build:.0f} loader_rec_per_s={rate_load:.0f} rss_mib={rss_small:.0f}/{rss_big:.0f}")


if __name__ == "__main__":
    main()

"""Fast fmt-16 reader vs wfdb.rdsamp on PTB-XL and MIMIC-IV-ECG layouts, measured in the same run.

    python bench/bench_wfdb_fastpath.py [--records 200] [--repeat 3]

Writes fixtures (500 Hz, 12 leads, 10 s) to a temp dir, reads every record with wfdb.rdsamp and
with ecgcorpus' source.load() (header parse + numpy read + canonical lead order + ECG object),
checks the values are bit-identical and prints records/s and the ratio.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import wfdb

from ecgcorpus.fixtures import write_fixtures
from ecgcorpus.sources import open_source


def best_rate(fn, items, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for item in items:
            fn(item)
        best = min(best, time.perf_counter() - t0)
    return len(items) / best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        dirs = write_fixtures(tmp, records=args.records, seed=0)
        for name, folder in (("ptbxl", dirs["ptbxl"]), ("mimic", dirs["mimic-iv-ecg"])):
            src = open_source(name, folder)
            refs = list(src.scan())
            for ref in refs[:20]:  # identity first: the speed of a wrong answer is worth nothing
                ours = src.load(ref)
                theirs, fields = wfdb.rdsamp(ref.path)
                order = [fields["sig_name"].index(n) for n in
                         [{"aVR": "AVR", "aVL": "AVL", "aVF": "AVF"}.get(x, x) if name == "ptbxl" else x for x in ours.leads]]
                assert np.array_equal(ours.signal, theirs.T[order], equal_nan=True), ref.record_id
            wfdb_rate = best_rate(lambda r: wfdb.rdsamp(r.path), refs, args.repeat)
            fast_rate = best_rate(src.load, refs, args.repeat)
            results[name] = fast_rate / wfdb_rate
            print(f"{name:6s} {len(refs)} records  wfdb.rdsamp {wfdb_rate:8.0f} rec/s   "
                  f"ecgcorpus load {fast_rate:8.0f} rec/s   ratio {fast_rate / wfdb_rate:5.1f}x")
    print("RESULT wfdb_fastpath " + " ".join(f"{k}_ratio={v:.1f}" for k, v in results.items()))


if __name__ == "__main__":
    main()

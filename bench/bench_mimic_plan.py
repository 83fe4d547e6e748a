"""Planning full MIMIC-IV-ECG: peak memory and time of the dry run, against pandas reading the same CSVs.

Writes synthetic metadata of MIMIC-IV-ECG's size and column layout (record_list.csv and
machine_measurements.csv, 800,035 studies by default, statements drawn from the fixture
vocabulary, 29999 sentinels included) with signal files for the first few records only, then runs
in fresh child processes, one after another:

- the reference: ``pandas.read_csv`` of both CSVs (all columns), as any script reading them would;
- ``ecgcorpus build M --dry-run --json`` of a manifest with two report configs (the scan, the
  fingerprints of the files that exist, the plan) .

Each child's peak RSS is its own, from ``os.wait4``. The pair runs ``--repeat`` times (reference,
then dry run, alternating: a noisy machine slows both alike); printed are the medians of the times,
of the pairs' ratios and of the peaks, and the records the dry run counted. Then, once, the plan as
on a complete release (``PLAN_PRESENT``: every file taken as present, the file system left out):
its time, peak, work items, units and the size of the unit store a cluster run writes. With
``--build``, a build (2 workers) of the dry run's manifest, once: time, peak RSS (the main process:
``wait4`` reports the largest of the process and the workers it waited for) and quarantine.jsonl.

    python bench/bench_mimic_plan.py [--records 800035] [--limit N] [--repeat 5] [--keep DIR]

``--limit N`` sets the manifest's ``limit`` on the source: the dry run then reads the first N
studies of record_list.csv and only their machine_measurements rows.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

MIMIC_RECORDS = 800_035
WITH_SIGNALS = 8
STATEMENTS = ("Sinus rhythm", "Normal ECG", "Sinus bradycardia", "Otherwise normal ECG", "Sinus tachycardia",
              "Atrial fibrillation with rapid ventricular response", "Abnormal ECG", "Borderline ECG",
              "Possible left atrial enlargement", "Left axis deviation", "Inferior/lateral ST-T changes are nonspecific",
              "Sinus rhythm with PVC(s) with borderline 1st degree A-V block", "Consider anterior infarct - age undetermined",
              "Low QRS voltages in precordial leads", "Right bundle branch block", "Nonspecific T wave abnormality")


def write_metadata(root: str, n: int, fixture_mimic: str) -> None:
    """record_list.csv + machine_measurements.csv for ``n`` studies; files only for the first few."""
    import pandas as pd

    rng = np.random.default_rng(11)
    subjects = 10_000_000 + rng.integers(0, n // 5 + 1, size=n)
    studies = 40_000_000 + rng.permutation(n)
    times = (pd.Timestamp("2110-01-01") + pd.to_timedelta(rng.integers(0, 3600 * 24 * 3650, size=n), unit="s"))
    paths = [f"files/p{str(s)[:4]}/p{s}/s{t}/{t}" for s, t in zip(subjects, studies)]
    record_list = pd.DataFrame({"subject_id": subjects, "study_id": studies, "file_name": studies,
                                "ecg_time": times.strftime("%Y-%m-%d %H:%M:%S"), "path": paths})
    record_list.to_csv(os.path.join(root, "record_list.csv"), index=False)
    mm = {"subject_id": subjects, "study_id": studies, "cart_id": rng.integers(6000, 9000, size=n),
          "ecg_time": record_list["ecg_time"]}
    vocab = np.array(STATEMENTS, dtype=object)
    lines = rng.integers(1, 5, size=n)
    for i in range(18):
        column = vocab[rng.integers(0, len(vocab), size=n)].astype(object)
        column[lines <= i] = None
        mm[f"report_{i}"] = column
    mm["bandwidth"], mm["filtering"] = "0.005-150 Hz", "60 Hz notch Baseline filter"
    for name, lo, hi in (("rr_interval", 500, 1200), ("p_onset", 20, 80), ("p_end", 90, 140), ("qrs_onset", 150, 200),
                         ("qrs_end", 230, 290), ("t_end", 520, 640), ("p_axis", -30, 90), ("qrs_axis", -60, 120),
                         ("t_axis", -30, 100)):
        values = rng.integers(lo, hi, size=n)
        values[rng.random(n) < 0.03] = 29999
        mm[name] = values
    pd.DataFrame(mm).to_csv(os.path.join(root, "machine_measurements.csv"), index=False)
    # the first records get real signal files (the fixture's), the rest are absent
    fixture_files = sorted({os.path.join(d, f[:-4]) for d, _, fs in os.walk(fixture_mimic) for f in fs
                            if f.endswith(".hea")})
    for path, source in zip(paths[:WITH_SIGNALS], fixture_files):
        target = os.path.join(root, path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        for ext in (".hea", ".dat"):
            shutil.copyfile(source + ext, target + ext)
        with open(target + ".hea") as f:
            text = f.read()
        old = os.path.basename(source)
        with open(target + ".hea", "w") as f:
            f.write(text.replace(old, os.path.basename(target)))


def child(argv: list[str]) -> tuple[float, int, str]:
    """(wall s, peak RSS bytes, stdout) of one fresh process; its own peak, from ``wait4``."""
    with tempfile.TemporaryFile("w+") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            raise subprocess.CalledProcessError(proc.returncode, argv)
        out.seek(0)
        return elapsed, usage.ru_maxrss * 1024, out.read()


# The plan as on a complete release, where every study's files exist: the file check and the input
# fingerprints (which list and read the 800k record folders: file system time, not planning) are
# replaced by "all present", and dedupe is off (it reads every signal). What remains is the work
# of planning 800k rows: reading, splitting, asking the builders, cutting units.
PLAN_PRESENT = """
import os, sys, tempfile, time
import numpy as np
import ecgcorpus.engine.plan as plan
import ecgcorpus.engine.scan as scan
from ecgcorpus.engine.datatrove_executor import UnitStore
from ecgcorpus.manifest import load_manifest
scan.missing_files = lambda root, files, suffix="": np.zeros(len(files), bool)
scan.fingerprint_inputs = lambda root, paths, **kw: {"records": len(paths)}
manifest = load_manifest(sys.argv[1]).model_copy(update={"dedupe": "keep"})
t0 = time.perf_counter()
made = plan.make_plan(manifest)
elapsed = time.perf_counter() - t0
with tempfile.TemporaryDirectory() as tmp:         # what a cluster run stores for its tasks
    UnitStore.write(os.path.join(tmp, "units.pkl"), made.units, manifest, tmp)
    store = os.path.getsize(os.path.join(tmp, "units.pkl"))
print(elapsed, sum(u.n_items for u in made.units), len(made.units), store)
"""

READ_CSV = """
import sys, pandas as pd
a = pd.read_csv(sys.argv[1] + '/record_list.csv')
b = pd.read_csv(sys.argv[1] + '/machine_measurements.csv')
print(len(a), len(b))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=MIMIC_RECORDS)
    ap.add_argument("--keep", help="write the metadata here and keep it")
    ap.add_argument("--limit", type=int, help="the source's limit in the dry run's manifest")
    ap.add_argument("--repeat", type=int, default=5, help="pairs of runs; medians are printed")
    ap.add_argument("--build", action="store_true", help="then build, once: time, peak, quarantine lines")
    args = ap.parse_args()
    from ecgcorpus.fixtures import write_fixtures

    work = args.keep or tempfile.mkdtemp()
    root = os.path.join(work, "mimic-iv-ecg")
    if not os.path.exists(os.path.join(root, "machine_measurements.csv")):
        os.makedirs(root, exist_ok=True)
        fixtures = tempfile.mkdtemp()
        write_fixtures(fixtures, records=WITH_SIGNALS, seed=1)
        write_metadata(root, args.records, os.path.join(fixtures, "mimic-iv-ecg"))
    manifest = os.path.join(work, "m.yaml")
    with open(manifest, "w") as f:
        limit = f", limit: {args.limit}" if args.limit else ""
        f.write(f'name: mimic-plan\nsources: [{{name: mimic, root: "{root}"{limit}}}]\nprofile: {{duration_s: 10}}\n'
                f'builders:\n  - {{type: report, config: report}}\n  - {{type: report, config: report_anyecg, '
                f'params: {{profile: anyecg}}}}\noutput: {{dir: "{work}/out"}}\n')
    runs = []
    for _ in range(args.repeat):
        ref_s, ref_rss, _ = child([sys.executable, "-c", READ_CSV, root])
        plan_s, plan_rss, out = child([sys.executable, "-m", "ecgcorpus.cli", "-q", "build", manifest, "--dry-run",
                                       "--json"])
        runs.append((ref_s, ref_rss / 2**20, plan_s, plan_rss / 2**20, plan_s / ref_s))
    report = json.loads(out)
    _, present_rss, present_out = child([sys.executable, "-c", PLAN_PRESENT, manifest])
    present_s, present_items, present_units, present_store = present_out.split()
    ref_s, ref_mib, plan_s, plan_mib, ratio = (float(np.median(column)) for column in zip(*runs))
    results = {"records": args.records, "limit": args.limit or 0, "repeat": args.repeat, "read_csv_s": ref_s,
               "read_csv_peak_mib": ref_mib, "dry_run_s": plan_s, "dry_run_peak_mib": plan_mib,
               "ratio_dry_run_vs_read_csv": ratio, "ratio_range": f"{min(r[4] for r in runs):.2f}-{max(r[4] for r in runs):.2f}",
               "records_scanned": report["sources"]["mimic"]["records"],
               "plan_all_present_s": float(present_s), "plan_all_present_peak_mib": present_rss / 2**20,
               "plan_all_present_items": int(present_items), "plan_all_present_units": int(present_units),
               "unit_store_mib": int(present_store) / 2**20}
    if args.build:
        shutil.rmtree(os.path.join(work, "out"), ignore_errors=True)          # a fresh build, not a resume
        build_s, build_rss, _ = child([sys.executable, "-m", "ecgcorpus.cli", "-q", "build", manifest, "--workers", "2"])
        with open(os.path.join(work, "out", "quarantine.jsonl"), "rb") as f:
            lines = sum(1 for _ in f)
        results.update(build_s=build_s, build_peak_mib=build_rss / 2**20, quarantine_lines=lines,
                       quarantine_mib=os.path.getsize(os.path.join(work, "out", "quarantine.jsonl")) / 2**20)
    for key, value in results.items():
        print(f"{key:32s} {value:.3f}" if isinstance(value, float) else f"{key:32s} {value}")
    print("RESULT bench_mimic_plan " + " ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}"
                                                for k, v in results.items()))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

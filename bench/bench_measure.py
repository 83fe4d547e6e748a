"""Measurement agreement: `features.measure` against a reference, on the project's records.

1. The fixture MIMIC-IV-ECG tree: its machine_measurements.csv holds the values the records were
   synthesized with (mean RR, the QRS waves' true extent over the leads, QRS axis), so they are
   ground truth for the signal: the share of records where our measurement lies within tolerance
   of it. The QRS is measured twice in the same run: over the leads (the default, global_qrs.py)
   and on lead II alone (the reference the multi-lead method must beat).
2. The genuine records of tests/data (PTB-XL, CPSC2018, Chapman, SPH): agreement with their
   labels, before and after `features.consistency` (AF/flutter without PR, bundle branch blocks
   ≥ 120 ms, brady-/tachycardia rates): how often neurokit2 alone contradicts a label, and how
   many samples the rules then let through with a contradiction (must be 0).

    python bench/bench_measure.py [--records 40]
"""

from __future__ import annotations

import argparse
import pathlib
import statistics
import tempfile

from ecgcorpus.errors import SourceError
from ecgcorpus.features import measure
from ecgcorpus.features.consistency import consistent, contradictions
from ecgcorpus.fixtures import write_fixtures
from ecgcorpus.sources import open_source

DATA = pathlib.Path(__file__).resolve().parents[1] / "tests" / "data"
TOLERANCE = {"heart_rate_bpm": 5, "qrs_ms": 20, "axis_deg": 30, "qrs_ms_lead_ii": 20}


def fixture_agreement(records: int) -> dict[str, float]:
    root = pathlib.Path(tempfile.mkdtemp()) / "fx"
    write_fixtures(root, records=records, seed=3)
    src = open_source("mimic", root / "mimic-iv-ecg")
    hits = {key: [] for key in TOLERANCE}
    errors = {key: [] for key in TOLERANCE}
    for ref in src.scan():
        truth = ref.extra.get("measurements") or {}
        ecg = src.load(ref)
        m = measure(ecg)
        ours_by_key = {"heart_rate_bpm": m.heart_rate_bpm, "qrs_ms": m.qrs_ms, "axis_deg": m.axis_deg,
                       "qrs_ms_lead_ii": measure(ecg, multilead=False).qrs_ms}
        qrs = (truth["qrs_end"] - truth["qrs_onset"]) if truth.get("qrs_end") else None
        reference = {"heart_rate_bpm": 60000 / truth["rr_interval"] if truth.get("rr_interval") else None,
                     "qrs_ms": qrs, "qrs_ms_lead_ii": qrs, "axis_deg": truth.get("qrs_axis")}
        for key, tol in TOLERANCE.items():
            ours = ours_by_key[key]
            if reference[key] is None or ours is None:
                continue
            diff = abs(ours - reference[key])
            if key == "axis_deg":
                diff = min(diff, 360 - diff)
            errors[key].append(diff)
            hits[key].append(diff <= tol)
    return {**{f"{k}_within_tol": sum(v) / len(v) for k, v in hits.items() if v},
            **{f"{k}_median_abs_error": statistics.median(v) for k, v in errors.items() if v},
            "fixture_records": len(hits["heart_rate_bpm"])}


def label_agreement() -> dict[str, float]:
    measured = raw_contradictions = after = quarantined = 0
    for name in ("ptbxl", "cpsc2018", "chapman", "sph"):
        src = open_source(name, DATA / name)
        for ref in src.scan():
            try:
                ecg = src.load(ref)
            except SourceError:
                continue                               # the test copy of PTB-XL holds 12 of its rows
            if ecg.duration_s > 10:
                ecg = ecg.crop(0, int(10 * ecg.fs))
            m = measure(ecg)
            if m.quality == "failed":
                continue
            measured += 1
            codes = {lab.snomed for lab in ref.labels if lab.snomed}
            raw_contradictions += bool(contradictions(m.to_dict(), codes))
            try:
                kept = consistent(m, ref)
            except SourceError:
                quarantined += 1
                continue
            after += bool(contradictions(kept.to_dict(), codes))
    return {"genuine_measured": measured, "genuine_contradicting_raw": raw_contradictions,
            "genuine_quarantined_by_rules": quarantined, "genuine_contradicting_after_rules": after}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=40)
    args = ap.parse_args()
    results = {**fixture_agreement(args.records), **label_agreement()}
    for key, value in results.items():
        print(f"{key:40s} {value:.3f}" if isinstance(value, float) else f"{key:40s} {value}")
    print("RESULT bench_measure " + " ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}"
                                            for k, v in results.items()))


if __name__ == "__main__":
    main()

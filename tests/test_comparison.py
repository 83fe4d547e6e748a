"""Multi-ECG comparison: one patient per group, time order, answers from labels/reports and measurements."""

import json
import re
import shutil
from datetime import datetime

import pytest

from ecgcorpus.builders.qa_groups import patient_groups
from ecgcorpus.engine.build import build
from ecgcorpus.features import FEATURES
from ecgcorpus.manifest import load_manifest
from ecgcorpus.types import RecordRef
from corpus_rows import rows
from test_features import spoil_lead

MANIFEST = """\
name: comparison-test
seed: 21
sources:
  - {{name: ptbxl, root: "{root}/ptbxl"}}
  - {{name: mimic, root: "{root}/mimic-iv-ecg"}}
  - {{name: sph, root: "{root}/sph"}}
  - {{name: chapman, root: "{root}/chapman", limit: 2}}
profile: {{duration_s: 10}}
builders:
  - {{type: comparison, params: {{questions: 8, max_ecgs: 3}}}}
  - {{type: comparison, config: comparison_dialog, sources: [mimic], params: {{questions: 5, multi_turn: true}}}}
output: {{dir: "{out}", max_rows_per_shard: 64}}
"""


def unmeasured(table, study_id: str) -> None:
    import csv

    with open(table, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        fields, rows_ = reader.fieldnames, list(reader)
    for row in rows_:
        if row["study_id"] == study_id:
            row.update({c: "29999" for c in ("rr_interval", "p_onset", "p_end", "qrs_onset", "qrs_end", "t_end",
                                              "p_axis", "qrs_axis", "t_axis")})
    with open(table, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows_)


@pytest.fixture(scope="module")
def comparison_build(fixture_tree, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("comparison")
    root = tmp / "db"
    for name in ("ptbxl", "mimic-iv-ecg", "sph", "chapman"):
        shutil.copytree(fixture_tree / name, root / name)
    # MIMIC 43309742 becomes a flat line plus noise in lead II, and its cart measured nothing
    # (29999 in every numeric column): no method can measure it.
    spoil_lead(root / "mimic-iv-ecg" / "files" / "p1000" / "p10000032" / "s43309742" / "43309742", "II")
    unmeasured(root / "mimic-iv-ecg" / "machine_measurements.csv", "43309742")
    (tmp / "m.yaml").write_text(MANIFEST.format(root=root, out=tmp / "out"))
    build(load_manifest(tmp / "m.yaml"), workers=1, progress=False)
    return tmp


def test_groups_are_one_patient_in_time_order(comparison_build):
    samples = rows(comparison_build / "out", "comparison")
    assert len(samples) > 40
    for row in samples:
        meta, ecgs = json.loads(row["meta"]), row["ecgs"]
        human = row["conversations"][0]["value"]
        assert 2 <= len(ecgs) <= 3
        assert human.count("<ecg>") == len(ecgs)
        assert len({(e["source"], e["patient_id"]) for e in ecgs}) == 1 and ecgs[0]["patient_id"]
        context = meta["context"]
        times = [datetime.fromisoformat(e["acquired"]) for e in context["ecgs"]]
        assert times == sorted(times)
        assert [e["record_id"] for e in context["ecgs"]] == [e["record_id"] for e in ecgs]
        assert human.startswith("<ecg>\n" * len(ecgs)) and human.count("<ecg>") == len(ecgs)
        for i, e in enumerate(context["ecgs"]):
            assert f"\nECG {i + 1}: {e['date']}\n" in human
            assert e["days_since_first"] == (times[i].date() - times[0].date()).days


def test_records_without_patient_are_quarantined(comparison_build):
    quarantine = [json.loads(line) for line in (comparison_build / "out" / "quarantine.jsonl").read_text().splitlines()]
    chapman = [q for q in quarantine if q["source"] == "chapman"]
    assert len(chapman) == 2 and all("no patient id" in q["reason"] for q in chapman)


def findings_of(context, i):
    return context["ecgs"][i - 1]["findings"]


def test_answers_follow_labels_reports_and_measurements(comparison_build):
    kinds = set()
    for row in rows(comparison_build / "out", "comparison"):
        meta = json.loads(row["meta"])
        context, answer, kind = meta["context"], row["conversations"][1]["value"], meta["question_type"]
        kinds.add(kind)
        # MIMIC ECGs carry labels mapped from their machine statements; a group in which one has
        # none (only summary lines) compares reports instead
        expected_basis = "labels" if all(e.get("labels") for e in context["ecgs"]) else "report"
        if kind in ("new", "resolved"):
            i, j = meta["ecgs"]
            before, after = findings_of(context, i), findings_of(context, j)
            lower = lambda xs: [x.lower() for x in xs]  # noqa: E731
            want = ([f for f in after if f.lower() not in lower(before)] if kind == "new"
                    else [f for f in before if f.lower() not in lower(after)])
            assert meta["findings"] == want and meta["basis"] == expected_basis
            assert f"ECG {j} ({context['ecgs'][j - 1]['date']})" in answer
            assert all(f in answer for f in want)
            gap = context["ecgs"][j - 1]["days_since_first"] - context["ecgs"][i - 1]["days_since_first"]
            assert (f"{gap} day" in answer) if gap else ("same day" in answer)
        elif kind == "persistent":
            everywhere = [f for f in findings_of(context, 1)
                          if all(f.lower() in [g.lower() for g in e["findings"]] for e in context["ecgs"])]
            assert meta["findings"] == everywhere
        elif kind in ("rate_change", "interval_change"):
            i, j = meta["ecgs"]
            feature = FEATURES[meta["feature"]]
            values = [context["ecgs"][k - 1]["features"][meta["feature"]] for k in (i, j)]
            assert meta["values"] == values and None not in values
            assert all(feature.value_text(v, beside_name=True) in answer for v in values)
            assert answer.count("Bazett") <= 1               # named once, in the feature's name
        elif kind == "fastest":
            rates = [e["features"]["heart_rate_bpm"] for e in context["ecgs"]]
            assert answer.startswith(f"ECG {rates.index(max(rates)) + 1} (")
        elif kind == "first_appearance":
            (j,) = meta["ecgs"]
            appears = [k for k, e in enumerate(context["ecgs"], 1)
                       if meta["finding"].lower() in [f.lower() for f in e["findings"]]]
            assert appears[0] == j > 1
        else:
            assert kind == "timeline"
            assert all(e["date"] in answer for e in context["ecgs"])
    assert kinds == {"timeline", "new", "resolved", "persistent", "first_appearance", "rate_change",
                     "interval_change", "fastest"}


def test_unmeasured_ecg_is_never_quoted(comparison_build):
    seen = 0
    for config in ("comparison", "comparison_dialog"):
        for row in rows(comparison_build / "out", config):
            meta = json.loads(row["meta"])
            ids = [e["record_id"] for e in meta["context"]["ecgs"]]
            if "mimic:43309742" not in ids:
                continue
            seen += 1
            k = ids.index("mimic:43309742") + 1
            features = meta["context"]["ecgs"][k - 1]["features"]
            assert features["quality"] == "failed" and features["heart_rate_bpm"] is None
            facts = meta["turns"] if config == "comparison_dialog" else [meta]
            for fact in facts:
                if fact["question_type"] in ("rate_change", "interval_change", "fastest"):
                    assert k not in fact["ecgs"] and fact["question_type"] != "fastest"
            for turn in row["conversations"][1::2]:
                for quoted in re.findall(r"(\d+) (?:bpm|ms)\b[^;.]*?on ECG (\d+)", turn["value"]):
                    assert int(quoted[1]) != k
    assert seen >= 2


def test_multi_turn_dialog(comparison_build):
    samples = rows(comparison_build / "out", "comparison_dialog")
    assert samples
    for row in samples:
        turns, meta = row["conversations"], json.loads(row["meta"])
        assert [t["from"] for t in turns] == ["human", "gpt"] * (len(turns) // 2)
        assert 1 <= len(turns) // 2 <= 5 and len(meta["turns"]) == len(turns) // 2
        assert turns[0]["value"].count("<ecg>") == len(row["ecgs"])
        assert all("<ecg>" not in t["value"] for t in turns[1:])


def test_comparison_build_is_deterministic(comparison_build, tmp_path):
    build(load_manifest(comparison_build / "m.yaml", out_dir=str(tmp_path / "again")), workers=2, progress=False)
    first, again = comparison_build / "out" / "data", tmp_path / "again" / "data"
    files = sorted(p.relative_to(first) for p in first.rglob("*.parquet"))
    assert files and files == sorted(p.relative_to(again) for p in again.rglob("*.parquet"))
    assert all((first / f).read_bytes() == (again / f).read_bytes() for f in files)


def ref(patient: str, day: int, source="mimic") -> RecordRef:
    return RecordRef(f"{source}:{patient}-{day}", source, f"{patient}-{day}", "x", 500.0, 5000, ("II",),
                     patient_id=patient, acquired=f"2150-01-{day:02d} 10:00:00")


def test_patient_groups_sizes_order_and_determinism():
    refs = [ref("a", d) for d in (9, 1, 5, 3, 7, 2, 8)] + [ref("b", 4)] + [ref("c", d) for d in (1, 2)]
    groups = patient_groups(refs, 2, 3, seed=1)
    assert groups == patient_groups(list(reversed(refs)), 2, 3, seed=1)
    assert all(2 <= len(g) <= 3 and len({r.patient_id for r in g}) == 1 for g in groups)
    for g in groups:
        assert [r.acquired for r in g] == sorted(r.acquired for r in g)
    a = [r.native_id for g in groups if g[0].patient_id == "a" for r in g]
    assert a == sorted(a, key=lambda x: int(x.split("-")[1]))  # consecutive windows, nothing reordered
    assert sum(len(g) for g in groups if g[0].patient_id == "a") == 7
    assert [len(g) for g in groups if g[0].patient_id == "c"] == [2]
    assert not [g for g in groups if g[0].patient_id == "b"]  # one ECG: nothing to compare

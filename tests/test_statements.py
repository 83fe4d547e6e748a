"""MIMIC-IV-ECG machine statements → SNOMED CT: compounds, hedges, summaries, fragments.

The lines are assembled from public descriptions of the vocabulary: the genuine rows of
machine_measurements.csv quoted in the source-format notes (and in tests/data), and the examples
the issue tracker gives of compounds, hedges and lead-group statements."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ecgcorpus.statements import map_report, map_statement

REPO = Path(__file__).resolve().parents[1]

CASES = [
    ("Sinus rhythm", "diagnostic", [("426783006", 100.0)]),
    ("Sinus tachycardia", "diagnostic", [("427084000", 100.0)]),
    ("Possible right atrial abnormality", "diagnostic", [("253339007", 50.0)]),
    ("Borderline ECG", "summary", []),
    ("Normal ECG except for rate", "summary", []),
    ("Normal ECG", "summary", [("164854000", 100.0)]),
    ("Abnormal ECG", "summary", []),
    ("Atrial fibrillation with PVC(s) or aberrant ventricular conduction.", "diagnostic", [("164889003", 100.0)]),
    ("Left ventricular hypertrophy", "diagnostic", [("164873001", 100.0)]),
    ("Low QRS voltages in precordial leads", "diagnostic", [("251148003", 100.0)]),
    ("Sinus rhythm with PVC(s) with borderline 1st degree A-V block", "diagnostic",
     [("426783006", 100.0), ("427172004", 100.0), ("270492004", 60.0)]),
    ("Inferior/lateral ST-T changes are nonspecific", "diagnostic", [("428750005", 100.0)]),
    ("Inferior/lateral ST-T changes are probably due to ventricular hypertrophy", "unknown", []),
    ("Inferior infarct - age undetermined", "diagnostic", [("164865005", 100.0)]),
    ("Cannot rule out Anterior infarct - age undetermined", "diagnostic", [("54329005", 30.0)]),
    ("Consider left ventricular hypertrophy", "diagnostic", [("164873001", 50.0)]),
    ("probable left atrial enlargement.", "diagnostic", [("67741000119109", 80.0)]),
    ("SINUS BRADYCARDIA WITH 1ST DEGREE A-V BLOCK", "diagnostic", [("426177001", 100.0), ("270492004", 100.0)]),
    ("age undetermined", "modifier", []),
    ("diffuse leads", "modifier", []),
    ("Warning: data quality may affect interpretation", "unknown", []),
]


@pytest.mark.parametrize("text, kind, labels", CASES, ids=[c[0][:40] for c in CASES])
def test_statements_map_to_snomed(text, kind, labels):
    mapped = map_statement(text)
    assert mapped.kind == kind
    assert [(lab.snomed, lab.likelihood) for lab in mapped.labels] == labels


def test_labels_map_cli_prints_one_json_object_per_line():
    text = "\n".join(c[0] for c in CASES) + "\n"
    result = subprocess.run([sys.executable, "-m", "ecgcorpus.cli", "labels", "map", "mimic"], input=text,
                            capture_output=True, text=True, cwd=REPO, timeout=60)
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["text"] for o in out] == [c[0] for c in CASES]
    assert {o["kind"] for o in out} == {"diagnostic", "summary", "modifier", "unknown"}
    assert out[10]["labels"][2] == {"snomed": "270492004", "name": "1st degree av block", "likelihood": 60.0}
    other = subprocess.run([sys.executable, "-m", "ecgcorpus.cli", "labels", "map", "ptbxl"], input="x\n",
                           capture_output=True, text=True, cwd=REPO, timeout=60)
    assert other.returncode == 1 and "no statement mapper" in other.stderr


def test_mimic_records_carry_harmonized_labels(data_dir, fixture_tree):
    """The genuine row (Sinus rhythm / Possible right atrial abnormality / Borderline ECG) and the
    fixture tree: MIMIC refs have labels, and label QA builds on them."""
    from ecgcorpus.engine.build import build
    from ecgcorpus.manifest import load_manifest

    genuine = map_report(["Sinus rhythm", "Possible right atrial abnormality", "Borderline ECG"])
    assert [(lab.snomed, lab.likelihood) for lab in genuine] == [("426783006", 100.0), ("253339007", 50.0)]
    from ecgcorpus.sources import open_source

    refs = list(open_source("mimic", fixture_tree / "mimic-iv-ecg").scan())
    assert sum(bool(ref.labels) for ref in refs) >= len(refs) // 2
    import tempfile

    tmp = Path(tempfile.mkdtemp())
    (tmp / "m.yaml").write_text(f'name: q\nsources: [{{name: mimic, root: "{fixture_tree}/mimic-iv-ecg"}}]\n'
                                f'profile: {{duration_s: 10}}\nbuilders: [{{type: label_qa}}]\noutput: {{dir: "{tmp}/out"}}\n')
    summary = build(load_manifest(tmp / "m.yaml"), workers=1, progress=False)
    assert sum(summary.samples.values()) > 0

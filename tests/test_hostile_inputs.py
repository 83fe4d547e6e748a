"""Damaged inputs, planted in copies of genuine or fixture files: each becomes a quarantine reason
that names the file and the problem, never a silent sample and never a traceback."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ecgcorpus.errors import SourceError
from ecgcorpus.sources import open_source
from ecgcorpus.sources.annotated import read_annotations
from ecgcorpus.sources.wfdb_io import read_record

REPO = Path(__file__).resolve().parents[1]


def copy_record(src: Path, dst_dir: Path, suffixes=(".hea", ".dat")) -> Path:
    dst_dir.mkdir(parents=True, exist_ok=True)
    for suffix in suffixes:
        shutil.copy(f"{src}{suffix}", dst_dir / f"{src.name}{suffix}")
    return dst_dir / src.name


# --- WFDB checksums ----------------------------------------------------------------------------------------

def test_genuine_checksums_pass(data_dir):
    for record in ("ptbxl/records500/00000/00003_hr", "ptbxl/records100/00000/00001_lr",
                   "chapman/WFDBRecords/01/010/JS00001", "mitdb/100"):
        read_record(data_dir / record)           # PTB-XL writes them unsigned, the others signed


def test_a_flipped_bit_in_the_data_is_a_checksum_mismatch(data_dir, tmp_path):
    record = copy_record(data_dir / "ptbxl/records500/00000/00003_hr", tmp_path)
    data = bytearray(Path(f"{record}.dat").read_bytes())
    data[2 * 12 * 1000 + 2 * 3 + 1] ^= 0x40          # sample 1000 of lead aVR (the 4th): ±16384 ADC units
    Path(f"{record}.dat").write_bytes(bytes(data))
    with pytest.raises(SourceError) as err:
        read_record(record)
    assert re.fullmatch(r"checksum mismatch on lead aVR \(header says \d+, data give \d+\)", err.value.problem)
    assert err.value.file.endswith("00003_hr.dat")


def test_a_wrong_header_checksum_is_a_checksum_mismatch(data_dir, tmp_path):
    record = copy_record(data_dir / "chapman/WFDBRecords/01/010/JS00001", tmp_path, (".hea", ".mat"))
    text = Path(f"{record}.hea").read_text().replace(" 21756 ", " 21757 ", 1)
    Path(f"{record}.hea").write_text(text)
    with pytest.raises(SourceError, match=r"checksum mismatch on lead I \(header says 21757, data give 21756\)"):
        read_record(record)


# --- lead names ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("new, reason", [("I", "duplicate lead name I"), ("ECG9", "unknown lead name(s) 'ECG9'")])
def test_renamed_leads_are_quarantined(fixture_tree, tmp_path, new, reason):
    root = tmp_path / "mimic"
    shutil.copytree(fixture_tree / "mimic-iv-ecg", root)
    src = open_source("mimic", root)
    ref = next(iter(src.scan()))
    header = Path(f"{ref.path}.hea")
    header.write_text(header.read_text().replace(" aVR", f" {new}", 1))
    with pytest.raises(SourceError) as err:
        src.load(ref)
    assert reason in err.value.problem and err.value.file.endswith(".hea")


# --- annotations ----------------------------------------------------------------------------------------------

def annotated_copy(data_dir, tmp_path) -> Path:
    return copy_record(data_dir / "mitdb/100", tmp_path / "db", (".hea", ".dat", ".atr"))


@pytest.mark.parametrize("damage, reason", [
    (lambda b: b"", "annotation file is empty"),
    (lambda b: b[:-11], "annotation file truncated"),
    (lambda b: b[:-2], "annotation file truncated"),
])
def test_empty_or_truncated_annotations_are_quarantined_at_scan(data_dir, tmp_path, damage, reason):
    record = annotated_copy(data_dir, tmp_path)
    atr = Path(f"{record}.atr")
    atr.write_bytes(damage(atr.read_bytes()))
    src = open_source("wfdb-annotated", tmp_path / "db")
    assert list(src.scan()) == []
    (error,) = src.errors
    assert reason in error.problem and error.file.endswith("100.atr") and error.record_id == "wfdb-annotated:100"


def test_annotations_past_the_signal_end_are_rejected(data_dir, tmp_path):
    import wfdb

    record = annotated_copy(data_dir, tmp_path)
    ann = wfdb.rdann(str(record), "atr")
    samples = np.append(ann.sample, 650_010)                 # the record has 650,000 samples
    wfdb.wrann("100", "atr", samples, np.append(ann.symbol, "N"), write_dir=str(record.parent), fs=ann.fs)
    with pytest.raises(SourceError, match=r"annotation at sample 650010 lies past the signal's end \(650000 samples\)"):
        read_annotations(str(record))


# --- encodings --------------------------------------------------------------------------------------------

def ptbxl_latin1(data_dir, tmp_path) -> Path:
    root = tmp_path / "ptbxl"
    shutil.copytree(data_dir / "ptbxl", root)
    table = root / "ptbxl_database.csv"
    table.write_bytes(table.read_text(encoding="utf-8").encode("latin-1"))   # a spreadsheet round trip
    return root


def test_a_latin1_table_without_declared_encoding_quarantines_its_rows(data_dir, tmp_path):
    root = ptbxl_latin1(data_dir, tmp_path)
    src = open_source("ptbxl", root)
    refs = list(src.scan())
    bad = [e for e in src.errors if "undecodable row" in e.problem]
    text = (root / "ptbxl_database.csv").read_bytes().splitlines()
    expected = [i for i, line in enumerate(text, start=1) if any(b > 127 for b in line)]
    assert [int(e.file.rsplit(":", 1)[1]) for e in bad] == expected and expected
    assert len(refs) + len(expected) == len(text) - 1                       # every other row is read
    assert "ptbxl:7" not in {r.record_id for r in refs} and src.table_encodings == {}


def test_a_declared_fallback_reads_every_row_and_is_recorded(data_dir, tmp_path):
    import yaml

    from ecgcorpus.engine.scan import scan_sources
    from ecgcorpus.manifest import load_manifest

    root = ptbxl_latin1(data_dir, tmp_path)
    src = open_source("ptbxl", root, encoding="cp1252")
    refs = {r.record_id: r for r in src.scan()}
    assert not [e for e in src.errors if "undecodable" in e.problem] and len(refs) == 500
    assert "verlÄngerung" in refs["ptbxl:7"].report and src.table_encodings == {"ptbxl_database.csv": "cp1252"}
    doc = {"name": "enc", "sources": [{"name": "ptbxl", "root": str(root), "options": {"encoding": "cp1252"}}],
           "builders": [{"type": "report"}]}
    (tmp_path / "m.yaml").write_text(yaml.safe_dump(doc))
    _, _, inputs = scan_sources(load_manifest(tmp_path / "m.yaml"))
    assert inputs["ptbxl"]["table_encodings"] == {"ptbxl_database.csv": "cp1252"}


def test_a_stray_byte_in_cpsc_and_sph_tables_is_one_quarantined_row(data_dir, tmp_path):
    cpsc = tmp_path / "cpsc"
    shutil.copytree(data_dir / "cpsc2018", cpsc)
    reference = cpsc / "REFERENCE.csv"
    lines = reference.read_bytes().split(b"\r\n")
    row = next(i for i, line in enumerate(lines) if line.startswith(b"A1981,"))
    lines[row] = lines[row].replace(b"A1981,", b"A1981\xff,")
    reference.write_bytes(b"\r\n".join(lines))
    src = open_source("cpsc2018", cpsc)
    ids = {r.native_id for r in src.scan()}
    (bad,) = [e for e in src.errors if "undecodable" in e.problem]
    assert bad.file == f"{reference}:{row + 1}" and "A1981" not in ids and "A1980" in ids

    sph = tmp_path / "sph"
    shutil.copytree(data_dir / "sph", sph)
    meta = sph / "metadata.csv"
    meta.write_bytes(meta.read_bytes().replace(b"A00002,1,S00002", b"A00002,1,S\xe900002", 1))
    src = open_source("sph", sph)
    ids = {r.native_id for r in src.scan()}
    assert [e.file.rsplit(":", 1)[1] for e in src.errors if "undecodable" in e.problem] == ["3"]
    assert "A00002" not in ids and "A00001" in ids


def test_sources_scan_on_a_latin1_table_prints_no_traceback(data_dir, tmp_path):
    root = ptbxl_latin1(data_dir, tmp_path)
    result = subprocess.run([sys.executable, "-m", "ecgcorpus.cli", "sources", "scan", "ptbxl", str(root), "--json"],
                            capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0 and "Traceback" not in result.stderr and "undecodable row" in result.stderr


# --- manifest and path errors ------------------------------------------------------------------------------

INTERNALS = ("Traceback", "pydantic", "errors.pydantic.dev", "input_value", "input_type", "ValidationError",
             "For further information")


def key_paths(node, prefix=()):
    """Every (path, value) of a YAML document's mappings and lists."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield prefix + (key,), value
            yield from key_paths(value, prefix + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from key_paths(value, prefix + (i,))


def edited(doc, path, fn):
    import copy

    doc = copy.deepcopy(doc)
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    fn(parent, path[-1])
    return doc


def wrong_type(value):
    if isinstance(value, bool):
        return "sometimes"
    if isinstance(value, (int, float)):
        return "not-a-number"
    if isinstance(value, str):
        return [1, 2]
    if isinstance(value, list):
        return {"a": 1}
    return 7


def rename(parent, key):
    parent[f"{key}x"] = parent.pop(key)


@pytest.mark.parametrize("manifest", sorted((REPO / "manifests").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_key_with_a_typo_or_a_wrong_type_gets_one_clean_line(manifest, tmp_path, monkeypatch):
    """Walk every key of a shipped manifest (builder params included): a typo in its name, or a
    value of the wrong type, is refused with `file:line: key: problem` (or, where the key is free-form,
    accepted); never a traceback, never pydantic's internals."""
    import yaml

    from ecgcorpus.manifest import ManifestError, load_manifest

    monkeypatch.setenv("ECGCORPUS_FIXTURES", str(tmp_path))
    doc = yaml.safe_load(manifest.read_text())
    refused = tried = 0
    for path, value in key_paths(doc):
        if isinstance(path[-1], int):
            continue
        for label, fn in (("typo", rename), ("type", lambda parent, key: parent.__setitem__(key, wrong_type(value)))):
            target = tmp_path / "m.yaml"
            target.write_text(yaml.safe_dump(edited(doc, path, fn), sort_keys=False))
            tried += 1
            try:
                load_manifest(target)
            except ManifestError as exc:
                refused += 1
                message = str(exc)
                assert "\n" not in message and re.match(rf"{re.escape(str(target))}:\d+: ", message), (label, path, message)
                assert not any(word in message for word in INTERNALS), (label, path, message)
            except Exception as exc:   # noqa: BLE001 - anything else is the defect this test looks for
                pytest.fail(f"{label} at {'.'.join(map(str, path))}: {type(exc).__name__}: {exc}")
    assert tried > 20 and refused / tried > 0.7, (refused, tried)


def test_an_output_folder_under_a_file_is_one_line(fixture_tree, tmp_path):
    (tmp_path / "afile").write_text("x")
    doc = f'name: x\nsources: [{{name: sph, root: "{fixture_tree}/sph"}}]\nbuilders: [{{type: report}}]\n'
    (tmp_path / "m.yaml").write_text(doc)
    result = subprocess.run([sys.executable, "-m", "ecgcorpus.cli", "build", str(tmp_path / "m.yaml"),
                             "--out", str(tmp_path / "afile" / "out"), "-j", "1"],
                            capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "lies under the file" in result.stderr and len(result.stderr.strip().splitlines()) == 1


# --- the same ECG never twice ---------------------------------------------------------------------------------

TWO_ALIASES = """\
name: twice
seed: 3
{dedupe}
sources:
  - {{name: ptbxl, root: "{root}", alias: ptbxl_a, limit: 6}}
  - {{name: ptbxl, root: "{root}", alias: ptbxl_b, limit: 6}}
profile: {{duration_s: 10}}
splits: {{ratios: {{train: 0.5, validation: 0.25, test: 0.25}}}}
builders: [{{type: report}}]
output: {{dir: "{out}", max_quarantine_rate: 1}}
"""


def existing_ptbxl(data_dir, tmp_path) -> Path:
    """A PTB-XL tree whose table lists only the records present (the test copy ships 12 of 500)."""
    import csv

    root = tmp_path / "ptbxl"
    shutil.copytree(data_dir / "ptbxl", root)
    with open(root / "ptbxl_database.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    present = [r for r in rows if (root / f"{r['filename_hr']}.hea").exists()]
    with open(root / "ptbxl_database.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(present)
    return root


def test_one_root_under_two_aliases_is_deduplicated_by_default(data_dir, tmp_path):
    import json

    from ecgcorpus.engine.build import build
    from ecgcorpus.manifest import load_manifest

    root = existing_ptbxl(data_dir, tmp_path)
    (tmp_path / "m.yaml").write_text(TWO_ALIASES.format(dedupe="", root=root, out=tmp_path / "out"))
    summary = build(load_manifest(tmp_path / "m.yaml"), workers=1, progress=False)
    assert sum(summary.samples.values()) == 6
    entries = [json.loads(line) for line in (tmp_path / "out" / "quarantine.jsonl").read_text().splitlines()]
    copies = [e for e in entries if e["reason"].startswith("duplicate of ")]
    assert len(copies) == 6 and all(e["source"] == "ptbxl_b" and e["stage"] == "scan" for e in copies)
    assert all(e["reason"] == f"duplicate of {e['record_id']} in ptbxl_a (the same signal)" for e in copies)


def test_kept_duplicates_fail_audit_strict_by_name_and_error_policy_stops(data_dir, tmp_path):
    from ecgcorpus.engine.build import build
    from ecgcorpus.engine.dedupe import DuplicateError
    from ecgcorpus.manifest import load_manifest

    root = existing_ptbxl(data_dir, tmp_path)
    (tmp_path / "keep.yaml").write_text(TWO_ALIASES.format(dedupe="dedupe: keep", root=root, out=tmp_path / "out"))
    build(load_manifest(tmp_path / "keep.yaml"), workers=1, progress=False)
    audit = subprocess.run([sys.executable, "-m", "ecgcorpus.cli", "audit", str(tmp_path / "out"), "--strict", "--json"],
                           capture_output=True, text=True, cwd=REPO, timeout=120)
    assert audit.returncode == 1
    import json

    findings = {f["code"]: f for f in json.loads(audit.stdout)["findings"]}
    dup = findings["duplicate"]           # the aliases give the same record ids: the same sample twice
    assert dup["level"] == "error" and dup["count"] == 6 and dup["examples"][0]["records"][0].startswith("ptbxl:")

    (tmp_path / "error.yaml").write_text(TWO_ALIASES.format(dedupe="dedupe: error", root=root, out=tmp_path / "o2"))
    with pytest.raises(DuplicateError, match=r"the same ECG enters the corpus twice: ptbxl:\d+ = ptbxl:\d+"):
        build(load_manifest(tmp_path / "error.yaml"), workers=1, progress=False)


def test_cinc_copies_of_other_databases_are_not_cpsc_records(data_dir, tmp_path):
    from test_sources_chapman import add_record

    for name in ("A0001", "HR00003", "JS00001", "E00001", "Q0007"):
        add_record(data_dir, tmp_path / "flat", name, dx="426783006")
    src = open_source("cpsc2018-cinc", tmp_path / "flat")
    assert [r.native_id for r in src.scan()] == ["A0001", "Q0007"]
    reasons = {e.record_id: e.problem for e in src.errors}
    assert set(reasons) == {"cpsc2018-cinc:HR00003", "cpsc2018-cinc:JS00001", "cpsc2018-cinc:E00001"}
    assert "copy of PTB-XL" in reasons["cpsc2018-cinc:HR00003"] and "Georgia" in reasons["cpsc2018-cinc:E00001"]


@pytest.mark.parametrize("dedupe", ["first", "keep"])    # by the fingerprints; by the files' content
def test_a_same_size_edit_to_a_signal_file_changes_the_plan(data_dir, tmp_path, dedupe):
    from ecgcorpus.engine.plan import make_plan
    from ecgcorpus.manifest import load_manifest

    root = existing_ptbxl(data_dir, tmp_path)
    doc = (f'name: edit\ndedupe: {dedupe}\nsources: [{{name: ptbxl, root: "{root}"}}]\n'
           'builders: [{type: report}]\n')
    (tmp_path / "m.yaml").write_text(doc)
    before = make_plan(load_manifest(tmp_path / "m.yaml")).digest
    dat = next(root.rglob("*_hr.dat"))
    header = Path(str(dat)[:-4] + ".hea")
    data = bytearray(dat.read_bytes())
    data[100], data[102] = data[102], data[100]           # two samples of lead I swapped: checksum unchanged
    dat.write_bytes(bytes(data))
    assert len(data) == dat.stat().st_size and header.exists()
    assert make_plan(load_manifest(tmp_path / "m.yaml")).digest != before


# --- sources verify --------------------------------------------------------------------------------------------

def test_sources_verify_checks_the_release_lists(data_dir, tmp_path):
    import json

    root = tmp_path / "ptbxl"
    shutil.copytree(data_dir / "ptbxl", root)
    dat = root / "records100/00000/00003_lr.dat"
    data = bytearray(dat.read_bytes())
    data[500] ^= 0x01
    dat.write_bytes(bytes(data))
    result = subprocess.run([sys.executable, "-m", "ecgcorpus.cli", "sources", "verify", str(root), "--json"],
                            capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    report = json.loads(result.stdout)
    problems = {Path(p["file"]).relative_to(root).as_posix(): p["problem"] for p in report["problems"]}
    mismatched = sorted(f for f, p in problems.items() if p.startswith("checksum mismatch"))
    # the flipped file, and the table (the test copy is a 500-row prefix of the listed one); every
    # genuine waveform present matches its release line
    assert mismatched == ["ptbxl_database.csv", "records100/00000/00003_lr.dat"]
    assert re.fullmatch(r"checksum mismatch \(SHA256SUMS.txt says [0-9a-f]{16}…, data give [0-9a-f]{16}…\)",
                        problems["records100/00000/00003_lr.dat"])
    assert problems["records100/00000/00011_lr.dat"] == "missing (listed in SHA256SUMS.txt)"
    # RECORDS' glued line is two records: the first is missing here, the second is present
    assert "records100/21000/21837_lr.hea" in problems and "records500/00000/00001_hr.hea" not in problems
    assert report["files_checked"] == 403


def test_a_mimic_row_without_its_file_names_the_missing_file(fixture_tree, tmp_path):
    from ecgcorpus.engine.scan import scan_sources
    from ecgcorpus.manifest import load_manifest

    root = tmp_path / "mimic"
    shutil.copytree(fixture_tree / "mimic-iv-ecg", root)
    ref = next(iter(open_source("mimic", root).scan()))
    Path(f"{ref.path}.hea").unlink()
    (tmp_path / "m.yaml").write_text(f'name: m\nsources: [{{name: mimic, root: "{root}"}}]\nbuilders: [{{type: report}}]\n')
    _, quarantine, _ = scan_sources(load_manifest(tmp_path / "m.yaml"))
    (entry,) = [q for q in quarantine if q["record_id"] == ref.record_id]
    assert entry["reason"] == "header file not found" and entry["file"].endswith(".hea")
    assert entry["stage"] == "scan" and "config" in entry and entry["config"] is None


def test_a_same_size_label_edit_in_a_header_changes_the_plan(data_dir, tmp_path):
    from ecgcorpus.engine.plan import make_plan
    from ecgcorpus.manifest import load_manifest
    from test_sources_chapman import add_record

    add_record(data_dir, tmp_path / "cinc", "A0001", dx="426783006")
    (tmp_path / "m.yaml").write_text(f'name: h\nsources: [{{name: cpsc2018-cinc, root: "{tmp_path / "cinc"}"}}]\n'
                                     'builders: [{type: report}]\n')
    before = make_plan(load_manifest(tmp_path / "m.yaml")).digest
    header = tmp_path / "cinc" / "A0001.hea"
    header.write_text(header.read_text().replace("426783006", "426783007"))
    assert make_plan(load_manifest(tmp_path / "m.yaml")).digest != before

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

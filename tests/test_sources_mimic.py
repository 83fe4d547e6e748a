"""MIMIC-IV-ECG: genuine CSV excerpts, joined on study_id; waveforms written in the release layout."""

import csv
import shutil

import numpy as np
import pytest
import wfdb

from ecgcorpus.errors import SourceError
from ecgcorpus.sources import open_source

MIMIC_ORDER = ["I", "II", "III", "aVR", "aVF", "aVL", "V1", "V2", "V3", "V4", "V5", "V6"]


def write_mimic_record(root, subject: str, study: str, digital: np.ndarray):
    folder = root / "files" / f"p{subject[:4]}" / f"p{subject}" / f"s{study}"
    folder.mkdir(parents=True)
    wfdb.wrsamp(study, fs=500, units=["mV"] * 12, sig_name=MIMIC_ORDER, d_signal=digital, fmt=["16"] * 12,
                adc_gain=[200.0] * 12, baseline=[0] * 12, write_dir=str(folder),
                comments=[f"<subject_id>: {subject}"])
    return folder / study


@pytest.fixture()
def mimic_root(data_dir, tmp_path):
    root = tmp_path / "mimic"
    shutil.copytree(data_dir / "mimic-iv-ecg", root)
    rng = np.random.default_rng(0)
    digital = rng.integers(-400, 400, size=(5000, 12)).astype(np.int16)
    digital[1000:1100, 4] = -32768  # a NaN run in aVF, as ~1.5% of real records have
    write_mimic_record(root, "10000032", "40689238", digital)
    return root, digital


def test_scan_joins_on_study_id(mimic_root):
    root, _ = mimic_root
    # Add a second study whose measurements row comes FIRST: row order must not matter.
    with open(root / "record_list.csv", "a") as f:
        f.write("10000032,49036311,49036311,2180-08-06 09:07:00,files/p1000/p10000032/s49036311/49036311\n")
    mm = (root / "machine_measurements.csv").read_text().splitlines()
    extra = ("10000032,49036311,6376932,2180-08-06 09:07:00,Sinus tachycardia,,Normal ECG except for rate"
             + "," * 15 + ",0.005-150 Hz,60 Hz notch Baseline filter,600,40,130,162,244,474,79,72,29999")
    (root / "machine_measurements.csv").write_text("\n".join([mm[0], extra] + mm[1:]) + "\n")
    refs = {r.record_id: r for r in open_source("mimic", root).scan()}
    first, second = refs["mimic:40689238"], refs["mimic:49036311"]
    assert first.report == "Sinus rhythm\nPossible right atrial abnormality\nBorderline ECG"
    assert second.report_lines == ("Sinus tachycardia", "Normal ECG except for rate")
    assert second.extra["measurements"]["t_axis"] is None and second.extra["measurements"]["rr_interval"] == 600
    assert first.patient_id == second.patient_id == "10000032"
    assert first.acquired == "2180-07-23 08:44:00"


def test_load_by_lead_name_with_nan_run(mimic_root):
    root, digital = mimic_root
    src = open_source("mimic", root)
    ecg = src.load(src.get("40689238"))
    assert ecg.leads == ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
    # aVL is the 6th column on disk, aVF the 5th: the ECG must hold them by name.
    assert np.array_equal(ecg.digital[4], digital[:, 5]) and np.array_equal(ecg.digital[5], digital[:, 4])
    assert ecg.nan_runs() == [("aVF", 1000, 1100)]
    raw = wfdb.rdrecord(str(root / "files/p1000/p10000032/s40689238/40689238"))
    assert np.array_equal(ecg.signal[5], raw.p_signal[:, 4], equal_nan=True)
    assert ecg.gain[0] == 200.0


def test_missing_waveform_and_bad_rows(mimic_root):
    root, _ = mimic_root
    with open(root / "record_list.csv", "a") as f:
        f.write("10000032,4xx,4xx,2180-08-06 09:07:00,files/x\n")
        f.write("10000099,41111111,41111111,2180-08-06 09:07:00,files/p1000/p10000099/s41111111/41111111\n")
    src = open_source("mimic", root)
    refs = {r.record_id: r for r in src.scan()}
    assert len(src.errors) == 1 and "record_list.csv:3" in str(src.errors[0])
    ref = refs["mimic:41111111"]
    assert ref.report is None and ref.extra["has_machine_measurements"] is False
    with pytest.raises(SourceError, match="41111111.hea: header file not found"):
        src.load(ref)


def test_missing_record_list(tmp_path):
    with pytest.raises(SourceError, match="record_list.csv: MIMIC-IV-ECG record list not found"):
        list(open_source("mimic", tmp_path).scan())


def test_genuine_data_dictionary_header(data_dir):
    with open(data_dir / "mimic-iv-ecg/machine_measurements_data_dictionary.csv", newline="") as f:
        header = next(csv.reader(f))
    assert header[1] == "Description\xa0"  # the trailing non-breaking space of the real file


def test_a_limit_reads_only_the_studies_it_keeps(fixture_tree):
    """`limit` cuts reading: the first studies of record_list.csv, and machine_measurements rows of
    those studies only (streamed in blocks); the tables are checked, not held in memory."""
    from ecgcorpus.sources.tables import read_table_text

    root = fixture_tree / "mimic-iv-ecg"
    full = {r.native_id: r for r in open_source("mimic", root).scan()}
    src = open_source("mimic", root)
    src.limit = 3
    refs = list(src.scan())
    assert [r.native_id for r in refs] == list(full)[:3]
    for ref in refs:
        assert dict(ref.extra["measurements"]) == dict(full[ref.native_id].extra["measurements"])
        assert ref.labels == full[ref.native_id].labels
    only = np.array([int(refs[0].native_id)])
    assert src._measurements(only).study.tolist() == [int(refs[0].native_id)]
    import pickle

    shipped = pickle.loads(pickle.dumps(refs[0]))              # to a worker: a plain dict, not the columns
    assert type(shipped.extra["measurements"]) is dict and shipped.extra["measurements"] == dict(
        refs[0].extra["measurements"])
    table = read_table_text(str(root / "machine_measurements.csv"))
    assert table.text is None                                    # a UTF-8 release table is read from disk
    with table.stream as a, table.stream as b:                   # each use gets its own stream
        assert a.readline() == b.readline()

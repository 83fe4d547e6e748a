"""The fixture writer: release formats byte-for-byte where the genuine files show them, deterministic."""

import re

import h5py
import numpy as np
import pandas as pd
import scipy.io
import wfdb

from ecgcorpus.fixtures import write_fixtures
from ecgcorpus.fixtures.wfdb_write import checksum


def _shape(line: str) -> str:
    """A header line with numbers masked: the layout to compare with the genuine file."""
    return re.sub(r"-?\d+", "#", line)


def test_ptbxl_headers_match_genuine_layout(fixture_tree, data_dir):
    genuine = (data_dir / "ptbxl/records100/00000/00001_lr.hea").read_text().splitlines()
    ours_path = sorted((fixture_tree / "ptbxl/records100").rglob("*.hea"))[0]
    ours = ours_path.read_text().splitlines()
    assert [_shape(l) for l in ours] == [_shape(l) for l in genuine]
    rec = wfdb.rdrecord(str(ours_path)[:-4], physical=False)
    for i, line in enumerate(ours[1:]):
        fields = line.split()
        assert int(fields[5]) == rec.d_signal[0, i] and int(fields[6]) == checksum(rec.d_signal[:, i], signed=False)
    db = pd.read_csv(fixture_tree / "ptbxl/ptbxl_database.csv")
    genuine_cols = pd.read_csv(data_dir / "ptbxl/ptbxl_database.csv", nrows=1).columns
    assert list(db.columns) == list(genuine_cols)
    assert (db["age"] == 300.0).any() and (db["report"] == " ").any()
    assert db["patient_id"].duplicated().any() and (np.diff(db["ecg_id"]) > 1).any()
    records = (fixture_tree / "ptbxl/RECORDS").read_bytes()
    assert b"\r\n" in records and re.search(rb"_lrrecords500/", records)


def test_two_rates_are_independent(fixture_tree):
    hea = sorted((fixture_tree / "ptbxl/records500").rglob("*.hea"))[0]
    hr = wfdb.rdrecord(str(hea)[:-4]).p_signal
    lr = wfdb.rdrecord(str(hea)[:-4].replace("records500", "records100").replace("_hr", "_lr")).p_signal
    assert hr.shape == (5000, 12) and lr.shape == (1000, 12)
    assert not np.array_equal(hr[::5], lr) and np.corrcoef(hr[::5, 1], lr[:, 1])[0, 1] > 0.95


def test_mimic_layout_and_quirks(fixture_tree):
    root = fixture_tree / "mimic-iv-ecg"
    listing = pd.read_csv(root / "record_list.csv")
    mm = pd.read_csv(root / "machine_measurements.csv")
    assert len(mm.columns) == 33 and list(mm["study_id"]) != list(listing["study_id"])
    assert set(mm["study_id"]) == set(listing["study_id"]) and (mm == 29999).any().any()
    assert listing.groupby("subject_id").size().min() >= 2
    path = listing["path"][0]
    assert re.fullmatch(r"files/p\d{4}/p\d{8}/s\d{8}/\d{8}", path) and path[7:11] == str(listing["subject_id"][0])[:4]
    hea = (root / (path + ".hea")).read_text().splitlines()
    assert re.fullmatch(r"\d{8} 12 500 5000 \d\d:\d\d:00 \d\d/\d\d/\d{4}", hea[0])
    assert [l.split()[-1] for l in hea[1:13]][3:6] == ["aVR", "aVF", "aVL"] and "200.0(0)/mV" in hea[1]
    assert hea[13] == f"# <subject_id>: {listing['subject_id'][0]}"
    nan_runs = [np.isnan(wfdb.rdrecord(str(root / p)).p_signal).any() for p in listing["path"]]
    assert any(nan_runs)


def test_chapman_crlf_mat_v4(fixture_tree, data_dir):
    ours = sorted((fixture_tree / "chapman/WFDBRecords").rglob("*.hea"))
    genuine = (data_dir / "chapman/WFDBRecords/01/010/JS00001.hea").read_bytes()
    first = ours[0].read_bytes()
    assert ours[0].parent.relative_to(fixture_tree / "chapman").as_posix() == "WFDBRecords/01/010"
    assert first.count(b"\r\n") == genuine.count(b"\r\n")
    assert [_shape(l.decode()) for l in first.split(b"\r\n")[1:13]] == [_shape(l.decode()) for l in genuine.split(b"\r\n")[1:13]]
    val = scipy.io.loadmat(str(ours[0])[:-4] + ".mat")["val"]
    rec = wfdb.rdrecord(str(ours[0])[:-4], physical=False)
    assert val.dtype == np.int16 and np.array_equal(val, rec.d_signal.T)
    dx = [h.read_text().split("#Dx: ")[1].split()[0] for h in ours]
    assert any(",," in d for d in dx) and any("999999999" in d for d in dx)


def test_sph_cpsc_figshare(fixture_tree):
    meta = pd.read_csv(fixture_tree / "sph/metadata.csv", dtype=str)
    assert list(meta.columns) == ["ECG_ID", "AHA_Code", "Patient_ID", "Age", "Sex", "N", "Date"]
    assert (meta["AHA_Code"] == "1;1").any() and meta["AHA_Code"].str.contains(r"\+").any()
    assert meta["N"].astype(int).max() >= 28000 and (meta["N"].astype(int) % 500 == 0).all()
    with h5py.File(fixture_tree / "sph/records/A00001.h5") as f:
        assert f["ecg"].dtype == np.float16 and f["ecg"].shape == (12, int(meta["N"][0]))
    ref = (fixture_tree / "cpsc2018/REFERENCE.csv").read_bytes().decode()
    assert ref.startswith("Recording,First_label,Second_label,Third_label\r\n")
    ids = [line.split(",")[0] for line in ref.splitlines()[1:]]
    assert ids != sorted(ids) and any(line.count(",") == 3 and not line.endswith(",") for line in ref.splitlines())
    mat = scipy.io.loadmat(fixture_tree / "cpsc2018/TrainingSet1/A0002.mat")["ECG"][0, 0]
    assert mat["data"].shape[0] == 12 and mat["data"].shape[1] % 500 != 0 and mat["age"].dtype == np.uint8
    diag = pd.read_excel(fixture_tree / "chapman-figshare/Diagnostics.xlsx")
    assert list(diag.columns[:5]) == ["FileName", "Rhythm", "Beat", "PatientAge", "Gender"]
    csv = pd.read_csv(fixture_tree / "chapman-figshare/ECGData" / (diag["FileName"][0] + ".csv"))
    assert list(csv.columns) == ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
    assert len(csv) == 5000 and csv.abs().max().max() > 100   # µV


def test_mitdb_annotations_sit_on_r_peaks(fixture_tree):
    rec_path = str(fixture_tree / "mitdb/100")
    rec = wfdb.rdrecord(rec_path)
    ann = wfdb.rdann(rec_path, "atr")
    assert rec.fs == 360 and rec.sig_name[0] == "MLII" and ann.aux_note[0].startswith("(N")
    beats = [(s, sym) for s, sym in zip(ann.sample, ann.symbol) if sym in "NVA"]
    assert {"N", "V"} <= {sym for _, sym in beats}
    ml2 = np.abs(rec.p_signal[:, 0] - np.median(rec.p_signal[:, 0]))
    off = [abs(int(np.argmax(ml2[s - 20:s + 21])) - 20) for s, _ in beats if 20 < s < len(ml2) - 21]
    assert np.median(off) <= 3


def test_deterministic_and_seed_dependent(tmp_path):
    a = write_fixtures(tmp_path / "a", records=3, seed=1)
    b = write_fixtures(tmp_path / "b", records=3, seed=1)
    c = write_fixtures(tmp_path / "c", records=3, seed=2)
    for name in a:
        files_a = sorted(p.relative_to(a[name]) for p in a[name].rglob("*") if p.is_file())
        assert files_a == sorted(p.relative_to(b[name]) for p in b[name].rglob("*") if p.is_file())
        assert all((a[name] / f).read_bytes() == (b[name] / f).read_bytes() for f in files_a), name
    assert (a["mimic-iv-ecg"] / "record_list.csv").read_bytes() != (c["mimic-iv-ecg"] / "record_list.csv").read_bytes()

"""The fixture writer: release layouts byte-for-byte where genuine files show them, readable by the
usual tools, labels backed by the signal, deterministic.

Genuine files compared against live in tests/data/ (see PROVENANCE.md); the miniature is the
session-wide ``fixture_tree`` (12 records per database, seed 7).
"""

import ast
import re
import struct

import h5py
import numpy as np
import pandas as pd
import pytest
import scipy.io
import wfdb
from openpyxl import load_workbook

from ecgcorpus.fixtures import write_fixtures
from ecgcorpus.fixtures.figshare import csv_numbers

LEADS = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
WFDB_DATABASES = {"ptbxl": False, "mimic-iv-ecg": False, "chapman": True, "cpsc2018-cinc": True, "mitdb": True}


def _shape(line: str) -> str:
    """A header line with its numbers masked: the layout to compare with a genuine file."""
    return re.sub(r"-?\d+", "#", line)


def _lines(path, newline="\n") -> list[str]:
    data = path.read_bytes().decode()
    assert data.endswith(newline)
    return data[: -len(newline)].split(newline)


def _first(root, pattern):
    return sorted(root.glob(pattern))[0]


# --- WFDB: every record readable, header numbers true ---------------------------------------------

@pytest.mark.parametrize("db", sorted(WFDB_DATABASES))
def test_every_wfdb_record_reads_and_its_header_numbers_are_true(fixture_tree, db):
    headers = sorted((fixture_tree / db).rglob("*.hea"))
    assert headers
    printed = []
    for hea in headers:
        rec = wfdb.rdrecord(str(hea)[:-4], physical=False)
        assert rec.init_value == rec.d_signal[0].tolist(), hea
        assert all((c - true) % 65536 == 0 for c, true in zip(rec.checksum, rec.calc_checksum())), hea
        printed += rec.checksum
    if WFDB_DATABASES[db]:          # Chapman, CinC and MIT-BIH print checksums signed, PTB-XL and MIMIC unsigned
        assert min(printed) < 0 and max(printed) <= 32767
    else:
        assert min(printed) >= 0 and max(printed) > 32767


# --- PTB-XL -------------------------------------------------------------------------------------------

def test_ptbxl_headers_match_the_genuine_bytes_layout(fixture_tree, data_dir):
    for rate, suffix in (("records100", "lr"), ("records500", "hr")):
        genuine = _lines(data_dir / f"ptbxl/{rate}/00000/00001_{suffix}.hea")
        ours_path = _first(fixture_tree / "ptbxl" / rate, "*/*.hea")
        ours = _lines(ours_path)
        assert b"\r" not in ours_path.read_bytes()
        assert [_shape(line) for line in ours] == [_shape(line) for line in genuine]
        assert [line.split()[2] for line in ours[1:]] == ["1000.0(0)/mV"] * 12
        assert [line.split()[-1] for line in ours[1:]] == [line.split()[-1] for line in genuine[1:]]  # AVR…
        assert ours_path.with_suffix(".dat").stat().st_size == (24_000 if suffix == "lr" else 120_000)


def test_ptbxl_database_csv(fixture_tree, data_dir):
    root = fixture_tree / "ptbxl"
    text = (root / "ptbxl_database.csv").read_text(encoding="utf-8")
    assert text.splitlines()[0] == (data_dir / "ptbxl/ptbxl_database.csv").read_text().splitlines()[0]
    assert "\r" not in text and re.search(r"^\d+,\d+\.0,\d+\.0,[01],", text.splitlines()[1])  # pandas floats
    db = pd.read_csv(root / "ptbxl_database.csv", index_col="ecg_id")
    assert len(db.columns) == 27 and (np.diff(db.index) > 1).any()                        # ids with a gap
    assert (db["age"] == 300.0).any() and (db["report"] == " ").any()
    assert db["strat_fold"].between(1, 10).all() and (db.groupby("patient_id")["strat_fold"].nunique() == 1).all()
    repeat = db[db["patient_id"].duplicated(keep=False)].sort_index()
    assert len(repeat) and all(g["recording_date"].is_monotonic_increasing for _, g in repeat.groupby("patient_id"))
    codes = set(pd.read_csv(root / "scp_statements.csv", index_col=0).index)
    assert all(set(ast.literal_eval(s)) <= codes for s in db["scp_codes"])
    assert db["report"].str.contains("sinusrhythmus|sinusrytm|sinus rhythm").any()           # de / sv / en
    assert not db["report"].str.contains("[äöü]").any()                                     # umlauts upper-case
    for lr, hr in zip(db["filename_lr"], db["filename_hr"]):
        assert (root / f"{lr}.dat").exists() and (root / f"{hr}.dat").exists()
    assert (root / "scp_statements.csv").read_bytes() == (data_dir / "ptbxl/scp_statements.csv").read_bytes()
    records = (root / "RECORDS").read_bytes()
    assert records.endswith(b"\r\n") and records.count(b"\r\n") == 2 * len(db) - 1
    assert re.search(rb"_lrrecords500/", records) and b"\r\n" in (root / "LICENSE.txt").read_bytes()


def test_ptbxl_rates_are_independent_arrays(fixture_tree):
    hea = _first(fixture_tree / "ptbxl/records500", "*/*.hea")
    hr = wfdb.rdrecord(str(hea)[:-4]).p_signal
    lr = wfdb.rdrecord(str(hea)[:-4].replace("records500", "records100").replace("_hr", "_lr")).p_signal
    assert hr.shape == (5000, 12) and lr.shape == (1000, 12)
    assert not np.array_equal(hr[::5], lr) and np.corrcoef(hr[::5, 1], lr[:, 1])[0, 1] > 0.95


# --- MIMIC-IV-ECG ------------------------------------------------------------------------------------

def test_mimic_tables(fixture_tree, data_dir):
    root = fixture_tree / "mimic-iv-ecg"
    for name in ("record_list.csv", "machine_measurements.csv", "waveform_note_links.csv"):
        genuine = (data_dir / "mimic-iv-ecg" / name).read_text().splitlines()[0]
        assert (root / name).read_text().splitlines()[0] == genuine
    listing = pd.read_csv(root / "record_list.csv")
    mm = pd.read_csv(root / "machine_measurements.csv")
    assert len(mm.columns) == 33 and list(mm["study_id"]) != list(listing["study_id"])      # join on study_id
    assert sorted(mm["study_id"]) == sorted(listing["study_id"]) and (mm == 29999).any().any()
    filled = mm[[f"report_{i}" for i in range(18)]].notna().to_numpy()
    assert (~filled[:, :-1] & filled[:, 1:]).any()                     # a blank column between statements
    per_subject = listing.groupby("subject_id")
    assert per_subject.size().between(2, 6).all()
    assert all(g["ecg_time"].is_monotonic_increasing for _, g in per_subject)
    for subject, study, path in zip(listing["subject_id"], listing["study_id"], listing["path"]):
        assert path == f"files/p{str(subject)[:4]}/p{subject}/s{study}/{study}"
    links = pd.read_csv(root / "waveform_note_links.csv")
    assert set(links["study_id"]) <= set(listing["study_id"])
    assert all(note == f"{s}-EK-{q}" for s, note, q in zip(links["subject_id"], links["note_id"], links["note_seq"]))


def test_mimic_headers_lead_order_and_nan_run(fixture_tree):
    root = fixture_tree / "mimic-iv-ecg"
    listing = pd.read_csv(root / "record_list.csv")
    first = listing.iloc[0]
    hea = _lines(root / (first["path"] + ".hea"))
    assert re.fullmatch(r"\d{8} 12 500 5000 \d\d:\d\d:00 \d\d/\d\d/\d{4}", hea[0])
    t = first["ecg_time"]
    assert hea[0].endswith(f" {t[11:19]} {t[8:10]}/{t[5:7]}/{t[:4]}")
    assert [line.split()[-1] for line in hea[1:13]] == ["I", "II", "III", "aVR", "aVF", "aVL"] + LEADS[6:]
    assert all(line.split()[2] == "200.0(0)/mV" for line in hea[1:13])
    assert hea[13] == f"# <subject_id>: {first['subject_id']}"
    records = [wfdb.rdrecord(str(root / p)) for p in listing["path"]]
    assert sum(np.isnan(r.p_signal).any() for r in records) == 1
    rec = records[1]    # aVF (inferior) sits where other databases have aVL: it must equal II − I/2
    i, ii, avf = (rec.p_signal[:, rec.sig_name.index(n)] for n in ("I", "II", "aVF"))
    assert np.abs(avf - (ii - i / 2)).max() < 0.02


# --- Chapman / ecg-arrhythmia -------------------------------------------------------------------------

def test_chapman_layout_crlf_headers_and_mat_v4(fixture_tree, data_dir):
    root = fixture_tree / "chapman"
    genuine_hea = data_dir / "chapman/WFDBRecords/01/010/JS00001.hea"
    ours = root / "WFDBRecords/01/010/JS00001.hea"
    g, o = _lines(genuine_hea, "\r\n"), _lines(ours, "\r\n")
    assert [_shape(line) for line in o[:13]] == [_shape(line) for line in g[:13]]
    assert [line.split(":")[0] for line in o[13:]] == [line.split(":")[0] for line in g[13:]]   # #Age … #Sx
    assert (root / "WFDBRecords/01/010/RECORDS").read_text().split() == [f"JS{i:05d}" for i in range(1, 13)]
    assert (root / "RECORDS").read_text() == "WFDBRecords/01/010/\n"
    genuine_mat = (data_dir / "chapman/WFDBRecords/01/010/JS00001.mat").read_bytes()
    for hea in sorted(root.rglob("*.hea")):
        mat = hea.with_suffix(".mat").read_bytes()
        assert mat[:4] + mat[16:24] == genuine_mat[:4] + genuine_mat[16:24]          # type, name 'val'
        assert struct.unpack("<5i", mat[:20])[1:3] == (12, 5000) and len(mat) == 24 + 12 * 5000 * 2
        val = scipy.io.loadmat(str(hea.with_suffix(".mat")))["val"]
        rec = wfdb.rdrecord(str(hea)[:-4], physical=False)
        assert val.dtype == np.int16 and np.array_equal(val, rec.d_signal.T) and rec.sig_name == LEADS


def test_chapman_dx_edge_cases(fixture_tree):
    root = fixture_tree / "chapman"
    known = set(pd.read_csv(root / "ConditionNames_SNOMED-CT.csv", dtype=str).iloc[:, 2])
    dx = [re.search(rb"#Dx: (.*)\r\n", h.read_bytes()).group(1).decode() for h in sorted(root.rglob("*.hea"))]
    assert any(",," in d for d in dx)
    codes = {c for d in dx for c in d.split(",") if c}
    assert codes - known == {"55827005"}


# --- CPSC2018 and its CinC re-release -----------------------------------------------------------------

def test_cpsc_original_mat_and_reference(fixture_tree, data_dir):
    root = fixture_tree / "cpsc2018"
    ref = (root / "REFERENCE.csv").read_bytes().decode()
    genuine = (data_dir / "cpsc2018/REFERENCE.csv").read_bytes().decode()
    assert ref.split("\r\n")[0] == genuine.split("\r\n")[0]
    assert ref.endswith("\r\n") and "\n" not in ref.replace("\r\n", "")
    rows = [line.split(",") for line in ref.split("\r\n")[1:-1]]
    ids = [r[0] for r in rows]
    assert ids != sorted(ids) and sorted(ids) == [f"A{i:04d}" for i in range(1, 13)]
    assert any(all(r[1:]) for r in rows) and any(r[1] == r[2] for r in rows)                  # 3 labels; "6,6,"
    real = scipy.io.loadmat(data_dir / "cpsc2018/A1980.mat")["ECG"][0, 0]
    lengths = []
    for mat_path in sorted(root.glob("TrainingSet1/*.mat")):
        assert mat_path.read_bytes()[:116].startswith(b"MATLAB 5.0 MAT-file, Platform: PCWIN64, Created on: ")
        ecg = scipy.io.loadmat(mat_path)["ECG"][0, 0]
        assert ecg.dtype.names == real.dtype.names == ("sex", "age", "data")
        assert ecg["sex"][0] in ("Male", "Female") and ecg["age"].dtype == real["age"].dtype == np.uint8
        assert ecg["data"].dtype == np.float64 and ecg["data"].shape[0] == 12
        lengths.append(ecg["data"].shape[1])
    assert min(lengths) >= 3000 and max(lengths) <= 72000 and any(n % 500 for n in lengths)


def test_cinc_rerelease_is_the_same_recording(fixture_tree):
    classes = {1: "426783006", 2: "164889003", 3: "270492004", 4: "164909002", 5: "59118001",
               6: "284470004", 7: "164884008", 8: "429622005", 9: "164931005"}
    ref = dict((r.split(",")[0], [int(c) for c in r.split(",")[1:] if c])
               for r in (fixture_tree / "cpsc2018/REFERENCE.csv").read_text().splitlines()[1:])
    for hea in sorted((fixture_tree / "cpsc2018-cinc/training/cpsc_2018/g1").glob("*.hea")):
        name = hea.stem
        lines = _lines(hea, "\r\n")
        assert re.fullmatch(rf"{name} 12 500 \d+ 12-May-2020 12:33:59", lines[0])
        assert lines[15] == "#Dx: " + ",".join(classes[c] for c in sorted(set(ref[name])))
        data = scipy.io.loadmat(fixture_tree / f"cpsc2018/TrainingSet1/{name}.mat")["ECG"][0, 0]["data"]
        rec = wfdb.rdrecord(str(hea)[:-4], physical=False)
        assert np.array_equal(rec.d_signal.T, np.round(data * 1000))


# --- SPH -------------------------------------------------------------------------------------------

def test_sph_metadata_codes_and_hdf5(fixture_tree, data_dir):
    root = fixture_tree / "sph"
    meta = pd.read_csv(root / "metadata.csv", dtype=str)
    assert list(meta.columns) == ["ECG_ID", "AHA_Code", "Patient_ID", "Age", "Sex", "N", "Date"]
    codes = set(meta["AHA_Code"])
    assert {"1;1", "22;23"} <= codes and any("+" in c for c in codes)
    n = meta["N"].astype(int)
    assert (n % 500 == 0).all() and n.between(5000, 30000).all() and n.max() >= 28000
    assert meta["Patient_ID"].duplicated().any()
    with h5py.File(data_dir / "sph/records/A00001.h5") as f:
        genuine = f["ecg"]
        layout = (list(f.keys()), genuine.dtype, genuine.compression, dict(genuine.attrs))
    for record, length in zip(meta["ECG_ID"], n):
        with h5py.File(root / "records" / f"{record}.h5") as f:
            ecg = f["ecg"]
            assert (list(f.keys()), ecg.dtype, ecg.compression, dict(ecg.attrs)) == layout
            assert ecg.shape == (12, length) and ecg.chunks == (3, length // 4)
    code = (root / "code.csv").read_text()
    assert code.startswith("Category,Code,Description\nA,1,Normal ECG\n")
    assert 'D,31,"Atrial premature complexes, nonconducted"\n' in code and "Modifier,310,Frequent\n" in code


# --- Chapman figshare -----------------------------------------------------------------------------------

def test_figshare_diagnostics_and_signal_csvs(fixture_tree, data_dir):
    root = fixture_tree / "chapman-figshare"
    genuine = next(load_workbook(data_dir / "chapman-figshare/Diagnostics.xlsx", read_only=True).active
                   .iter_rows(values_only=True, max_row=1))
    ours = load_workbook(root / "Diagnostics.xlsx").active
    assert ours.title == "Sheet1" and next(ours.iter_rows(values_only=True)) == genuine
    diag = pd.read_excel(root / "Diagnostics.xlsx", dtype={"PatientAge": str})
    assert all(isinstance(cell.value, str) for cell in ours["D"])                                # ages are text
    vocabulary = {str(row[0]).strip() for name in ("RhythmNames", "ConditionNames")
                  for row in load_workbook(data_dir / f"chapman-figshare/{name}.xlsx").active.iter_rows(
                      min_row=2, values_only=True)}
    assert set(diag["Rhythm"]) <= vocabulary and {t for b in diag["Beat"] for t in b.split()} <= vocabulary | {"NONE"}
    for name in diag["FileName"][:3]:
        assert re.fullmatch(r"MUSE_\d{8}_\d{6}_\d{2}000", name)
        denoised = (root / "ECGDataDenoised" / f"{name}.csv").read_text()
        assert denoised.startswith(",".join(LEADS) + "\n") and denoised.count("\n") == 5001
        values = pd.read_csv(root / "ECGDataDenoised" / f"{name}.csv")
        raw = pd.read_csv(root / "ECGData" / f"{name}.csv")
        assert list(values.columns) == LEADS and values.abs().max().max() > 100               # µV
        assert (raw.dtypes == np.int64).all() and np.corrcoef(raw["II"], values["II"])[0, 1] > 0.8


def test_csv_numbers_print_like_python():
    x = np.array([[-0.0004, 12.0, 0.5, -1234.5], [0.001, -0.01, 100.0, 0.1004]])
    assert csv_numbers(x, 3) == b"0.0,12.0,0.5,-1234.5\n0.001,-0.01,100.0,0.1\n"
    assert csv_numbers(x * 1000, 0) == b"0,12000,500,-1234500\n1,-10,100000,100\n"


# --- MIT-BIH style ----------------------------------------------------------------------------------

def test_mitdb_header_and_annotation_bytes(fixture_tree, data_dir):
    root = fixture_tree / "mitdb"
    # wfdb-python's copy of 100.hea is edited for parser tests (extra comment, blank line, CRs): compare
    # the record and signal lines only.
    genuine = [line.rstrip("\r") for line in _lines(data_dir / "mitdb/100.hea") if line.strip("\r")][1:4]
    ours = _lines(root / "100.hea")
    assert [_shape(line) for line in ours[:3]] == [_shape(line) for line in genuine]
    assert ours[1].split()[1:5] == ["212", "200", "11", "1024"] and re.fullmatch(r"# \d+ [MF] \d+ \d+ x1", ours[3])
    assert (root / "100.atr").read_bytes()[:8] == (data_dir / "mitdb/100.atr").read_bytes()[:8]   # '+' (N at 18
    assert (root / "RECORDS").read_text().split() == ["100", "101", "102", "103", "104"]


def test_mitdb_annotations_sit_on_r_peaks(fixture_tree):
    symbols = set()
    for name in ("100", "101", "102", "103", "104"):
        rec = wfdb.rdrecord(str(fixture_tree / "mitdb" / name))
        ann = wfdb.rdann(str(fixture_tree / "mitdb" / name), "atr")
        assert rec.fs == 360 and rec.sig_name[0] == "MLII" and rec.sig_name[1] in ("V1", "V5")
        assert 3 * 60 * 360 <= rec.sig_len <= 5 * 60 * 360
        assert ann.symbol[0] == "+" and ann.aux_note[0] in ("(N\x00", "(AFIB\x00") and ann.sample[0] < ann.sample[1]
        beats = [(s, sym) for s, sym in zip(ann.sample, ann.symbol) if sym != "+"]
        symbols |= {sym for _, sym in beats}
        ml2 = np.abs(rec.p_signal[:, 0] - np.median(rec.p_signal[:, 0]))
        off = [abs(int(np.argmax(ml2[s - 20:s + 21])) - 20) for s, _ in beats if 20 < s < rec.sig_len - 21]
        assert max(off) <= 4, name
    assert {"N", "V", "A"} <= symbols <= {"N", "V", "A", "L", "R"} and symbols & {"L", "R"}


def test_mitdb_premature_beats_come_early(fixture_tree):
    ann = wfdb.rdann(str(fixture_tree / "mitdb/101"), "atr")
    sample, symbol = ann.sample[1:], ann.symbol[1:]
    rr = np.diff(sample)
    normal = np.median(rr)
    for k in range(1, len(symbol) - 1):
        if symbol[k] == "V" and symbol[k - 1] == symbol[k + 1] == "N":
            assert rr[k - 1] < 0.8 * normal and rr[k - 1] + rr[k] == pytest.approx(2 * normal, rel=0.1)


# --- labels backed by the signal ------------------------------------------------------------------------

def _rr(signal: np.ndarray, fs: int) -> np.ndarray:
    import neurokit2 as nk

    _, info = nk.ecg_peaks(nk.ecg_clean(signal, sampling_rate=fs), sampling_rate=fs)
    return np.diff(info["ECG_R_Peaks"]) / fs


def test_rhythm_labels_match_the_signal(fixture_tree):
    checked = set()
    for hea in sorted((fixture_tree / "chapman").rglob("*.hea")):
        dx = set(re.search(r"#Dx: (.*)", hea.read_text()).group(1).split(","))
        rr = _rr(wfdb.rdrecord(str(hea)[:-4], channel_names=["II"]).p_signal[:, 0], 500)
        if "426177001" in dx:                                   # sinus bradycardia
            assert 60 / rr.mean() < 60 and checked.add("SB") is None
        if "427084000" in dx:                                   # sinus tachycardia
            assert 60 / rr.mean() > 100 and checked.add("ST") is None
        if "164889003" in dx:                                   # atrial fibrillation: irregular
            assert rr.std() / rr.mean() > 0.08 and checked.add("AFIB") is None
        if dx == {"426783006"}:                                 # plain sinus rhythm: regular
            assert rr.std() / rr.mean() < 0.06 and checked.add("SR") is None
    assert checked == {"SB", "ST", "AFIB", "SR"}


# --- determinism -----------------------------------------------------------------------------------

def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    a = write_fixtures(tmp_path / "a", records=2, seed=7)     # seed 7: beat bank cached by fixture_tree
    b = write_fixtures(tmp_path / "b", records=2, seed=7)
    c = write_fixtures(tmp_path / "c", records=2, seed=8)
    assert sorted(a) == ["chapman", "chapman-figshare", "code15", "cpsc2018", "cpsc2018-cinc", "ecgqa", "edb", "mimic-iv-ecg", "mitdb",
                         "ptbxl", "sph", "stdb"]
    for name in a:
        files = sorted(p.relative_to(a[name]) for p in a[name].rglob("*") if p.is_file())
        assert files == sorted(p.relative_to(b[name]) for p in b[name].rglob("*") if p.is_file())
        assert all((a[name] / f).read_bytes() == (b[name] / f).read_bytes() for f in files), name
        signal = [f for f in files if f.suffix in (".dat", ".mat", ".h5", ".hdf5", ".csv", ".json") and "RECORDS" not in f.name]
        assert any(not (c[name] / f).exists() or (a[name] / f).read_bytes() != (c[name] / f).read_bytes()
                   for f in signal), name

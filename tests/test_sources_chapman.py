"""Chapman-Shaoxing/Ningbo (ecg-arrhythmia WFDB), its CinC CPSC2018 sibling, and the figshare release."""

import shutil

import numpy as np
import pandas as pd
import pytest
import wfdb

from ecgcorpus.errors import SourceError
from ecgcorpus.leads import CANONICAL_LEADS
from ecgcorpus.sources import open_source
from ecgcorpus.sources.chapman import ChapmanWfdb, CincCpsc2018
from ecgcorpus.sources.chapman_figshare import ChapmanFigshare

JS00001 = "chapman/WFDBRecords/01/010/JS00001"
FIRST_FIGSHARE = "MUSE_20180113_171327_27000"  # Diagnostics row 2 = the same recording as JS00001


def wfdb_canonical(path):
    """wfdb's own physical values, rows in canonical lead order."""
    rec = wfdb.rdrecord(str(path))
    return rec.p_signal.T[[rec.sig_name.index(lead) for lead in CANONICAL_LEADS]]


def mat_v4(path) -> tuple[bytes, np.ndarray]:
    """(24-byte MAT v4 header, samples × leads int16) of a Chapman/CinC .mat."""
    raw = path.read_bytes()
    return raw[:24], np.frombuffer(raw[24:], "<i2").reshape(-1, 12).copy()


def add_record(data_dir, folder, name, *, dx=None, header_edit=None, mat=None):
    """JS00001 copied under a new name, with its #Dx, header text or .mat bytes changed."""
    folder.mkdir(parents=True, exist_ok=True)
    text = (data_dir / (JS00001 + ".hea")).read_bytes().decode().replace("JS00001", name)
    if dx is not None:
        text = text.replace("#Dx: 164889003,59118001,164934002", f"#Dx: {dx}")
    if header_edit:
        text = header_edit(text)
    (folder / f"{name}.hea").write_bytes(text.encode())
    if mat is None:
        shutil.copy(data_dir / (JS00001 + ".mat"), folder / f"{name}.mat")
    elif mat is not False:
        (folder / f"{name}.mat").write_bytes(mat)
    return folder / name


# -- ChapmanWfdb on the genuine record ----------------------------------------------------------------

def test_scan_genuine_record(data_dir):
    src = open_source("chapman", data_dir / "chapman")
    (ref,) = list(src.scan())
    assert src.errors == []
    assert ref.record_id == "chapman:JS00001" and ref.native_id == "JS00001" and ref.source == "chapman"
    assert (ref.fs, ref.n_samples, ref.leads) == (500.0, 5000, CANONICAL_LEADS)
    assert (ref.age, ref.sex, ref.patient_id, ref.acquired) == ("85", "M", None, None)
    assert [lab.code for lab in ref.labels] == ["164889003", "59118001", "164934002"]
    assert [lab.snomed for lab in ref.labels] == ["164889003", "59118001", "164934002"]
    assert ref.labels[0].name == "atrial fibrillation" and "right bundle branch block" in ref.labels[1].name
    assert ref.extra == {}  # Rx/Hx/Sx are all "Unknown": not carried


def test_load_genuine_equals_wfdb(data_dir):
    src = ChapmanWfdb(data_dir / "chapman")
    (ref,) = list(src.scan())
    ecg = src.load(ref)
    assert ecg.leads == CANONICAL_LEADS and ecg.native_dtype == "int16"
    assert np.array_equal(ecg.signal, wfdb_canonical(data_dir / JS00001))
    assert np.array_equal(ecg.digital, wfdb.rdrecord(str(data_dir / JS00001), physical=False).d_signal.T)
    assert list(ecg.gain) == [1000.0] * 12


def test_dx_edge_cases_and_scan_continues(data_dir, tmp_path):
    shutil.copytree(data_dir / "chapman", tmp_path / "c")
    bucket = tmp_path / "c/WFDBRecords/01/010"
    add_record(data_dir, bucket, "JS00002", dx="284470004,89792004,427084000,,427172004,427084000")
    add_record(data_dir, bucket, "JS00003", dx="999999999,164889003")  # well-formed id in no table
    add_record(data_dir, bucket, "JS00004", dx="164889003,AFIB")
    add_record(data_dir, bucket, "JS00005", header_edit=lambda t: t.replace("JS00005 12 500 5000", "JS00005 twelve"))
    add_record(data_dir, bucket, "JS00006", header_edit=lambda t: t.replace("1000/mV", "1000/uV"))
    add_record(data_dir, tmp_path / "c/WFDBRecords/45/455", "JS45551",
               header_edit=lambda t: t.replace("Unknown\r\n#Hx", "Aspirin\r\n#Hx"))
    src = ChapmanWfdb(tmp_path / "c")
    refs = {ref.native_id: ref for ref in src.scan()}
    assert list(refs) == ["JS00001", "JS00002", "JS00003", "JS45551"]  # sorted, nested buckets found
    # empty item skipped, exact repeat dropped, order kept
    assert [lab.code for lab in refs["JS00002"].labels] == ["284470004", "89792004", "427084000", "427172004"]
    # a well-formed SNOMED id outside the tables is kept, unmapped
    assert [(lab.code, lab.snomed) for lab in refs["JS00003"].labels] == [("999999999", None), ("164889003", "164889003")]
    assert refs["JS00003"].extra["unmapped_codes"] == ["999999999"]
    assert refs["JS45551"].extra == {"Rx": "Aspirin"}
    errors = {e.record_id: e for e in src.errors}
    assert set(errors) == {"chapman:JS00004", "chapman:JS00005", "chapman:JS00006"}
    assert errors["chapman:JS00004"].file.endswith("JS00004.hea") and "'AFIB'" in errors["chapman:JS00004"].problem
    assert errors["chapman:JS00005"].file.endswith("JS00005.hea")
    assert "uV" in errors["chapman:JS00006"].problem


def _one(src):
    (ref,) = [r for r in src.scan() if r.native_id != "JS00001"]
    return ref


@pytest.mark.parametrize("case", ["truncated", "longer_header", "shorter_header", "missing", "nan_lead"])
def test_bad_signal_files(data_dir, tmp_path, case):
    head, samples = mat_v4(data_dir / (JS00001 + ".mat"))
    mat, edit = None, None
    if case == "truncated":
        mat = head + samples.tobytes()[:50_000]
    elif case == "longer_header":
        edit = lambda t: t.replace("JS00009 12 500 5000", "JS00009 12 500 6000")  # noqa: E731
    elif case == "shorter_header":
        edit = lambda t: t.replace("JS00009 12 500 5000", "JS00009 12 500 4000")  # noqa: E731
    elif case == "missing":
        mat = False
    elif case == "nan_lead":
        samples[:, 3] = -32768  # WFDB "no sample" for the whole of aVR
        mat = head + samples.tobytes()
    add_record(data_dir, tmp_path / "WFDBRecords/01/010", "JS00009", mat=mat, header_edit=edit)
    src = ChapmanWfdb(tmp_path)
    ref = _one(src)
    with pytest.raises(SourceError) as exc:
        src.load(ref)
    assert exc.value.file.endswith("JS00009.mat")
    if case == "nan_lead":
        assert "aVR" in exc.value.problem


def test_scan_reads_headers_only(data_dir, tmp_path):
    add_record(data_dir, tmp_path / "WFDBRecords/01/010", "JS00001", mat=False)
    (ref,) = list(ChapmanWfdb(tmp_path).scan())  # no .mat needed to scan
    assert ref.n_samples == 5000


def test_empty_tree_is_an_error(tmp_path):
    with pytest.raises(SourceError, match="no WFDB headers"):
        list(ChapmanWfdb(tmp_path).scan())


# -- CincCpsc2018: CinC 2020/2021 re-release headers --------------------------------------------------

CINC_DATE = lambda name: lambda t: t.replace(f"{name} 12 500 5000", f"{name} 12 500 5000 12-May-2020 12:33:59")  # noqa: E731


def test_cinc_headers(data_dir, tmp_path):
    g1 = tmp_path / "training/cpsc_2018/g1"
    add_record(data_dir, g1, "A0001", dx="59118001", header_edit=CINC_DATE("A0001"))
    add_record(data_dir, g1, "A0043", dx="164889003,59118001",
               header_edit=lambda t: CINC_DATE("A0043")(t).replace("/mV", "/mv").replace("Age: 85", "Age: -1"))
    # early 2020 tarball: CPSC abbreviations, "Unknows" typo
    add_record(data_dir, g1, "A0953", dx="PAC, PAC,I-AVB",
               header_edit=lambda t: t.replace("Sx: Unknown", "Sx: Unknows").replace("Sex: Male", "Sex: Female"))
    # record line naming the .mat file (Georgia-style), which wfdb.rdheader rejects
    add_record(data_dir, g1, "A1980", dx="426783006", header_edit=lambda t: t.replace("A1980 12 500", "E07500.mat 12 500"))
    add_record(data_dir, g1, "A1981", dx="XYZ")
    add_record(data_dir, tmp_path / "training/georgia/g1", "E07500", dx="426783006")  # not CPSC: not scanned
    src = open_source("cpsc2018-cinc", tmp_path)
    assert isinstance(src, CincCpsc2018)
    refs = {ref.record_id: ref for ref in src.scan()}
    assert list(refs) == ["cpsc2018-cinc:A0001", "cpsc2018-cinc:A0043", "cpsc2018-cinc:A0953", "cpsc2018-cinc:A1980"]
    a1, a43, a953, a1980 = refs.values()
    assert [lab.code for lab in a1.labels] == ["59118001"] and a1.acquired is None
    assert [lab.snomed for lab in a43.labels] == ["164889003", "59118001"] and a43.age is None
    assert [(lab.code, lab.snomed) for lab in a953.labels] == [("PAC", "284470004"), ("I-AVB", "270492004")]
    assert a953.sex == "F" and "Sx" not in a953.extra
    assert (a1.extra["official_split"], a953.extra["official_split"]) == ("validation", "train")
    (err,) = src.errors
    assert err.record_id == "cpsc2018-cinc:A1981" and err.file.endswith("A1981.hea")
    with pytest.raises(Exception):
        wfdb.rdheader(str(g1 / "A1980"))  # the reason we parse headers ourselves
    expected = wfdb_canonical(data_dir / JS00001)
    for ref in refs.values():
        assert np.array_equal(src.load(ref).signal, expected)


def test_cinc_accepts_a_flat_folder(data_dir, tmp_path):
    add_record(data_dir, tmp_path / "Training_WFDB", "A0001", dx="RBBB")
    (ref,) = list(CincCpsc2018(tmp_path).scan())
    assert ref.record_id == "cpsc2018-cinc:A0001" and ref.labels[0].snomed == "59118001"


# -- ChapmanFigshare ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def figshare_scan(data_dir):
    src = ChapmanFigshare(data_dir / "chapman-figshare")
    return src, list(src.scan())


def test_figshare_scan_genuine_diagnostics(figshare_scan):
    src, refs = figshare_scan
    assert len(refs) == 10646 and src.errors == []
    first = refs[0]
    assert first.record_id == f"chapman-figshare:{FIRST_FIGSHARE}"
    assert [lab.code for lab in first.labels] == ["AFIB", "RBBB", "TWC"]
    assert [lab.snomed for lab in first.labels] == ["164889003", "59118001", "164934002"]  # = JS00001's #Dx
    assert (first.age, first.sex, first.n_samples, first.fs) == ("85", "M", 5000, 500.0)
    assert first.extra == {"VentricularRate": 117, "AtrialRate": 234, "QRSDuration": 114, "QTInterval": 356,
                           "QTCorrected": 496, "RAxis": 81, "TAxis": -27, "QRSCount": 19, "QOnset": 208,
                           "QOffset": 265, "TOffset": 386}
    assert first.path.endswith(f"ECGData/{FIRST_FIGSHARE}.csv")
    rhythms = pd.Series([ref.labels[0].code for ref in refs]).value_counts().to_dict()
    assert rhythms == {"SB": 3889, "SR": 1826, "AFIB": 1780, "ST": 1568, "SVT": 587, "AF": 445, "SA": 399,
                       "AT": 121, "AVNRT": 16, "AVRT": 8, "SAAWR": 7}
    by_code = {lab.code: lab for ref in refs for lab in ref.labels}
    assert by_code["AF"].snomed == "164890007" and "flutter" in by_code["AF"].name  # AF = atrial flutter here
    assert by_code["LVHV"].snomed is None and by_code["LVHV"].name == "left ventricle high voltage"
    assert "NONE" not in by_code
    assert {ref.sex for ref in refs} == {"M", "F"}


def write_figshare(tmp_path, rows, folder="ECGData"):
    root = tmp_path / "figshare"
    (root / folder).mkdir(parents=True)
    pd.DataFrame(rows).to_excel(root / "Diagnostics.xlsx", index=False)
    return root


def js00001_csv(data_dir, path, order=CANONICAL_LEADS, rows=None, edit=None):
    """JS00001 written as a figshare CSV: µV values (the record's ADC units), header I,II,…,V6."""
    rec = wfdb.rdrecord(str(data_dir / JS00001), physical=False)
    table = pd.DataFrame(rec.d_signal.astype(float), columns=rec.sig_name)[list(order)]
    if rows is not None:
        table = table.iloc[:rows]
    if edit:
        edit(table)
    table.to_csv(path, index=False)


@pytest.fixture
def genuine_row(data_dir):
    return pd.read_excel(data_dir / "chapman-figshare/Diagnostics.xlsx", nrows=1).iloc[0].to_dict()


@pytest.mark.parametrize("denoised", [False, True])
def test_figshare_load_equals_wfdb(data_dir, tmp_path, genuine_row, denoised):
    folder = "ECGDataDenoised" if denoised else "ECGData"
    root = write_figshare(tmp_path, [genuine_row], folder)
    shuffled = ["V6", "I", "aVF", "II", "III", "aVR", "aVL", "V1", "V2", "V3", "V4", "V5"]
    js00001_csv(data_dir, root / folder / f"{FIRST_FIGSHARE}.csv", order=shuffled)
    src = open_source("chapman-figshare", root, denoised=denoised)
    (ref,) = list(src.scan())
    ecg = src.load(ref)
    assert ecg.leads == CANONICAL_LEADS and ecg.units == "mV"
    assert np.array_equal(ecg.signal, wfdb_canonical(data_dir / JS00001))


def test_figshare_bad_rows_and_files(data_dir, tmp_path, genuine_row):
    good = dict(genuine_row)
    rows = [
        good,
        {**good, "FileName": "MUSE_X_unknown", "Beat": "RBBB XYZ"},
        {**good, "FileName": "", "Rhythm": "SR"},
        {**good, "FileName": "MUSE_X_noage", "PatientAge": "eighty"},
        {**good, "FileName": "MUSE_X_short"},
        {**good, "FileName": "MUSE_X_text"},
        {**good, "FileName": "MUSE_X_nan"},
        {**good, "FileName": "MUSE_X_missing", "Rhythm": "SR", "Beat": "NONE"},
    ]
    root = write_figshare(tmp_path, rows)
    js00001_csv(data_dir, root / f"ECGData/{FIRST_FIGSHARE}.csv")
    js00001_csv(data_dir, root / "ECGData/MUSE_X_short.csv", rows=4000)
    js00001_csv(data_dir, root / "ECGData/MUSE_X_nan.csv", edit=lambda t: t.__setitem__("V3", np.nan))
    (root / "ECGData/MUSE_X_text.csv").write_text("I,II\nabc,1\n")
    src = ChapmanFigshare(root)
    refs = {ref.native_id: ref for ref in src.scan()}
    assert list(refs) == [FIRST_FIGSHARE, "MUSE_X_short", "MUSE_X_text", "MUSE_X_nan", "MUSE_X_missing"]
    assert refs["MUSE_X_missing"].labels[0].code == "SR" and len(refs["MUSE_X_missing"].labels) == 1
    assert [e.file.rsplit(":", 1)[1] for e in src.errors] == ["row 3", "row 4", "row 5"]
    assert all("Diagnostics.xlsx" in e.file for e in src.errors)
    assert "'XYZ'" in src.errors[0].problem
    for name, words in [("MUSE_X_short", "length mismatch"), ("MUSE_X_text", "unreadable"),
                        ("MUSE_X_nan", "V3"), ("MUSE_X_missing", "missing")]:
        with pytest.raises(SourceError, match=words) as exc:
            src.load(refs[name])
        assert exc.value.file.endswith(f"{name}.csv")
    assert src.load(refs[FIRST_FIGSHARE]).n_samples == 5000

"""SPH: genuine HDF5 records A00001–A00006 with the RECONSTRUCTED metadata rows (see data/PROVENANCE.md)."""

import shutil

import h5py
import numpy as np
import pytest

from ecgcorpus.errors import SourceError
from ecgcorpus.leads import CANONICAL_LEADS
from ecgcorpus.sources import open_source
from ecgcorpus.sources.sph import Sph

HEADER = "ECG_ID,AHA_Code,Patient_ID,Age,Sex,N,Date\n"


@pytest.fixture
def sph_copy(data_dir, tmp_path):
    root = tmp_path / "sph"
    shutil.copytree(data_dir / "sph", root)
    return root


def test_scan_genuine(data_dir):
    src = open_source("sph", data_dir / "sph")
    refs = list(src.scan())
    assert src.errors == []
    assert [r.record_id for r in refs] == [f"sph:A0000{i}" for i in range(1, 7)]
    assert [r.n_samples for r in refs] == [5000, 6000, 6500, 5000, 5500, 5000]
    assert [r.age for r in refs] == ["55", "32", "63", "31", "47", "46"]
    assert [r.sex for r in refs] == ["M", "M", "M", "M", "M", "F"]
    first = refs[0]
    assert (first.patient_id, first.acquired, first.fs, first.leads) == ("S00001", "2020-03-04", 500.0, CANONICAL_LEADS)
    assert first.path.endswith("records/A00001.h5")
    # "22;23": sinus bradycardia + sinus arrhythmia (the SNOMED codes UTU's derived copy gives for this record)
    assert [(lab.code, lab.snomed) for lab in first.labels] == [("22", "426177001"), ("23", "427393009")]
    assert [lab.code for lab in refs[4].labels] == ["146"]


def test_load_equals_h5py(data_dir):
    src = Sph(data_dir / "sph")
    for ref in src.scan():
        ecg = src.load(ref)
        with h5py.File(ref.path, "r") as h5:
            raw = h5["ecg"][()]
        assert raw.dtype == np.float16
        assert ecg.native_dtype == "float16" and ecg.leads == CANONICAL_LEADS and ecg.digital is None
        assert ecg.signal.dtype == np.float64 and np.array_equal(ecg.signal, raw.astype(np.float64))


def test_aha_grammar_and_bad_rows(sph_copy):
    (sph_copy / "metadata.csv").write_text(
        HEADER
        + "A00001,60+310;147,S00001,55,M,5000,2020-03-04\n"
        + "A00002,1;1,S00002,32,M,6000,2019-09-03\n"
        + "A00003,999,S00003,63,M,6500,2020-07-16\n"       # unknown AHA code
        + "A00004,23,S00004,31,M,five thousand,2020-07-14\n"  # malformed N
        + "A00005,145+362;22,S00005,47,M,5500,2020-01-07\n"
        + "A00006,1+999,S00006,46,F,5000,2019-08-31\n"       # unknown modifier
    )
    src = Sph(sph_copy)
    refs = {ref.native_id: ref for ref in src.scan()}
    assert list(refs) == ["A00001", "A00002", "A00005"]  # the scan went on past the bad rows
    assert [lab.code for lab in refs["A00001"].labels] == ["60+310", "147"]
    assert refs["A00001"].labels[0].snomed == "427172004"
    assert [lab.code for lab in refs["A00002"].labels] == ["1"]  # "1;1" repeat dropped
    assert [lab.code for lab in refs["A00005"].labels] == ["145+362", "22"]
    errors = {e.record_id: e for e in src.errors}
    assert set(errors) == {"sph:A00003", "sph:A00004", "sph:A00006"}
    assert errors["sph:A00003"].file.endswith("metadata.csv:4") and "999" in errors["sph:A00003"].problem
    assert errors["sph:A00004"].file.endswith("metadata.csv:5")
    assert errors["sph:A00006"].file.endswith("metadata.csv:7")


def test_code_csv_names_statements_without_snomed(sph_copy):
    (sph_copy / "metadata.csv").write_text(HEADER + "A00001,3+310,S00001,55,M,5000,2020-03-04\n")
    (sph_copy / "code.csv").write_text('Category,Code,Description\nA,3,"Abnormal ECG, as released"\nModifier,310,Frequent\n')
    (ref,) = list(Sph(sph_copy).scan())
    assert ref.labels[0].snomed is None and ref.labels[0].name == "Abnormal ECG, as released, frequent"


def _only(src):
    (ref,) = list(src.scan())
    return ref


@pytest.mark.parametrize("case", ["length_mismatch", "garbage", "truncated", "missing", "nan_lead", "no_dataset"])
def test_bad_record_files(sph_copy, case):
    h5_path = sph_copy / "records/A00001.h5"
    row = "A00001,1,S00001,55,M,5000,2020-03-04\n"
    if case == "length_mismatch":
        row = row.replace(",5000,", ",5500,")
    elif case == "garbage":
        h5_path.write_bytes(b"this is not an HDF5 file" * 100)
    elif case == "truncated":
        h5_path.write_bytes(h5_path.read_bytes()[:30_000])
    elif case == "missing":
        h5_path.unlink()
    elif case == "nan_lead":
        with h5py.File(h5_path, "r+") as h5:
            data = h5["ecg"][()]
            data[7] = np.nan
            h5["ecg"][...] = data
    elif case == "no_dataset":
        h5_path.unlink()
        with h5py.File(h5_path, "w") as h5:
            h5["signal"] = np.zeros((12, 5000), np.float16)
    (sph_copy / "metadata.csv").write_text(HEADER + row)
    src = Sph(sph_copy)
    ref = _only(src)
    with pytest.raises(SourceError) as exc:
        src.load(ref)
    assert exc.value.file == str(h5_path) and exc.value.record_id == "sph:A00001"
    if case == "length_mismatch":
        assert "mismatch" in exc.value.problem
    if case == "nan_lead":
        assert "V2" in exc.value.problem


def test_missing_metadata_is_an_error(tmp_path):
    with pytest.raises(SourceError, match="metadata.csv"):
        list(Sph(tmp_path).scan())


def test_scan_does_not_open_records(data_dir, monkeypatch):
    def no_open(*args, **kwargs):
        raise AssertionError("scan opened an HDF5 file")

    monkeypatch.setattr(h5py, "File", no_open)
    assert len(list(Sph(data_dir / "sph").scan())) == 6

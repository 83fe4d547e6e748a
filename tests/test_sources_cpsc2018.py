"""CPSC2018 original release: genuine A1980–A1985 .mat files and the full REFERENCE.csv."""

import shutil

import numpy as np
import pytest
import scipy.io

from ecgcorpus.errors import SourceError
from ecgcorpus.leads import CANONICAL_LEADS
from ecgcorpus.sources import open_source
from ecgcorpus.sources.cpsc2018 import Cpsc2018
from ecgcorpus.sources.mat5 import read_struct

IDS = [f"A198{i}" for i in range(6)]


def loadmat_ecg(path):
    return scipy.io.loadmat(str(path))["ECG"][0, 0]


def make_tree(data_dir, tmp_path, reference: str, mats: dict[str, str]) -> Cpsc2018:
    """A release tree: REFERENCE.csv (CRLF) and genuine .mat files copied under other names."""
    root = tmp_path / "cpsc"
    root.mkdir()
    (root / "REFERENCE.csv").write_bytes(("Recording,First_label,Second_label,Third_label\r\n" + reference).encode())
    for rel, genuine in mats.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(data_dir / "cpsc2018" / f"{genuine}.mat", root / rel)
    return Cpsc2018(root)


def test_scan_genuine(data_dir):
    src = open_source("cpsc2018", data_dir / "cpsc2018")
    refs = list(src.scan())
    assert [r.record_id for r in refs] == [f"cpsc2018:{i}" for i in IDS]
    assert [r.n_samples for r in refs] == [5000, 7950, 5000, 7500, 9500, 5517]
    assert [r.age for r in refs] == ["52", "48", "89", "49", "23", "26"]
    assert [r.sex for r in refs] == ["M", "F", "M", "M", "F", "F"]
    assert [[lab.code for lab in r.labels] for r in refs] == [["PAC"], ["STD"], ["I-AVB"], ["Normal"], ["STD"], ["STD"]]
    assert refs[0].labels[0].snomed == "284470004"
    assert all(r.fs == 500.0 and r.leads == CANONICAL_LEADS and r.extra["official_split"] == "train" for r in refs)
    # REFERENCE.csv lists all 6,877 recordings; the other 6,871 .mat files are not here
    assert len(src.errors) == 6877 - 6
    assert all(e.file.split("REFERENCE.csv:")[1].isdigit() and "missing" in e.problem for e in src.errors)
    assert next(e for e in src.errors if e.record_id == "cpsc2018:A0001").file.endswith("REFERENCE.csv:2")


def test_header_reader_agrees_with_loadmat(data_dir):
    for native_id in IDS:
        path = data_dir / "cpsc2018" / f"{native_id}.mat"
        fields, full = read_struct(str(path), "ECG"), loadmat_ecg(path)
        assert fields["sex"].value == full["sex"][0]
        assert int(fields["age"].value[0, 0]) == int(full["age"][0, 0])
        assert fields["data"].shape == full["data"].shape and fields["data"].value is None


def test_load_equals_loadmat(data_dir):
    src = Cpsc2018(data_dir / "cpsc2018")
    for ref in src.scan():
        ecg = src.load(ref)
        assert ecg.leads == CANONICAL_LEADS and ecg.native_dtype == "float64" and ecg.fs == 500.0
        assert np.array_equal(ecg.signal, loadmat_ecg(ref.path)["data"])


def test_reference_quirks_and_training_sets(data_dir, tmp_path):
    src = make_tree(data_dir, tmp_path,
                    "A0953,6,6,\r\nA0043,5,2,\r\nA1236,9,5,6\r\nA0300,1,,\r\nA0301,1,,\r\n",
                    {"TrainingSet1/A0043.mat": "A1980", "TrainingSet1/A0300.mat": "A1981",
                     "TrainingSet2/A0301.mat": "A1982", "TrainingSet2/A0953.mat": "A1983", "TrainingSet3/A1236.mat": "A1984"})
    refs = {ref.native_id: ref for ref in src.scan()}
    assert src.errors == []
    assert list(refs) == ["A0043", "A0300", "A0301", "A0953", "A1236"]  # id order, not row order
    assert [lab.code for lab in refs["A0953"].labels] == ["PAC"]  # "6,6" repeat dropped
    assert [lab.code for lab in refs["A0043"].labels] == ["RBBB", "AF"]  # first label (primary) first
    assert [lab.code for lab in refs["A1236"].labels] == ["STE", "RBBB", "PAC"]
    assert [refs[i].extra["official_split"] for i in ("A0043", "A0300", "A0301")] == ["validation", "validation", "train"]
    assert refs["A0300"].n_samples == 7950 and refs["A0300"].path.endswith("TrainingSet1/A0300.mat")


def test_bad_rows_and_files_scan_goes_on(data_dir, tmp_path):
    src = make_tree(data_dir, tmp_path,
                    "A1980,6,,\r\nA1981,12,,\r\nA1982,,,\r\nA19x3,1,,\r\nA1984,8,,\r\nA1984,8,,\r\nA1999,1,,\r\n",
                    {"A1980.mat": "A1980", "A1981.mat": "A1981", "A1982.mat": "A1982", "A1984.mat": "A1984",
                     "TrainingSet1/A1985.mat": "A1985", "TrainingSet2/A1980.mat": "A1980"})
    refs = [ref.native_id for ref in src.scan()]
    assert refs == ["A1980", "A1984"]
    problems = {(e.file.rsplit("/", 1)[1], e.record_id): e.problem for e in src.errors}
    assert set(problems) == {
        ("REFERENCE.csv:3", "cpsc2018:A1981"),   # class 12
        ("REFERENCE.csv:4", "cpsc2018:A1982"),   # no label at all
        ("REFERENCE.csv:5", None),               # malformed id
        ("REFERENCE.csv:7", "cpsc2018:A1984"),   # listed twice
        ("REFERENCE.csv:8", "cpsc2018:A1999"),   # listed, no .mat
        ("A1985.mat", "cpsc2018:A1985"),         # .mat without a label row
        ("A1980.mat", "cpsc2018:A1980"),         # second copy in another TrainingSet
    }
    assert "'12'" in problems[("REFERENCE.csv:3", "cpsc2018:A1981")]
    assert "no label row" in problems[("A1985.mat", "cpsc2018:A1985")]
    assert "A1999.mat missing" in problems[("REFERENCE.csv:8", "cpsc2018:A1999")]


def test_truncated_mat(data_dir, tmp_path):
    src = make_tree(data_dir, tmp_path, "A1980,6,,\r\nA1981,8,,\r\nA1982,3,,\r\n",
                    {"A1980.mat": "A1980", "A1981.mat": "A1981", "A1982.mat": "A1982"})
    root = tmp_path / "cpsc"
    body = (root / "A1980.mat").read_bytes()
    (root / "A1980.mat").write_bytes(body[:20_000])  # the struct header survives: the scan sees the record
    (root / "A1981.mat").write_bytes(body[:150])     # cut inside the header: the scan reports it
    refs = {ref.native_id: ref for ref in src.scan()}
    assert list(refs) == ["A1980", "A1982"]
    (err,) = src.errors
    assert err.file == str(root / "A1981.mat") and err.record_id == "cpsc2018:A1981"
    with pytest.raises(SourceError, match="unreadable MAT") as exc:
        src.load(refs["A1980"])
    assert exc.value.file == str(root / "A1980.mat")


def _write_struct(path, data, sex="Male", age=52, compress=True):
    scipy.io.savemat(str(path), {"ECG": {"sex": sex, "age": np.uint8(age), "data": data}}, do_compression=compress)


@pytest.mark.parametrize("compress", [True, False])
def test_scipy_written_struct_and_nan_lead(data_dir, tmp_path, compress):
    data = loadmat_ecg(data_dir / "cpsc2018/A1980.mat")["data"].copy()
    root = tmp_path / "cpsc"
    root.mkdir()
    (root / "REFERENCE.csv").write_text("Recording,First_label,Second_label,Third_label\nA0001,1,,\nA0002,1,,\nA0003,1,,\n")
    _write_struct(root / "A0001.mat", data, compress=compress)
    data[9] = np.nan
    _write_struct(root / "A0002.mat", data, sex="Female", age=70, compress=compress)
    _write_struct(root / "A0003.mat", data[:11], compress=compress)  # 11 leads
    src = Cpsc2018(root)
    refs = {ref.native_id: ref for ref in src.scan()}
    assert (refs["A0001"].sex, refs["A0001"].age, refs["A0002"].sex, refs["A0002"].age) == ("M", "52", "F", "70")
    assert np.array_equal(src.load(refs["A0001"]).signal, loadmat_ecg(data_dir / "cpsc2018/A1980.mat")["data"])
    with pytest.raises(SourceError, match="V4") as exc:
        src.load(refs["A0002"])
    assert exc.value.file == str(root / "A0002.mat")
    (err,) = src.errors
    assert err.file == str(root / "A0003.mat") and "shape" in err.problem


def test_missing_reference_is_an_error(tmp_path):
    with pytest.raises(SourceError, match="REFERENCE.csv"):
        list(Cpsc2018(tmp_path).scan())


def test_scan_reads_headers_only(data_dir, monkeypatch):
    def no_loadmat(*args, **kwargs):
        raise AssertionError("scan inflated a whole .mat")

    monkeypatch.setattr(scipy.io, "loadmat", no_loadmat)
    assert len(list(Cpsc2018(data_dir / "cpsc2018").scan())) == 6

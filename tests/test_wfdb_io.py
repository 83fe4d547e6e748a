"""The numpy fmt-16 fast path against wfdb itself, on genuine files."""

import shutil

import numpy as np
import pytest
import wfdb

from ecgcorpus.errors import SourceError
from ecgcorpus.sources.wfdb_io import read_header, read_record

GENUINE = [
    "ptbxl/records500/00000/00001_hr",
    "ptbxl/records100/00000/00002_lr",
    "ptbxl/records500/00000/00443_hr",
    "ptbxl/records500/00000/00137_hr",
    "mitdb/100",  # fmt 212: goes through wfdb, same values
]


@pytest.mark.parametrize("rel", GENUINE)
def test_values_bit_identical_to_wfdb(data_dir, rel):
    path = str(data_dir / rel)
    ours = read_record(path)
    ref = wfdb.rdrecord(path)
    from ecgcorpus.sources.base import ecg_from_wfdb
    from ecgcorpus.types import RecordRef

    ecg = ecg_from_wfdb(RecordRef("x:1", "x", "1", path, 0, 0, ()), ours)
    names = [{"AVR": "aVR", "AVL": "aVL", "AVF": "aVF", "MLII": "II"}.get(n, n) for n in ref.sig_name]
    expected = ref.p_signal.T[[names.index(lead) for lead in ecg.leads]]
    assert np.array_equal(ecg.signal, expected, equal_nan=True)
    assert ecg.signal.dtype == np.float64
    assert list(ours.gain) == list(ref.adc_gain)


def test_fast_path_taken_for_fmt16_and_mat_v4(data_dir):
    assert read_header(data_dir / "ptbxl/records500/00000/00001_hr.hea").fast_path_ok
    assert not read_header(data_dir / "mitdb/100.hea").fast_path_ok


def test_header_fields(data_dir):
    h = read_header(data_dir / "ptbxl/records100/00000/00001_lr.hea")
    assert (h.n_sig, h.fs, h.n_samples) == (12, 100.0, 1000)
    assert h.lead_names[3:6] == ["AVR", "AVL", "AVF"]
    assert h.signals[0].gain == 1000.0 and h.signals[0].units == "mV" and h.signals[2].checksum == 64758


def _copy_record(data_dir, tmp_path, rel="ptbxl/records500/00000/00001_hr"):
    for ext in (".hea", ".dat"):
        shutil.copy(data_dir / (rel + ext), tmp_path / ("r" + ext))
    hea = tmp_path / "r.hea"
    hea.write_text(hea.read_text().replace("00001_hr", "r"))
    return tmp_path / "r"


def test_truncated_dat(data_dir, tmp_path):
    rec = _copy_record(data_dir, tmp_path)
    data = (tmp_path / "r.dat").read_bytes()
    (tmp_path / "r.dat").write_bytes(data[:-100])
    with pytest.raises(SourceError, match=r"r\.dat: truncated"):
        read_record(rec)


def test_header_data_length_mismatch(data_dir, tmp_path):
    rec = _copy_record(data_dir, tmp_path)
    hea = tmp_path / "r.hea"
    hea.write_text(hea.read_text().replace("r 12 500 5000", "r 12 500 4000"))
    with pytest.raises(SourceError, match="length mismatch"):
        read_record(rec)


def test_missing_signal_file(data_dir, tmp_path):
    rec = _copy_record(data_dir, tmp_path)
    (tmp_path / "r.dat").unlink()
    with pytest.raises(SourceError, match=r"r\.dat: signal file missing"):
        read_record(rec)


def test_malformed_header(tmp_path):
    (tmp_path / "bad.hea").write_text("bad 12 500 5000\nbad.dat 16 zzz\n")
    with pytest.raises(SourceError, match=r"bad\.hea: record line announces 12 signals"):
        read_header(tmp_path / "bad.hea")
    (tmp_path / "bad.hea").write_text("bad 1 500 5000\nbad.dat sixteen 1000/mV 16 0 0 0 0 I\n")
    with pytest.raises(SourceError, match="malformed signal line"):
        read_header(tmp_path / "bad.hea")

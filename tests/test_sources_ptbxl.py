"""PTB-XL on genuine release files."""

import shutil
from collections import Counter

import numpy as np
import pytest
import wfdb

from ecgcorpus.errors import SourceError
from ecgcorpus.sources import open_source


@pytest.fixture(scope="module")
def refs(data_dir):
    src = open_source("ptbxl", data_dir / "ptbxl")
    return {r.record_id: r for r in src.scan()}, src


def test_scan_genuine_rows(refs):
    by_id, src = refs
    assert len(by_id) == 500 and not src.errors
    r1 = by_id["ptbxl:1"]
    assert r1.patient_id == "15709" and r1.age == "56" and r1.sex == "F"
    assert [lab.code for lab in r1.labels] == ["NORM", "LVOLT", "SR"]
    assert r1.labels[0].likelihood == 100.0 and r1.labels[1].snomed == "251146004"
    assert r1.extra["strat_fold"] == 3 and r1.extra["diagnostic_superclass"] == ["NORM"]
    assert r1.report_lang == "de" and r1.acquired == "1984-11-09 09:17:34"
    assert by_id["ptbxl:101"].report_lang == "sv" and by_id["ptbxl:253"].report_lang == "en"
    assert by_id["ptbxl:443"].report == " " and by_id["ptbxl:443"].report_lang is None
    assert by_id["ptbxl:144"].labels[0].code == "PACE"


def test_language_mix_matches_release(refs):
    """The first 500 rows are ≈54% German, 32% English, 13% Swedish (source-formats.md §1.5)."""
    counts = Counter(r.report_lang for r in refs[0].values())
    assert 0.50 <= counts["de"] / 500 <= 0.58
    assert 0.28 <= counts["en"] / 500 <= 0.36
    assert 0.10 <= counts["sv"] / 500 <= 0.17
    assert counts[None] <= 15


def test_age_300_means_over_89(data_dir, tmp_path):
    root = tmp_path / "ptbxl"
    shutil.copytree(data_dir / "ptbxl", root)
    db = root / "ptbxl_database.csv"
    lines = db.read_text().splitlines()
    lines[1] = lines[1].replace("15709.0,56.0,", "15709.0,300.0,")
    db.write_text("\n".join(lines) + "\n")
    ref = open_source("ptbxl", root).get("1")
    assert ref.age == ">89"


@pytest.mark.parametrize("rate", [100, 500])
def test_load_equals_wfdb(data_dir, rate):
    src = open_source("ptbxl", data_dir / "ptbxl", rate=rate)
    ref = src.get("ptbxl:2")
    ecg = src.load(ref)
    raw = wfdb.rdrecord(ref.path)
    assert ecg.leads[3:6] == ("aVR", "aVL", "aVF") and ecg.fs == rate
    assert np.array_equal(ecg.signal, raw.p_signal.T)
    assert np.array_equal(ecg.digital, wfdb.rdrecord(ref.path, physical=False).d_signal.T)
    assert list(ecg.gain) == [1000.0] * 12


def test_rates_are_independent_arrays(data_dir):
    hr = open_source("ptbxl", data_dir / "ptbxl", rate=500)
    lr = open_source("ptbxl", data_dir / "ptbxl", rate=100)
    a, b = hr.load(hr.get("2")), lr.load(lr.get("2"))
    assert a.n_samples == 5000 and b.n_samples == 1000
    assert not np.array_equal(a.signal[:, ::5], b.signal)


def test_absent_record_file_is_a_source_error(data_dir):
    src = open_source("ptbxl", data_dir / "ptbxl")
    ref = src.get("ptbxl:11")  # in the table, files not shipped here
    with pytest.raises(SourceError, match=r"00011_hr\.hea: header file not found"):
        src.load(ref)


def test_bad_rows_are_reported_not_skipped(data_dir, tmp_path):
    root = tmp_path / "ptbxl"
    shutil.copytree(data_dir / "ptbxl", root)
    db = root / "ptbxl_database.csv"
    lines = db.read_text().splitlines()
    lines[2] = lines[2].replace("'NORM'", "'1.0AVB'")           # Excel-mangled code: unknown label
    lines[3] = lines[3].replace("{'NORM'", "{'NORM'::")         # unparsable scp_codes
    db.write_text("\n".join(lines) + "\n")
    src = open_source("ptbxl", root)
    ids = [r.record_id for r in src.scan()]
    assert len(ids) == 498
    reasons = {e.record_id: str(e) for e in src.errors}
    assert "unknown SCP code '1.0AVB'" in reasons["ptbxl:2"] and "ptbxl_database.csv" in reasons["ptbxl:2"]
    assert "malformed row" in reasons["ptbxl:3"] and "ptbxl_database.csv:4" in reasons["ptbxl:3"]


def test_nan_only_lead(data_dir, tmp_path):
    from ecgcorpus.sources.base import check_finite_leads

    src = open_source("ptbxl", data_dir / "ptbxl")
    ecg = src.load(src.get("1"))
    ecg.digital = ecg.digital.copy()
    ecg.digital[4] = -32768
    ecg.physical = None
    assert ecg.nan_runs() == [("aVL", 0, 5000)]
    with pytest.raises(SourceError, match="lead.s. aVL contain only NaN"):
        check_finite_leads(ecg, "x.dat")


def test_wrong_rate_option(data_dir):
    with pytest.raises(SourceError, match="rate must be 100 or 500"):
        open_source("ptbxl", data_dir / "ptbxl", rate=250)


def test_report_language_is_not_fooled_by_shared_stems():
    """English "ischemia" holds Swedish "ischemi", German "rhythmus" holds "rhythm": each is
    counted for its own language only (an English report must not be skipped as Swedish)."""
    from ecgcorpus.reports import detect_report_language

    assert detect_report_language("myocardial ischemia") == "en"
    assert detect_report_language("lateral ischemic st changes") == "en"
    assert detect_report_language("sinusrytm ischemi i lateralt") == "sv"
    assert detect_report_language("sinusrhythmus lagetyp normal") == "de"

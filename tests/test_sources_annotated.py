"""Beat-annotated WFDB (MIT-BIH record 100, genuine)."""

import numpy as np
import wfdb

from ecgcorpus.sources import open_source


def test_scan_and_load_mitdb_100(data_dir):
    src = open_source("wfdb-annotated", data_dir / "mitdb")
    (ref,) = list(src.scan())
    assert ref.record_id == "wfdb-annotated:100" and ref.fs == 360 and ref.n_samples == 650000
    assert ref.leads == ("II", "V5") and ref.extra["channel_names"] == ["MLII", "V5"]
    assert (ref.age, ref.sex) == ("69", "M")
    ecg = src.load(ref)
    raw = wfdb.rdrecord(ref.path)
    assert np.array_equal(ecg.signal, raw.p_signal.T)
    counts = src.beat_counts(ref)
    assert counts["N"] == 2239 and counts["A"] == 33 and counts["V"] == 1
    ann = src.annotations(ref)
    assert ann.aux_note[0] == "(N" and ann.fs == 360 and np.all(np.diff(ann.sample) > 0)


def test_record_without_annotations_is_reported(data_dir, tmp_path):
    import shutil

    for ext in ("hea", "dat"):
        shutil.copy(data_dir / f"mitdb/100.{ext}", tmp_path / f"100.{ext}")
    src = open_source("wfdb-annotated", tmp_path)
    assert list(src.scan()) == []
    assert "no .atr annotation file" in str(src.errors[0])

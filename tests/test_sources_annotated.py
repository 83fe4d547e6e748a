"""Beat-annotated WFDB (MIT-BIH record 100, genuine)."""

import numpy as np
import pytest
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


def test_european_st_t_and_mit_bih_st_fixtures_read_in_their_layouts(fixture_tree):
    """edb: 250 Hz, channels such as MLIII/V4 and D3/V1, S beats, ST and T episode marks that are not
    rhythms; stdb: 360 Hz, both channels named ECG, read as MLII and V1 (anyECG's assumption)."""
    from ecgcorpus.localize.annotated import rhythm_episodes

    edb = open_source("wfdb-annotated", fixture_tree / "edb")
    refs = list(edb.scan())
    assert edb.errors == [] and {r.fs for r in refs} == {250.0}
    assert {r.leads for r in refs} >= {("III", "V4"), ("III", "V1")}
    symbols = set()
    for ref in refs:
        ann = edb.annotations(ref)
        symbols |= set(ann.symbol)
        episode_marks = [aux for sym, aux in zip(ann.symbol, ann.aux_note) if sym in ("s", "T")]
        assert {m.strip() for m in episode_marks} == {"(ST0+", "ST0+)", "(T1-", "T1-)"}
        assert [code for code, _, _ in rhythm_episodes(ann, ref.n_samples)] == ["N"]   # not "ST0+"
        assert edb.load(ref).leads == ref.leads
    assert "S" in symbols and "A" not in symbols                  # edb names an atrial premature beat S
    stdb = open_source("wfdb-annotated", fixture_tree / "stdb")
    refs = list(stdb.scan())
    assert stdb.errors == [] and {r.fs for r in refs} == {360.0}
    for ref in refs:
        assert ref.extra["channel_names"] == ["ECG", "ECG"] and ref.leads == ("II", "V1")
        assert stdb.load(ref).leads == ("II", "V1")


def test_a_source_key_a_builder_names_must_exist(fixture_tree, tmp_path):
    from ecgcorpus.manifest import ManifestError, load_manifest

    def manifest(datasets, sources="[mitdb]"):
        (tmp_path / "m.yaml").write_text(
            f'name: x\nsources: [{{name: wfdb-annotated, root: "{fixture_tree}/mitdb", alias: mitdb}}]\n'
            f'builders:\n  - type: localization\n    sources: {sources}\n    params:\n      datasets: {datasets}\n')
        return load_manifest(tmp_path / "m.yaml")

    assert manifest("{mitdb: mit_bih_arrhythmia}").builders[0].params["datasets"] == {"mitdb": "mit_bih_arrhythmia"}
    with pytest.raises(ManifestError, match=r"m.yaml:7: builders.0.params.datasets: unknown source key\(s\) 'mitbd' \(this builder reads: mitdb\)"):
        manifest("{mitbd: mit_bih_arrhythmia}")
    with pytest.raises(ManifestError, match=r"m.yaml:5: builders.0.sources: unknown source key\(s\) 'edb' \(the manifest's sources: mitdb\)"):
        manifest("{}", sources="[mitdb, edb]")

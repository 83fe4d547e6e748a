"""Localization builders end to end: anyECG windows on record 100, reduced-lead crops, composed strips."""

import hashlib
import json

import datasets
import numpy as np
import pytest
import yaml

from ecgcorpus.builders.localization import LocalizationBuilder
from ecgcorpus.engine.build import build
from ecgcorpus.localize import parse_answer
from ecgcorpus.localize.annotated import locate_beats
from ecgcorpus.localize.answer import round_tenth
from ecgcorpus.localize.compose import Piece, compose_strip
from ecgcorpus.localize.detect import consensus_r_peaks
from ecgcorpus.manifest import BuilderSpec, Manifest, load_manifest
from ecgcorpus.prompts import load_prompts
from ecgcorpus.sources import open_source
from ecgcorpus.sources.annotated import read_annotations
from ecgcorpus.types import ECG


def write_manifest(path, sources, builders, seed=5, ratios=None):
    doc = {"name": "loc-test", "seed": seed, "sources": sources, "builders": builders,
           "splits": {"policy": "patient", "ratios": ratios or {"train": 1.0, "validation": 0.0, "test": 0.0}},
           "output": {"dir": str(path.parent / "out"), "max_rows_per_shard": 100}}
    path.write_text(yaml.safe_dump(doc))
    return load_manifest(path)


def rows(out_dir, config):
    ds = datasets.load_dataset("parquet", data_dir=str(out_dir / "data" / config), split="train")
    return [dict(r, meta=json.loads(r["meta"])) for r in ds]


def shard_hashes(out_dir):
    return {p.relative_to(out_dir).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((out_dir / "data").rglob("*.parquet"))}


ANYECG_PARAMS = {"profile": "anyecg", "beat_types": ["A", "V", "L", "R", "S"], "windows_per_type": 2,
                 "negative_ratio": 0.5, "datasets": {"wfdb-annotated": "mit_bih_arrhythmia"}}


@pytest.fixture(scope="module")
def record100_build(tmp_path_factory, data_dir):
    built = []
    for k in range(2):
        base = tmp_path_factory.mktemp(f"loc100-{k}")
        manifest = write_manifest(base / "m.yaml", [{"name": "wfdb-annotated", "root": str(data_dir / "mitdb")}],
                                  [{"type": "localization", "config": "location", "params": ANYECG_PARAMS}])
        build(manifest, workers=1, resume=False, progress=False)
        built.append(base / "out")
    return built


def test_record_100_build_answers_follow_the_annotations(record100_build, data_dir):
    out = record100_build[0]
    samples = rows(out, "location")
    ann = read_annotations(str(data_dir / "mitdb" / "100"))
    templates = load_prompts("localization")["anyecg"]
    assert {r["task"] for r in samples} == {"location", "location_long"}
    assert {r["meta"]["placement"] for r in samples} >= {"offset", "negative"}
    for r in samples:
        m, (ecg,) = r["meta"], r["ecgs"]
        start, stop = m["ecg_start"], m["ecg_end"]
        assert (ecg["start"], ecg["stop"]) == (start, stop) and ecg["leads"] == ["II", "V5"]
        assert len(ecg["signal"][0]) == stop - start                     # native rate, one contiguous crop
        if r["task"] == "location":
            assert stop - start == 3600
        else:
            assert 3600 <= stop - start <= 21600
        answer = r["conversations"][1]["value"]
        assert answer == locate_beats(ann, m["abnormal_type"], start, stop).answer
        assert parse_answer(answer) == [tuple(i) for i in m["intervals"]]
        question = r["conversations"][0]["value"]
        assert question.startswith("<ecg>\n")
        name = m["abnormal_name"]
        assert question[len("<ecg>\n"):] in {t.replace("{}", name) for t in templates}
        assert m["anyecg_leads"] == {"channels": ["MLII", "V5"], "slots": ["II", "V5"]}
        assert m["dataset"] == "mit_bih_arrhythmia"
        if m["placement"] == "offset":
            assert 11 <= m["events"][0] <= 936                             # 0.03–2.6 s after the start
        if m["placement"] == "negative":
            assert answer == f"No {name} Found"
        else:
            assert answer.startswith("Duration: ")


def test_record_100_build_is_deterministic(record100_build):
    first, second = (shard_hashes(out) for out in record100_build)
    assert first and first == second


def test_reduced_lead_crops_keep_only_the_asked_leads(tmp_path, fixture_tree):
    sets = [["I"], ["II"], ["I", "II"]]
    sources = [{"name": "sph", "root": str(fixture_tree / "sph")},
               {"name": "cpsc2018", "root": str(fixture_tree / "cpsc2018")},
               {"name": "ptbxl", "root": str(fixture_tree / "ptbxl"), "options": {"rate": 500}}]
    params = {"lead_sets": sets, "windows": [{"task": "location", "length_s": 10},
                                             {"task": "location_long", "length_s": [10, 60]}]}
    manifest = write_manifest(tmp_path / "m.yaml", sources, [{"type": "localization", "config": "reduced",
                                                              "params": params}])
    build(manifest, workers=1, resume=False, progress=False)
    samples = rows(tmp_path / "out", "reduced")
    assert samples and any(r["meta"]["placement"] != "negative" for r in samples)
    for r in samples:
        (ecg,), m = r["ecgs"], r["meta"]
        assert ecg["leads"] in sets and len(ecg["signal"]) == len(ecg["leads"]) == len(m["leads"])
        assert len(ecg["signal"][0]) == ecg["stop"] - ecg["start"]
        assert m["abnormal_type"] == "premature" and m["reduced_leads"] is True
        answer = r["conversations"][1]["value"]
        if m["placement"] == "negative":
            assert answer == "No Premature beat Found"
        else:
            # every premature beat found lies inside an answered interval
            spans = parse_answer(answer)
            assert spans and all(any(a <= e / ecg["fs"] + 0.05 and e / ecg["fs"] - 0.05 <= b for a, b in spans)
                                 for e in m["events"])
    reasons = [json.loads(line)["reason"] for line in (tmp_path / "out" / "quarantine.jsonl").read_text().splitlines()]
    assert any("irregular rhythm label" in reason for reason in reasons)      # AF records are not asked
    check_collate_pads_leads_and_lengths(tmp_path / "out", samples)


def check_collate_pads_leads_and_lengths(out, samples):
    """Reduced-lead windows of several lengths collate into one array: the lead axis is the
    union (I, II), zeros where a window lacks a lead, lengths padded, values in mV."""
    import pyarrow.parquet as pq

    from ecgcorpus.collate import collate_ecgs, ecg_batch
    from ecgcorpus.hf import signal_mv

    table = pq.read_table(sorted((out / "data" / "reduced").glob("*.parquet"))[0])
    batch = ecg_batch(table)
    stored = [ecg for row in table.column("ecgs").to_pylist() for ecg in row]
    assert {tuple(e["leads"]) for e in stored} > {("I",)} and len({e["stop"] - e["start"] for e in stored}) > 1
    assert batch.leads == ("I", "II") and batch.signals.dtype == np.float32
    assert batch.signals.shape == (len(stored), 2, max(e["stop"] - e["start"] for e in stored))
    for k, ecg in enumerate(stored):
        mv, n = signal_mv(ecg), ecg["stop"] - ecg["start"]
        assert batch.lengths[k] == n and list(batch.present[k]) == [lead in ecg["leads"] for lead in ("I", "II")]
        for i, lead in enumerate(ecg["leads"]):
            np.testing.assert_allclose(batch.signals[k, batch.leads.index(lead), :n], mv[i], rtol=1e-6, atol=1e-6)
        assert not batch.signals[k, :, n:].any() and not batch.signals[k, ~batch.present[k]].any()
    assert tuple(collate_ecgs(table).shape) == batch.signals.shape


def test_a_record_lacking_a_lead_of_the_set_is_skipped(data_dir):
    spec = BuilderSpec(type="localization", params={"lead_sets": [["I"], ["II"]]})
    builder = LocalizationBuilder(spec, Manifest(name="x", sources=[], builders=[spec]))
    (ref,) = open_source("wfdb-annotated", data_dir / "mitdb").scan()
    assert builder.skip_reason(ref) == "record lacks lead(s) I of lead set I"
    spec = BuilderSpec(type="localization", params={"lead_sets": [["II"]]})
    assert LocalizationBuilder(spec, Manifest(name="x", sources=[], builders=[spec])).skip_reason(ref) is None


def test_composed_strips_join_seamlessly_at_r_peaks(tmp_path, fixture_tree):
    sources = [{"name": "chapman", "root": str(fixture_tree / "chapman")},
               {"name": "cpsc2018", "root": str(fixture_tree / "cpsc2018")}]
    manifest = write_manifest(tmp_path / "m.yaml", sources, [{"type": "rhythm_strips", "config": "strips",
                                                              "params": {"lead_sets": [["I", "II"]]}}])
    summary = build(manifest, workers=1, resume=False, progress=False)
    samples = rows(tmp_path / "out", "strips")
    assert samples and any(r["meta"]["placement"] == "composed" for r in samples)
    entries = [json.loads(line) for line in (tmp_path / "out" / "quarantine.jsonl").read_text().splitlines()]
    assert not [e for e in entries if e["stage"] == "build"] and not summary.problems
    loaded = {}
    for r in samples:
        (ecg,), m = r["ecgs"], r["meta"]
        assert m["composed"] is True and ecg["record_id"].split(":")[1].startswith("composed-")
        x = (np.asarray(ecg["signal"], float) - np.asarray(ecg["baseline"])[:, None]) / np.asarray(ecg["gain"])[:, None]
        pieces = m["pieces"]
        assert len({p["record_id"] for p in pieces}) == len(pieces) >= 2
        assert pieces[0]["strip_start"] == 0 and pieces[-1]["strip_stop"] == x.shape[1] == ecg["stop"]
        assert all(a["strip_stop"] == b["strip_start"] for a, b in zip(pieces, pieces[1:]))
        # each piece is its record's samples, scaled and shifted per lead as meta says
        for p in pieces:
            source = "chapman" if p["record_id"].startswith("chapman") else "cpsc2018"
            if p["record_id"] not in loaded:
                src = open_source(source, fixture_tree / source)
                loaded[p["record_id"]] = src.load(src.get(p["record_id"])).select(["I", "II"]).signal
            raw = loaded[p["record_id"]][:, p["start"]:p["stop"]]
            rebuilt = raw * np.asarray(p["scale"])[:, None] + np.asarray(p["offset_mv"])[:, None]
            assert np.abs(rebuilt - x[:, p["strip_start"]:p["strip_stop"]]).max() < 0.01
        # no step at a join: the jump is within the strip's ordinary sample-to-sample variation
        steps = np.abs(np.diff(x, axis=1))
        ordinary = np.percentile(steps, 99, axis=1)
        for cut in m["cuts"]:
            assert np.all(steps[:, cut["sample"]] <= ordinary)
            assert 0.04 <= cut["before_r_s"] <= 0.14
        # the join sits just before an R peak of the strip (it cuts in the PR segment)
        peaks, _ = consensus_r_peaks(ECG("strip", ecg["fs"], ("I", "II"), physical=x), ["II", "I"])
        for cut in m["cuts"]:
            after = peaks[peaks > cut["sample"]][0] - cut["sample"]
            assert abs(after / ecg["fs"] - cut["before_r_s"]) <= 0.03
        # the answer: the spans of the episode pieces
        expected = [(round_tenth(p["strip_start"] / ecg["fs"]), round_tenth(p["strip_stop"] / ecg["fs"]))
                    for p in pieces if p["episode"]]
        spans = parse_answer(r["conversations"][1]["value"])
        if m["placement"] == "negative":
            assert spans == [] and not expected
        else:
            assert len(spans) >= 1 and spans[0][0] == pytest.approx(expected[0][0], abs=0.051)
            assert all(any(a - 0.051 <= s and e <= b + 0.051 for a, b in spans) for s, e in expected)


def test_compose_strip_unit(fixture_tree):
    src = open_source("chapman", fixture_tree / "chapman")
    refs = list(src.scan())[:3]
    pieces = []
    for k, ref in enumerate(refs):
        ecg = src.load(ref)
        peaks, _ = consensus_r_peaks(ecg, ["II", "I", "V5"])
        pieces.append(Piece(ref, ecg.select(["II"]), 0, "r", "c", k == 1, peaks))
    strip = compose_strip(pieces, match_amplitude=False)
    x = strip.ecg.signal[0]
    assert [p["scale"] for p in strip.pieces] == [[1.0]] * 3
    for cut in strip.cuts:
        c = cut["sample"]
        assert abs(x[c + 1] - x[c]) <= np.percentile(np.abs(np.diff(x)), 99)
    assert strip.ecg.n_samples == sum(p["stop"] - p["start"] for p in strip.pieces)


def test_strip_records_without_a_partner_are_rejected_at_planning(fixture_tree):
    """A patient whose records all have the same rhythm class cannot make a strip: each of those
    records is returned as a SourceError by plan() (quarantined at planning), none becomes an item."""
    from dataclasses import replace

    from ecgcorpus.builders.localization_strips import RhythmStripBuilder
    from ecgcorpus.errors import SourceError

    spec = BuilderSpec(type="rhythm_strips", config="strips")
    builder = RhythmStripBuilder(spec, Manifest(name="x", sources=[], builders=[spec]))
    refs = [r for r in open_source("chapman", fixture_tree / "chapman").scan() if builder.skip_reason(r) is None]
    kinds = {r.record_id: builder._rhythm(r)[0] for r in refs}
    background = [replace(r, patient_id="p1") for r in refs if kinds[r.record_id] == "background"][:2]
    mixed = [replace(r, patient_id="p2") for r in refs if kinds[r.record_id] == "background"][2:3]
    mixed += [replace(r, patient_id="p2") for r in refs if kinds[r.record_id] == "episode"][:1]
    assert len(background) == 2 and len(mixed) == 2
    planned = builder.plan(background + mixed)
    errors = [p for p in planned if isinstance(p, SourceError)]
    items = [p for p in planned if not isinstance(p, SourceError)]
    assert sorted(e.record_id for e in errors) == sorted(r.record_id for r in background)
    assert all("patient p1 have 2 background and 0 episode" in e.problem for e in errors)
    assert [sorted(r.record_id for r in item.refs) for item in items] == [sorted(r.record_id for r in mixed)]

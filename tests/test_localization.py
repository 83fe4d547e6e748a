"""Localization answers: the grammar, the interval rule on genuine MIT-BIH record 100, parser + IoU, CLI."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from ecgcorpus.cli import main
from ecgcorpus.errors import EcgCorpusError
from ecgcorpus.localize import (beat_intervals, beat_name, format_answer, interval_iou, is_beat, merge_intervals,
                                parse_answer, rhythm_name)
from ecgcorpus.localize.annotated import beats_only, locate_beats, locate_rhythm, rhythm_episodes
from ecgcorpus.localize.answer import localize
from ecgcorpus.localize.anyecg_leads import anyecg_lead_slots
from ecgcorpus.localize.detect import consensus_r_peaks, premature_mask
from ecgcorpus.localize.windows import negative_start, positive_start
from ecgcorpus.prompts import load_prompts
from ecgcorpus.sources import open_source
from ecgcorpus.sources.annotated import Annotations, read_annotations


@pytest.fixture(scope="module")
def rec100(data_dir):
    return read_annotations(str(data_dir / "mitdb" / "100"))


def annotations(pairs, fs=100.0):
    samples, symbols = zip(*pairs)
    return Annotations(np.asarray(samples, dtype=np.int64), tuple(symbols), ("",) * len(pairs), fs)


# -- the PhysioNet table ---------------------------------------------------------------------------------

def test_beat_names_are_physionets_not_wfdbs():
    assert beat_name("A") == "Atrial premature beat"           # wfdb 4.3: "Atrial premature contraction"
    assert beat_name("V") == "Premature ventricular contraction"
    assert beat_name("L") == "Left bundle branch block beat"
    assert beat_name("R") == "Right bundle branch block beat"
    assert beat_name("S") == "Supraventricular premature or ectopic beat (atrial or nodal)"
    assert beat_name("N") == "Normal beat"
    assert rhythm_name("AFIB") == rhythm_name("(AFIB") == "Atrial fibrillation"
    assert not is_beat("+") and not is_beat("~") and not is_beat("!") and is_beat("/")
    with pytest.raises(EcgCorpusError, match="not a PhysioNet beat"):
        beat_name("+")


# -- grammar: merging, clipping, formatting ------------------------------------------------------------------

def test_merge_joins_overlapping_and_touching_intervals():
    assert merge_intervals([(5, 8), (1, 3), (3, 4), (7, 10), (12, 13)]) == [(1, 4), (5, 10), (12, 13)]


def test_format_answer_grammar():
    assert format_answer([[0.4, 3.7], [4.6, 9.3]], "X") == "Duration: 0.4s-3.7s, 4.6s-9.3s"
    assert format_answer([], "Left bundle branch block beat") == "No Left bundle branch block beat Found"
    # one decimal, from samples: 1199 / 360 = 3.3306 s
    assert localize([(0, 1199)], 0, 3600, 360.0, "A").answer == "Duration: 0.0s-3.3s"


def test_neighbours_skip_non_beat_annotations():
    # '+' before the A and '~' before the last A are not beats: the neighbours are the N beats.
    ann = annotations([(100, "N"), (150, "+"), (200, "A"), (300, "N"), (800, "N"), (850, "~"), (900, "A")])
    assert locate_beats(ann, "A", 0, 1000).answer == "Duration: 1.0s-3.0s, 8.0s-10.0s"
    samples, symbols = beats_only(ann)
    assert list(symbols) == ["N", "A", "N", "N", "A"] and samples[-1] == 900


def test_adjacent_targets_merge_and_edges_clip():
    ann = annotations([(100, "N"), (300, "N"), (400, "A"), (500, "A"), (600, "N"), (700, "A"), (800, "N"),
                       (950, "V")])
    # A@400 [300,500], A@500 [400,600], A@700 [600,800]: overlapping/touching → one interval
    assert locate_beats(ann, "A", 0, 1000).answer == "Duration: 3.0s-8.0s"
    # window [350, 750): the first interval starts before the window, the last one ends after it
    assert locate_beats(ann, "A", 350, 750).answer == "Duration: 0.0s-4.0s"
    # the last beat of the record has no following beat: its interval runs to the window end
    assert locate_beats(ann, "V", 0, 1000).answer == "Duration: 8.0s-10.0s"
    assert beat_intervals([100, 300], [False, True], 0, 250) == []   # target outside the window


# -- genuine MIT-BIH record 100 (33 A beats, 1 V), fs 360; expectations computed by hand ----------------------

def test_record_100_has_its_beats(rec100):
    samples, symbols = beats_only(rec100)
    assert (symbols == "A").sum() == 33 and (symbols == "V").sum() == 1 and len(samples) == 2273
    assert rhythm_episodes(rec100, 650000) == [("N", 18, 650000)]


@pytest.mark.parametrize("start, stop, symbol, expected", [
    # A@2044 (0.34 s) between N@1809 (−0.31 s) and N@2402 (1.33 s): the example of the anyECG notes
    (1922, 5522, "A", "Duration: 0.0s-1.3s"),
    # A@305709 [305497, 306035] → 0.27–1.76 s; A@307745 [307514, 308062] → 5.87–7.39 s
    (305400, 309000, "A", "Duration: 0.3s-1.8s, 5.9s-7.4s"),
    # A@421994 [421766, 422320] → 0.18–1.72 s; A@422818 [422603, 423164] → 2.51–4.07 s
    (421700, 425300, "A", "Duration: 0.2s-1.7s, 2.5s-4.1s"),
    # A@629171 [628981, 629494]: 8.84 s to past the end → clipped to 10.0 s
    (625800, 629400, "A", "Duration: 8.8s-10.0s"),
    # the one V, at 546792 [546599, 547199] → 1.66–3.33 s
    (546000, 549600, "V", "Duration: 1.7s-3.3s"),
    # a long window (55.6 s) with five A beats
    (305000, 325000, "A", "Duration: 1.4s-2.9s, 7.0s-8.5s, 21.1s-22.8s, 34.9s-36.5s, 38.9s-40.5s"),
    (2500, 6100, "A", "No Atrial premature beat Found"),                      # between A beats
    (1922, 5522, "L", "No Left bundle branch block beat Found"),              # a type record 100 never has
])
def test_record_100_windows(rec100, start, stop, symbol, expected):
    loc = locate_beats(rec100, symbol, start, stop)
    assert loc.answer == expected
    assert parse_answer(loc.answer) == [tuple(i) for i in loc.intervals_s]


def test_record_100_rhythm(rec100):
    # the rhythm starts at sample 18 (0.05 s): numpy.round(0.05, 1) is 0.0 (half to even), as anyECG writes
    assert locate_rhythm(rec100, "N", 0, 3600, 650000).answer == "Duration: 0.0s-10.0s"
    assert locate_rhythm(rec100, "AFIB", 0, 3600, 650000).answer == "No Atrial fibrillation Found"


# -- parser and IoU ------------------------------------------------------------------------------------------

def test_parse_answer():
    assert parse_answer("Duration: 0.4s-3.7s, 4.6s-9.3s") == [(0.4, 3.7), (4.6, 9.3)]
    assert parse_answer("duration: 1.9s - 3.1s,6.8 s-8.1s.") == [(1.9, 3.1), (6.8, 8.1)]
    assert parse_answer("No Left bundle branch block beat Found") == []
    assert parse_answer("The beat is at 3 s") is None
    assert parse_answer("Duration: 5.0s-2.0s") is None
    assert parse_answer("Duration: 1.0s-2.0s, soon") is None


def test_interval_iou_hand_cases():
    assert interval_iou([(0, 2)], [(1, 3)]) == pytest.approx(1 / 3)
    assert interval_iou([(0, 1), (2, 3)], [(0, 3)]) == pytest.approx(2 / 3)
    assert interval_iou([(0, 2), (1, 3)], [(0, 3)]) == pytest.approx(1.0)      # overlapping predictions unioned
    assert interval_iou("Duration: 0.0s-2.0s", "Duration: 1.0s-3.0s") == pytest.approx(1 / 3)
    assert interval_iou("No A Found", "No Atrial premature beat Found") == 1.0
    assert interval_iou("No Atrial premature beat Found", "Duration: 1.0s-3.0s") == 0.0
    assert interval_iou("Duration: 1.0s-3.0s", "No Atrial premature beat Found") == 0.0
    assert interval_iou("I cannot tell", "Duration: 1.0s-3.0s") == 0.0
    assert interval_iou("Duration: 0.0s-1.3s", "Duration: 0.0s-1.3s") == 1.0
    with pytest.raises(ValueError):
        interval_iou("Duration: 0.0s-1.3s", "not an answer")


# -- window placement, templates, lead slots -------------------------------------------------------------------

def test_positive_windows_put_the_first_target_shortly_after_the_start():
    rng = np.random.default_rng(0)
    events = [5000, 5600, 20000]
    for _ in range(50):
        start, how = positive_start(rng, events, 1, 3600, 100000, 360.0)
        assert how == "offset" and 11 <= 5600 - start <= 936 and start > 5000   # A@5000 stays outside
    start, how = positive_start(rng, [100], 0, 3600, 3600, 360.0)              # whole-record window
    assert (start, how) == (0, "offset")
    assert positive_start(rng, [100, 3000], 1, 3600, 3600, 360.0) is None     # cannot exclude the first
    for _ in range(20):
        start = negative_start(rng, [(e, e + 1) for e in events], 3600, 100000)
        assert not any(start <= e < start + 3600 for e in events)


def test_question_templates():
    prompts = load_prompts("localization")
    assert len(prompts["anyecg"]) == 18 and len(set(prompts["anyecg"])) == 18
    assert ("Assess this ECG and specify the location of the {}.Where does the {} appear in this ECG?"
            in prompts["anyecg"])
    for key in ("questions", "episode_questions"):
        assert len(prompts[key]) >= 10 and all("{}" in q for q in prompts[key])
        assert not set(prompts[key]) & set(prompts["anyecg"])


def test_anyecg_lead_slots():
    assert anyecg_lead_slots(["MLII", "V5"]) == ["II", "V5"]
    assert anyecg_lead_slots(["MLIII", "V1"]) == ["III", "V1"]
    assert anyecg_lead_slots(["ECG", "ECG"]) == ["II", "V1"]      # MIT-BIH ST: assumed MLII, V1
    assert anyecg_lead_slots(["ecg"]) == ["I"]
    assert anyecg_lead_slots(["D3", "V4"]) == ["III", "V4"]
    assert anyecg_lead_slots(["CM5"]) == [None]


# -- premature beats from the RR series ------------------------------------------------------------------------

def test_premature_rule_on_a_hand_made_rr_series():
    fs = 500
    regular = list(np.arange(0, 12) * fs)
    peaks = regular[:6] + [regular[5] + 350] + [regular[5] + 1000 + k * fs for k in range(6)]  # 0.7 then 1.3 RR
    assert list(np.flatnonzero(premature_mask(peaks))) == [6]
    sinus = np.cumsum(fs * (1 + 0.04 * np.sin(np.arange(30) / 2)))         # respiratory ±4 %: nothing
    assert not premature_mask(sinus).any()


def test_premature_rule_finds_record_100s_annotated_premature_beats(rec100):
    samples, symbols = beats_only(rec100)
    called = premature_mask(samples)
    assert list(samples[called]) == list(samples[np.isin(symbols, ["A", "V"])])   # 34 of 34, nothing else


def test_neurokit2_peaks_agree_with_record_100s_annotations(data_dir):
    src = open_source("wfdb-annotated", data_dir / "mitdb")
    (ref,) = src.scan()
    ecg = src.load(ref).crop(0, 108000)                                        # the first 5 minutes
    peaks, used = consensus_r_peaks(ecg, ["II", "I", "V5"])
    assert used == ["II", "V5"]
    samples, symbols = beats_only(src.annotations(ref))
    inside = samples < 108000
    samples, symbols = samples[inside], symbols[inside]
    nearest = np.abs(samples[:, None] - peaks[None, :]).min(axis=1)
    assert (nearest <= 18).mean() > 0.99                                       # within 50 ms
    called = peaks[premature_mask(peaks)]
    annotated = samples[np.isin(symbols, ["A", "V"])]
    assert len(called) == len(annotated) == 4
    assert np.abs(called - annotated).max() <= 18


# -- CLI -------------------------------------------------------------------------------------------------------

def test_cli_localize(data_dir):
    record = str(data_dir / "mitdb" / "100")
    runner = CliRunner()
    result = runner.invoke(main, ["localize", record, "--start", "1922", "--end", "5522", "--beat", "A"])
    assert result.exit_code == 0 and result.output == "Duration: 0.0s-1.3s\n"
    result = runner.invoke(main, ["localize", record, "--start", "1922", "--end", "5522", "--beat", "L",
                                  "--profile", "anyecg"])
    assert result.output == "No Left bundle branch block beat Found\n"
    result = runner.invoke(main, ["localize", record, "--start", "305400", "--end", "309000", "--beat", "A", "--json"])
    doc = json.loads(result.output)
    assert doc["intervals"] == [[0.3, 1.8], [5.9, 7.4]] and doc["abnormal_name"] == "Atrial premature beat"
    assert doc["events"] == [309, 2345]
    result = runner.invoke(main, ["localize", record, "--start", "0", "--end", "999999999", "--beat", "A"])
    assert result.exit_code == 1 and "650000" in result.output and "Traceback" not in result.output
    result = runner.invoke(main, ["localize", record, "--start", "0", "--end", "3600", "--beat", "Z"])
    assert result.exit_code == 1 and "not a PhysioNet beat" in result.output
    result = runner.invoke(main, ["localize", record + "x", "--start", "0", "--end", "3600", "--beat", "A"])
    assert result.exit_code == 1 and "no WFDB header" in result.output


def test_interval_ends_round_as_numpy_round_does():
    """anyECG's numpy.round(x, 1): 918/360 s is 2.6 (f"{x:.1f}" gives 2.5), ties go to even."""
    import numpy as np

    from ecgcorpus.localize.answer import format_seconds

    assert format_seconds(918 / 360) == "2.6" and f"{918 / 360:.1f}" == "2.5"
    for samples in range(0, 3600):
        x = samples / 360
        assert float(format_seconds(x)) == float(np.round(x, 1))


def test_cli_localize_answers_a_file_of_windows_as_one_by_one(data_dir, tmp_path):
    record = str(data_dir / "mitdb" / "100")
    windows = [{"record": record, "start": 1922, "end": 5522, "beat": "A"},
               {"record": record, "start": 305400, "end": 309000, "beat": "A"},
               {"record": record, "start": 0, "end": 3600, "rhythm": "N"},
               {"record": record, "start": 1922, "end": 5522, "beat": "L"}]
    path = tmp_path / "windows.jsonl"
    path.write_text("\n".join(json.dumps(w) for w in windows) + "\n")
    runner = CliRunner()
    batch = runner.invoke(main, ["localize", "--windows", str(path)])
    assert batch.exit_code == 0, batch.output
    answers = [json.loads(line) for line in batch.output.splitlines()]
    for w, got in zip(windows, answers):
        args = ["localize", record, "--start", str(w["start"]), "--end", str(w["end"])]
        args += ["--beat", w["beat"]] if "beat" in w else ["--rhythm", w["rhythm"]]
        assert got["answer"] == runner.invoke(main, args).output.strip()
    assert [a["answer"] for a in answers][:2] == ["Duration: 0.0s-1.3s", "Duration: 0.3s-1.8s, 5.9s-7.4s"]
    path.write_text(json.dumps({"record": record, "start": 0, "end": 99999999, "beat": "A"}) + "\n")
    bad = runner.invoke(main, ["localize", "--windows", str(path)])
    assert bad.exit_code == 1 and "windows.jsonl:1:" in bad.output and "650000" in bad.output

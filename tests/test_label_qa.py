"""Label QA: answers follow the record's harmonized labels, distractors never are one of them."""

import json
from dataclasses import replace

import pytest
from corpus_rows import rows

from ecgcorpus.builders.label_qa import LabelQAParams
from ecgcorpus.builders.qa_labels import distractors, vocabulary
from ecgcorpus.engine.build import build
from ecgcorpus.manifest import load_manifest
from ecgcorpus.reports import case_terms
from ecgcorpus.types import Label, RecordRef

MANIFEST = """\
name: label-qa-test
seed: 9
sources:
  - {{name: ptbxl, root: "{root}/ptbxl"}}
  - {{name: sph, root: "{root}/sph"}}
  - {{name: cpsc2018, root: "{root}/cpsc2018"}}
  - {{name: mimic, root: "{root}/mimic-iv-ecg", limit: 3}}
profile: {{duration_s: 10}}
builders:
  - {{type: label_qa, params: {{samples_per_record: 4}}}}
  - {{type: label_qa, config: label_qa_anyecg, sources: [ptbxl], params: {{profile: anyecg, samples_per_record: 3}}}}
output: {{dir: "{out}", max_rows_per_shard: 20}}
"""


@pytest.fixture(scope="module")
def label_build(fixture_tree, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("label_qa")
    (tmp / "m.yaml").write_text(MANIFEST.format(root=fixture_tree, out=tmp / "out"))
    build(load_manifest(tmp / "m.yaml"), workers=1, progress=False)
    return tmp


def record_labels(row) -> set[str]:
    (entry,) = json.loads(row["meta"])["labels"]
    return {lab["name"] for lab in entry["labels"] if lab["name"]}


def source_vocabulary(samples) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for row in samples:
        out.setdefault(row["ecgs"][0]["source"], set()).update(record_labels(row))
    return out


def test_answers_follow_the_labels(label_build):
    samples = rows(label_build / "out", "label_qa")
    vocab = source_vocabulary(samples)
    kinds = set()
    for row in samples:
        meta, own = json.loads(row["meta"]), record_labels(row)
        human, gpt = (t["value"] for t in row["conversations"])
        assert human.count("<ecg>") == len(row["ecgs"]) == 1
        assert meta["template_id"].startswith("label_qa-")
        kind = meta["question_type"]
        kinds.add(kind)
        options = meta.get("options", [meta.get("asked")])
        assert set(options) <= vocab[row["ecgs"][0]["source"]]  # distractors come from the same source
        if kind == "single-verify":
            assert meta["answer"] == (["yes"] if meta["asked"] in own else ["no"])
            assert gpt.startswith("Yes" if meta["asked"] in own else "No")
        elif kind == "single-choose":
            assert len(options) == 2 and meta["answer"][0] in own and len(set(options) & own) == 1
        elif kind == "single-query":
            present = [o for o in options if o in own]
            assert meta["answer"] == (present or ["none"])
        else:
            assert kind == "mcq" and len(set(options) & own) == 1
            (truth,) = set(options) & own
            letter = "ABCDEFGH"[options.index(truth)]
            assert meta["answer"][0] == f"{letter}. {truth}"               # meta: the tables' names
            assert gpt == case_terms(meta["answer"][0]) and f"\n{case_terms(f'{letter}. {truth}')}" in human
    assert kinds == {"single-verify", "single-choose", "single-query", "mcq"}


def test_anyecg_profile_grammar(label_build):
    samples = rows(label_build / "out", "label_qa_anyecg")
    assert samples
    for row in samples:
        meta = json.loads(row["meta"])
        question, answer = (t["value"] for t in row["conversations"])
        assert question.endswith(" Please answer briefly.")
        assert answer == ", ".join(meta["answer"]).lower()
        assert meta["question_type"] in ("single-verify", "single-choose", "single-query")


def test_records_without_labels_are_quarantined(label_build):
    """MIMIC records carry the labels their machine statements map to; those whose report is only
    summary lines ("Borderline ECG") have none to ask about, and say so."""
    quarantine = [json.loads(line) for line in (label_build / "out" / "quarantine.jsonl").read_text().splitlines()]
    unlabeled = [q for q in quarantine if q["reason"] == "no harmonized labels to ask about"]
    built = {json.loads(r["meta"])["labels"][0]["record_id"].split(":")[0] for r in rows(label_build / "out", "label_qa")}
    assert "mimic" in built
    assert all(q["source"] == "mimic" for q in unlabeled)


def test_label_qa_build_is_deterministic(label_build, tmp_path):
    build(load_manifest(label_build / "m.yaml", out_dir=str(tmp_path / "again")), workers=2, progress=False)
    first, again = label_build / "out" / "data", tmp_path / "again" / "data"
    files = sorted(p.relative_to(first) for p in first.rglob("*.parquet"))
    assert files and files == sorted(p.relative_to(again) for p in again.rglob("*.parquet"))
    assert all((first / f).read_bytes() == (again / f).read_bytes() for f in files)


def ref_with(*names: tuple[str, str | None]) -> RecordRef:
    return RecordRef("ptbxl:1", "ptbxl", "1", "x", 500.0, 5000, ("II",),
                     labels=tuple(Label(code=c, snomed=s, name=n) for c, s, n in names))


def test_distractors_skip_broader_narrower_and_synonymous_labels():
    pool = [ref_with(("AMI", "54329005", "anterior myocardial infarction")),
            ref_with(("ISCIN", "425419005", "inferior ischaemia")),
            ref_with(("LPR", None, "prolonged pr interval")),
            ref_with(("AFIB", "164889003", "atrial fibrillation")),
            ref_with(("IMI", "164865005", "myocardial infarction"), ("ISC_", "164861001", "myocardial ischemia"),
                     ("1AVB", "270492004", "1st degree av block"))]
    vocab = vocabulary(pool)
    everything = frozenset(e.key for e in vocab)
    names = {e.name for e in distractors(vocab, replace(pool[-1], coverage=everything))}
    assert names == {"atrial fibrillation"}


def test_a_sinus_rhythm_variant_never_has_sinus_rhythm_offered_as_absent():
    """Sinus bradycardia, tachycardia and arrhythmia are sinus rhythms: "is sinus rhythm among the
    findings? No" would teach a falsehood. The converse stays a fair negative."""
    from ecgcorpus.sources.ptbxl import PtbXl

    sr = ref_with(("SR", "426783006", "sinus rhythm"))
    variants = [ref_with(("SBRAD", "426177001", "sinus bradycardia")), ref_with(("STACH", "427084000", "sinus tachycardia")),
                ref_with(("SARRH", "427393009", "sinus arrhythmia"))]
    afib = ref_with(("AFIB", "164889003", "atrial fibrillation"))
    vocab = vocabulary([sr, afib, *variants])
    source = PtbXl.__new__(PtbXl)
    for ref in variants:
        absent = {e.name for e in distractors(vocab, replace(ref, coverage=source.label_coverage(ref)))}
        assert "sinus rhythm" not in absent and "atrial fibrillation" in absent
    absent = {e.name for e in distractors(vocab, replace(sr, coverage=source.label_coverage(sr)))}
    assert {"sinus bradycardia", "sinus tachycardia", "atrial fibrillation"} <= absent


def test_only_concepts_the_source_annotated_exhaustively_are_distractors():
    """A PTB-XL record without a rhythm statement was not annotated for rhythm: "sinus rhythm" and
    "atrial fibrillation" may not be said to be absent. CPSC's "Normal" (harmonized as sinus rhythm)
    is never a negative, and a source that declares no coverage (MIMIC, SPH) gets no negatives."""
    from ecgcorpus.sources.cpsc2018 import Cpsc2018
    from ecgcorpus.sources.ptbxl import PtbXl

    lvh = ref_with(("LVH", "164873001", "left ventricular hypertrophy"))
    sr = ref_with(("SR", "426783006", "sinus rhythm"), ("LVH", "164873001", "left ventricular hypertrophy"))
    afib = ref_with(("AFIB", "164889003", "atrial fibrillation"))
    lbbb = ref_with(("CLBBB", "733534002", "complete left bundle branch block"))
    vocab = vocabulary([lvh, sr, afib, lbbb])
    source = PtbXl.__new__(PtbXl)                       # label_coverage reads only the record's labels
    no_rhythm = {e.name for e in distractors(vocab, replace(lvh, coverage=source.label_coverage(lvh)))}
    assert no_rhythm == {"complete left bundle branch block"}
    with_rhythm = {e.name for e in distractors(vocab, replace(sr, coverage=source.label_coverage(sr)))}
    assert with_rhythm == {"atrial fibrillation", "complete left bundle branch block"}
    assert distractors(vocab, lvh) == []                # no coverage declared: no negatives

    iavb = RecordRef("cpsc2018:A1988", "cpsc2018", "A1988", "x", 500.0, 5000, ("II",),
                     labels=(Label("I-AVB", "270492004", "1st degree av block"),))
    normal = RecordRef("cpsc2018:A0001", "cpsc2018", "A0001", "x", 500.0, 5000, ("II",),
                       labels=(Label("Normal", "426783006", "sinus rhythm"),))
    rbbb = RecordRef("cpsc2018:A0002", "cpsc2018", "A0002", "x", 500.0, 5000, ("II",),
                     labels=(Label("RBBB", "59118001", "right bundle branch block"),))
    cpsc_vocab = vocabulary([iavb, normal, rbbb])
    coverage = Cpsc2018.__new__(Cpsc2018).label_coverage(iavb)
    assert {e.name for e in distractors(cpsc_vocab, replace(iavb, coverage=coverage))} == {"right bundle branch block"}


def test_params():
    assert LabelQAParams.model_validate({"profile": "anyecg"}).question_types == ["verify", "choose", "query"]
    with pytest.raises(ValueError):
        LabelQAParams.model_validate({"profile": "anyecg", "question_types": ["mcq"]})


def test_hedged_labels_are_neither_stated_nor_denied():
    """"Possible right atrial abnormality" (likelihood 50): never answered as plainly present, and,
    being the record's own, never offered as absent either."""
    from ecgcorpus.builders.qa_labels import record_entries

    hedged = RecordRef("mimic:1", "mimic", "1", "x", 500.0, 5000, ("II",), labels=(
        Label("sinus rhythm", "426783006", "sinus rhythm", 100.0),
        Label("right atrial abnormality", "253339007", "right atrial abnormality", 50.0)))
    other = RecordRef("mimic:2", "mimic", "2", "x", 500.0, 5000, ("II",), labels=(
        Label("right atrial abnormality", "253339007", "right atrial abnormality", 100.0),
        Label("atrial fibrillation", "164889003", "atrial fibrillation", 100.0)))
    assert [e.name for e in record_entries(hedged, confident_only=True)] == ["sinus rhythm"]
    vocab = vocabulary([hedged, other])
    everything = frozenset(e.key for e in vocab)
    offered = {e.name for e in distractors(vocab, replace(hedged, coverage=everything))}
    assert offered == {"atrial fibrillation"}


def test_categories_ask_only_about_those_labels_and_fraction_keeps_a_seeded_share(fixture_tree, tmp_path):
    """label_qa `categories` (PULSE's rhythm vs morphology tasks) and a builder's `fraction`: the kept
    items are a seeded share, the same at any shard size."""
    import json as _json

    from corpus_rows import rows as read_rows

    from ecgcorpus.builders.qa_labels import label_category
    from ecgcorpus.engine.build import build as run_build
    from ecgcorpus.manifest import load_manifest as load
    from ecgcorpus.sources import open_source as open_src

    def manifest(out, fraction, shard_rows):
        path = tmp_path / f"{out}.yaml"
        path.write_text(
            f'name: cats\nseed: 4\nsources: [{{name: ptbxl, root: "{fixture_tree}/ptbxl"}}]\nprofile: {{duration_s: 10}}\n'
            f'builders:\n  - {{type: label_qa, config: rhythm, fraction: {fraction}, params: {{categories: [rhythm]}}}}\n'
            f'output: {{dir: "{tmp_path / out}", max_rows_per_shard: {shard_rows}}}\n')
        run_build(load(path), workers=1, progress=False)
        return read_rows(tmp_path / out, "rhythm", columns=None)

    category = {lab.name: label_category(lab, "ptbxl") for r in open_src("ptbxl", fixture_tree / "ptbxl").scan()
                for lab in r.labels if lab.name}
    full = manifest("full", 1.0, 50)
    assert full
    for row in full:
        stated = _json.loads(row["meta"])["answer"] + _json.loads(row["meta"]).get("options", [])
        assert all(category[name] == "rhythm" for name in stated if name in category), stated
    half_a, half_b = manifest("half_a", 0.5, 50), manifest("half_b", 0.5, 3)
    ids = lambda rows: {r["id"] for r in rows}  # noqa: E731
    assert ids(half_a) == ids(half_b) and ids(half_a) < ids(full) and 0 < len(half_a) < len(full)

"""The dataset card: a complete Hub header that huggingface_hub and datasets read offline, and
published files that name no local path."""

import json
import re
from pathlib import Path

import datasets
import pytest
import yaml
from huggingface_hub import DatasetCard
from trainer_loaders import check_trainer_exports

from ecgcorpus.engine.build import build
from ecgcorpus.engine.card_meta import corpus_license, size_category, yaml_features
from ecgcorpus.engine.schema import SignalLayout, hf_features
from ecgcorpus.export.push import upload_plan
from ecgcorpus.manifest import load_manifest

REPO = Path(__file__).resolve().parents[1]
SHIPPED = sorted((REPO / "manifests").glob("*.yaml"))


@pytest.mark.parametrize("layout", [SignalLayout("int16", 12, 5000), SignalLayout("float32"), SignalLayout("float64", 1, 2500)])
def test_yaml_features_are_what_datasets_writes(layout):
    spec = hf_features(layout)
    assert yaml_features(spec) == datasets.Features.from_dict(spec)._to_yaml_list()


def test_the_card_validates_offline_and_matches_the_shards(corpus):
    card = DatasetCard.load(corpus / "README.md")
    data = card.data.to_dict()
    assert data["license"] == "other" and data["license_name"] and data["license_link"] == "LICENSE.md"
    assert (corpus / "LICENSE.md").exists()
    assert data["language"] == ["de", "en", "sv"]           # PTB-XL reports, written as they are
    assert data["task_categories"] == ["text-generation"] and data["size_categories"] == ["n<1K"]
    (info,) = data["dataset_info"]
    loaded = datasets.load_dataset(str(corpus), info["config_name"])
    for split in info["splits"]:
        assert loaded[split["name"]].num_rows == split["num_examples"] and split["num_bytes"] > 0
    assert info["download_size"] == sum(p.stat().st_size for p in (corpus / "data").rglob("*.parquet"))
    assert loaded["train"].features == datasets.Features._from_yaml_list(info["features"])
    text = card.text
    for section in ("## Loading", "## Sources, licences and citations", "## How it was built", "## Quarantine",
                    "## Known limitations", "set_transform(to_mv)", "Cite: Wagner P"):
        assert section in text


@pytest.mark.parametrize("manifest", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_manifest_builds_a_card_and_exports_its_trainers_read(manifest, fixture_tree, tmp_path,
                                                                           monkeypatch):
    """Each shipped recipe, on 4 fixture records per source: its card parses with huggingface_hub's
    classes and names a licence id, task categories, languages, a size bucket and every config's sizes;
    and every config goes through the loading path of each trainer format it can take."""
    monkeypatch.setenv("ECGCORPUS_FIXTURES", str(fixture_tree))
    m = load_manifest(manifest)
    m = m.model_copy(update={"sources": [s.model_copy(update={"limit": 4}) for s in m.sources],
                             "output": m.output.model_copy(update={"dir": str(tmp_path / "out"),
                                                                    "max_quarantine_rate": 1.0})})
    try:
        build(m, workers=1, progress=False)
    except Exception as exc:               # a config left empty by 4 records still writes its card
        assert "0 samples" in str(exc), exc
    data = DatasetCard.load(tmp_path / "out" / "README.md").data.to_dict()
    allowed = {"cc-by-4.0", "odbl", "cc0-1.0", "odc-by", "other"}
    assert data["license"] in allowed and (data["license"] != "other" or data["license_name"] and data["license_link"])
    assert "en" in data["language"] and "text-generation" in data["task_categories"]
    assert data["size_categories"] == ["n<1K"] and data["dataset_info"]
    assert [i["config_name"] for i in data["dataset_info"]] == [c["config_name"] for c in data["configs"]]
    assert all(split["num_examples"] > 0 and split["num_bytes"] > 0 for i in data["dataset_info"] for split in i["splits"])
    if any(b.type == "image" for b in m.builders):
        assert "image-text-to-text" in data["task_categories"]
    expected = {"demo": {"anyecg", "ecgchat"}, "anyecg": {"anyecg", "ecgchat"}, "meit": {"anyecg", "ecgchat", "meit"},
                "ecginstruct": {"pulse"}, "ecgchat": {"anyecg", "ecgchat"}}[manifest.stem]
    assert check_trainer_exports(tmp_path / "out", m, tmp_path) >= expected


def test_licences_map_per_source():
    def manifest(*names):
        return load_manifest_text({"name": "x", "sources": [{"name": n, "root": "/nonexistent"} for n in names],
                                   "builders": [{"type": "report"}]})
    assert corpus_license(manifest("mimic")) == {"license": "odbl"}
    assert corpus_license(manifest("ptbxl", "sph", "chapman")) == {"license": "cc-by-4.0"}
    assert corpus_license(manifest("ptbxl", "mimic"))["license"] == "other"
    assert [size_category(n) for n in (10, 5_000, 800_035)] == ["n<1K", "1K<n<10K", "100K<n<1M"]


def load_manifest_text(doc):
    from ecgcorpus.manifest import Manifest

    return Manifest.model_validate(doc)


def test_published_files_name_no_local_path(fixture_tree, tmp_path):
    """Absolute roots, a file-backed builder param and quarantined records: none of those paths in
    what a push uploads (card, licence notes, lock, quarantine)."""
    table = tmp_path / "tables" / "translation.csv"
    table.parent.mkdir()
    table.write_text("ecg_id,report_en\n1,sinus rhythm\n")
    doc = {"name": "paths", "seed": 1,
           "sources": [{"name": "ptbxl", "root": str(fixture_tree / "ptbxl")},
                       {"name": "cpsc2018", "root": str(fixture_tree / "cpsc2018")}],
           "profile": {"duration_s": 10},
           "builders": [{"type": "report", "config": "report"},
                        {"type": "report", "config": "translated", "sources": ["ptbxl"],
                         "params": {"ptbxl_translation": str(table)}}],
           "output": {"dir": str(tmp_path / "out"), "max_quarantine_rate": 1}}
    (tmp_path / "m.yaml").write_text(yaml.safe_dump(doc))
    build(load_manifest(tmp_path / "m.yaml"), workers=1, progress=False)
    out = tmp_path / "out"
    entries = [json.loads(line) for line in (out / "quarantine.jsonl").read_text().splitlines()]
    assert entries and all(not e["file"].startswith("/") for e in entries)
    roots = {"ptbxl": fixture_tree / "ptbxl", "cpsc2018": fixture_tree / "cpsc2018"}
    assert all(list((roots[e["source"]] / e["file"]).parent.glob(Path(e["file"]).name + "*")) for e in entries)
    for upload in upload_plan(str(out)):
        if upload.path.endswith(".parquet"):
            continue
        text = (out / upload.path).read_text()
        for local in (str(tmp_path), str(fixture_tree), "/tmp/", "/root", "/home/"):
            assert local not in text, f"{upload.path} holds {local}"
    lock = json.loads((out / "build.lock.json").read_text())
    assert "root" not in lock["manifest"]["sources"][0]
    assert lock["manifest"]["builders"][1]["params"]["ptbxl_translation"] == "translation.csv"
    assert not re.search(r'"/[a-z]', (out / "build.lock.json").read_text())

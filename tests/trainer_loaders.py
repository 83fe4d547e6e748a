"""Each paper's loading path, re-expressed from target-corpora.md, for the export tests: what its
training code does with our files, so that a format that drifts fails here."""

import json
import os

import numpy as np
import wfdb

from ecgcorpus.corpus import Corpus, ecg_to_mv
from ecgcorpus.export import export_corpus


def records(folder) -> dict[str, list[dict]]:
    out = {}
    for path in sorted(folder.glob("*.json*")):
        if path.name == "ecg_dir.json":
            continue
        text = path.read_text()
        out[path.stem] = [json.loads(line) for line in text.splitlines()] if path.suffix == ".jsonl" else json.loads(text)
    return out


def anyecg_collate(export_dir, row: dict) -> tuple[np.ndarray, list[str]]:
    """anyECG's Collate_Fn: os.path.join(ecg_dir[dataset], ecg_path) → wfdb.rdsamp → [ecg_start:ecg_end]."""
    ecg_dir = json.loads((export_dir / "ecg_dir.json").read_text())
    folder = ecg_dir[row["dataset"]]
    folder = folder if os.path.isabs(folder) else os.path.join(export_dir, folder)  # anyECG's ecg_dir holds absolute paths
    signal, fields = wfdb.rdsamp(os.path.join(folder, row["ecg_path"]))
    if "ecg_start" in row:
        signal = signal[row["ecg_start"]:row["ecg_end"]]
    return signal, fields["sig_name"]


def stored_by_record(corpus_dir) -> dict[str, dict]:
    return {row["id"]: row for _, row in Corpus(corpus_dir).rows()}


def anyecg_lead_names(names: list[str]) -> list[str]:
    """anyECG's channel mapping (get_ecg_from_path): lower-case, "ml" stripped, d3 → iii, and
    MIT-BIH ST's ['ECG', 'ECG'] taken as ['mlii', 'v1'] (a lone 'ecg' as 'i')."""
    names = [n.lower() for n in names]
    if names == ["ecg", "ecg"]:
        names = ["mlii", "v1"]
    elif names == ["ecg"]:
        names = ["i"]
    return [{"d3": "iii"}.get(n, n).removeprefix("ml") for n in names]


def same_signal(loaded: tuple[np.ndarray, list[str]], ecg: dict) -> None:
    """The loaded samples equal the stored ones, lead by lead (matched by name: a release's channel
    order and spelling, e.g. PTB-XL's AVL or MIT-BIH's MLII, are not ours)."""
    signal, names = loaded
    column = {name: i for i, name in enumerate(anyecg_lead_names(names))}
    ours = ecg_to_mv(ecg)
    assert signal.shape == (ours.shape[1], ours.shape[0])
    for lead, values in zip(ecg["leads"], ours):
        np.testing.assert_allclose(signal[:, column[lead.lower()]], values, atol=1e-3, err_msg=lead)


def llava_image(export_dir, rec: dict):
    """LLaVA's LazySupervisedDataset: Image.open(os.path.join(image_folder, image)).convert("RGB")."""
    from PIL import Image

    assert rec["conversations"][0]["from"] == "human" and rec["conversations"][0]["value"].startswith("<image>\n")
    with Image.open(os.path.join(export_dir, rec["image"])) as page:
        return page.convert("RGB")


def check_trainer_exports(corpus_dir, manifest, tmp) -> set[str]:
    """Export every config of a built corpus in each trainer format it can take, and read every row
    back the way that trainer does. Returns the formats exercised."""
    roots = {s.key: s.root for s in manifest.sources}
    by_config: dict[str, list[dict]] = {}
    for shard, row in Corpus(corpus_dir).rows():
        by_config.setdefault(shard.config, []).append(row)
    exercised = set()
    for config, rows in by_config.items():
        out = tmp / f"export-{config}"
        if rows[0]["images"]:
            export_corpus(str(corpus_dir), "pulse", str(out / "pulse"), configs=[config])
            for rec in _all(records(out / "pulse")):
                assert llava_image(out / "pulse", rec).size[0] > 0
            exercised.add("pulse")
            continue
        export_corpus(str(corpus_dir), "anyecg", str(out / "anyecg"), roots=roots, configs=[config])
        windows = _stored_windows(rows)
        for rec in _all(records(out / "anyecg")):
            assert isinstance(rec.get("template_id", 0), int)      # anyECG writes ints: one Arrow type
            paths = rec["ecg_path"] if isinstance(rec["ecg_path"], list) else [rec["ecg_path"]]
            for path in paths:
                loaded = anyecg_collate(out / "anyecg", dict(rec, ecg_path=path))
                ecg = windows.get((path, rec.get("ecg_start", 0)))
                if ecg is not None and ecg["fs"] and len(loaded[0]) == len(ecg["signal"][0]):
                    same_signal(loaded, ecg)
                assert len(loaded[0]) > 0
        exercised.add("anyecg")
        meta = json.loads(rows[0]["meta"] or "{}")
        if all(len(r["ecgs"]) == 1 for r in rows):
            export_corpus(str(corpus_dir), "ecgchat", str(out / "ecgchat"), configs=[config])
            stored = {r["id"]: r for r in rows}
            for rec in _all(records(out / "ecgchat")):
                signal, fields = wfdb.rdsamp(os.path.join(out / "ecgchat", rec["ecg"]))
                same_signal((signal, fields["sig_name"]), stored[rec["id"]]["ecgs"][0])
            exercised.add("ecgchat")
            if meta.get("profile") == "meit":
                export_corpus(str(corpus_dir), "meit", str(out / "meit"), configs=[config])
                for rec in _all(records(out / "meit")):
                    assert rec["messages"][0] == {"role": "user", "content": ""}
                    signal, _ = wfdb.rdsamp(os.path.join(out / "meit", rec["ecg_path"]))
                    assert signal.shape[1] == 12
                exercised.add("meit")
    return exercised


def _all(files: dict[str, list[dict]]) -> list[dict]:
    return [rec for rows in files.values() for rec in rows]


def _stored_windows(rows: list[dict]) -> dict[tuple[str, int], dict]:
    """Stored ECGs by the (ecg_path, ecg_start) an anyECG row would name them with."""
    out = {}
    for row in rows:
        for i, ecg in enumerate(row["ecgs"]):
            out[(f"{row['id']}_{i}", 0)] = ecg
            if ecg["path"]:
                out.setdefault((ecg["path"], ecg["start"]), ecg)
                out.setdefault((f"{ecg['source_key']}/{ecg['path']}", ecg["start"]), ecg)
    return out

"""The export formats. Field names are those each trainer reads (see README, "Export")."""

from __future__ import annotations

import json
import os
from collections.abc import Callable

from ..corpus import Corpus
from ..errors import EcgCorpusError
from ..sample import ECG_TOKEN, IMAGE_TOKEN
from .anyecg import DATASET_NAMES, SIGNALS, AnyEcgExport
from .media import write_ecg, write_image
from .pulse import PulseExport


def _strip_tokens(text: str) -> str:
    return text.replace(f"{ECG_TOKEN}\n", "").replace(f"{IMAGE_TOKEN}\n", "").replace(ECG_TOKEN, "").replace(
        IMAGE_TOKEN, "").strip()


def _pairs(row: dict) -> list[tuple[str, str]]:
    """(question, answer) pairs of a conversation, placeholders removed."""
    turns = row["conversations"]
    return [(_strip_tokens(turns[i]["value"]), turns[i + 1]["value"])
            for i in range(0, len(turns) - 1, 2) if turns[i]["from"] == "human"]


def llava(row: dict, ecg_paths: list[str], image_paths: list[str], index: int) -> list[dict]:
    record = {"id": row["id"], "conversations": row["conversations"]}
    if image_paths:
        record["image"] = image_paths[0] if len(image_paths) == 1 else image_paths
    if ecg_paths:
        record["ecg"] = ecg_paths[0] if len(ecg_paths) == 1 else ecg_paths
    return [record]


def meit(row: dict, ecg_paths: list[str], image_paths: list[str], index: int) -> list[dict]:
    """MEIT JSONL: the user turn is empty (MEIT injects its fixed instruction when it tokenizes),
    the assistant turn the MEIT-cleaned report; ``ecg_path`` a WFDB record of the 12 leads."""
    meta = json.loads(row["meta"] or "{}")
    _require(row, meta.get("profile") == "meit", "MEIT's answers are its cleaned, lower-cased reports: "
             "build the config with the report builder's `profile: meit`")
    _require(row, len(ecg_paths) == 1 and not image_paths, "MEIT reads one ECG per row")
    dataset = _dataset(row["ecgs"][0])
    messages = []
    for _, answer in _pairs(row):
        messages += [{"role": "user", "content": ""}, {"role": "assistant", "content": answer}]
    return [{"dataset": dataset, "id": f"{dataset}_{index}", "ecg_path": ecg_paths[0], "messages": messages}]


def ecgchat(row: dict, ecg_paths: list[str], image_paths: list[str], index: int) -> list[dict]:
    """ECG-Chat's LLaVA-ECG JSON: ``{ecg: WFDB path, conversations}``, ``<ecg>\n`` opening the
    first human turn (its loader reads one WFDB record per row)."""
    _require(row, len(ecg_paths) == 1 and not image_paths, "ECG-Chat reads one ECG signal per row, no image")
    turns = [dict(t, value=_strip_tokens(t["value"])) for t in row["conversations"]]
    first = next(i for i, t in enumerate(turns) if t["from"] == "human")
    turns[first]["value"] = f"{ECG_TOKEN}\n{turns[first]['value']}"
    return [{"id": row["id"], "ecg": ecg_paths[0], "conversations": turns}]


def _require(row: dict, ok: bool, problem: str) -> None:
    if not ok:
        raise EcgCorpusError(f"sample {row['id']} (task {row['task']}): {problem}")


def _dataset(ecg: dict) -> str:
    return DATASET_NAMES.get(ecg["source"], ecg.get("source_key") or ecg["source"])


def sharegpt(row: dict, ecg_paths: list[str], image_paths: list[str], index: int) -> list[dict]:
    """ShareGPT / LLaMA-Factory: placeholder count equals media count (checked on export)."""
    rec = {"conversations": row["conversations"]}
    if image_paths:
        rec["images"] = image_paths
    if ecg_paths:
        rec["ecgs"] = ecg_paths
    return [rec]


# format → (row converter, file extension, default --signals, the --signals it accepts)
FORMATS: dict[str, tuple[Callable | None, str, str, tuple[str, ...]]] = {
    "llava": (llava, "json", "npy", ("npy", "wfdb")),
    "sharegpt": (sharegpt, "json", "npy", ("npy", "wfdb")),
    "anyecg": (None, "json", "link", SIGNALS),
    "meit": (meit, "jsonl", "wfdb", ("wfdb",)),
    "ecgchat": (ecgchat, "json", "wfdb", ("wfdb",)),
    "pulse": (None, "json", None, ()),          # images only
}


def _rows(corpus: Corpus, configs: list[str] | None):
    for shard in corpus.shards():
        if not configs or shard.config in configs:
            for batch in corpus.batches(shard):
                for row in batch.to_pylist():
                    yield shard, row


def export_corpus(root: str, fmt: str, out_dir: str, signals: str | None = None,
                  roots: dict[str, str] | None = None, lists: bool = False,
                  configs: list[str] | None = None) -> dict[str, int]:
    """Write ``{config}_{split}.{json|jsonl}`` files plus their ECG and image files under ``out_dir``.

    ``roots`` (manifest source key → root folder) is needed by the ``anyecg`` format, which points
    at the original records; ``lists`` writes anyECG's ``ecg_path`` as a list on every row;
    ``configs`` limits the export to those configs (each must exist)."""
    if fmt not in FORMATS:
        raise EcgCorpusError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    convert, ext, default_signals, accepted = FORMATS[fmt]
    signals = signals or default_signals
    if signals not in accepted and (signals or accepted):
        raise EcgCorpusError(f"--format {fmt} " + (f"writes signals as {' or '.join(accepted)}, not {signals!r}"
                                                    if accepted else "writes images only; drop --signals"))
    corpus = Corpus(root)
    present = sorted({shard.config for shard in corpus.shards()})
    unknown = sorted(set(configs or ()) - set(present))
    if unknown:
        raise EcgCorpusError(f"{root}: no config {', '.join(map(repr, unknown))}; it has {', '.join(present)}")
    if fmt == "anyecg" and roots is None:
        raise EcgCorpusError("--format anyecg points at the original records: pass --manifest (the manifest the "
                             "corpus was built from) so their folders are known")
    by_reference = AnyEcgExport(out_dir, roots or {}, signals, lists) if fmt == "anyecg" else None
    pages = PulseExport(out_dir) if fmt == "pulse" else None
    os.makedirs(out_dir, exist_ok=True)
    written: dict[str, list] = {}
    dtypes = {shard.relpath: corpus.signal_dtype(shard) for shard in corpus.shards()}
    for shard, row in _rows(corpus, configs):
        text = " ".join(t["value"] for t in row["conversations"])
        if text.count(ECG_TOKEN) != len(row["ecgs"]) or text.count(IMAGE_TOKEN) != len(row["images"]):
            raise EcgCorpusError(f"{shard.relpath}: sample {row['id']} has placeholders that do not match its media")
        if not row["ecgs"] and fmt in ("anyecg", "meit", "ecgchat"):
            raise EcgCorpusError(f"{shard.relpath}: config {shard.config!r} holds images, not ECG signals; "
                                 f"--format {fmt} needs signals (use llava or sharegpt for image configs)")
        bucket = written.setdefault(f"{shard.config}_{shard.split}", [])
        try:
            if by_reference is not None:
                bucket.extend(by_reference.rows(row, _pairs(row), dtypes[shard.relpath]))
            elif pages is not None:
                bucket.extend(pages.rows(row))
            else:
                ecg_paths = [write_ecg(e, out_dir, f"{row['id']}_{i}", signals, dtypes[shard.relpath])
                             for i, e in enumerate(row["ecgs"])]
                image_paths = [write_image(img, out_dir, f"{row['id']}_{i}") for i, img in enumerate(row["images"])]
                bucket.extend(convert(row, ecg_paths, image_paths, len(bucket)))
        except EcgCorpusError as exc:
            raise EcgCorpusError(f"{shard.relpath}: config {shard.config!r} cannot be exported as {fmt}: {exc}") from None
    if by_reference is not None:
        by_reference.write_ecg_dir()
    counts = {}
    for name, records in written.items():
        path = os.path.join(out_dir, f"{name}.{ext}")
        with open(path, "w", encoding="utf-8") as f:
            if ext == "jsonl":
                f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
            else:
                json.dump(records, f, ensure_ascii=False, indent=1)
        counts[os.path.basename(path)] = len(records)
    return counts

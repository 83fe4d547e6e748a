"""The four export formats. Field names are those each trainer reads (see README, "Export")."""

from __future__ import annotations

import json
import os
from collections.abc import Callable

from ..corpus import Corpus
from ..errors import EcgCorpusError
from ..sample import ECG_TOKEN, IMAGE_TOKEN
from .media import write_ecg, write_image


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


def anyecg(row: dict, ecg_paths: list[str], image_paths: list[str], index: int) -> list[dict]:
    """anyECG rows: one per question/answer pair; ``ecg_path`` is always a list (mixing breaks HF Arrow)."""
    meta = json.loads(row["meta"] or "{}")
    out = []
    for question, answer in _pairs(row):
        rec = {"question": question, "answer": answer, "ecg_path": list(ecg_paths),
               "dataset": row["ecgs"][0]["source"] if row["ecgs"] else "", "task": row["task"]}
        for key in ("abnormal_type", "ecg_start", "ecg_end", "question_type", "template_id"):
            if key in meta:
                rec[key] = meta[key]
        out.append(rec)
    return out


def meit(row: dict, ecg_paths: list[str], image_paths: list[str], index: int) -> list[dict]:
    """MEIT JSONL: the user turn is empty for MEIT's own fixed-instruction corpus (profile meit)."""
    meta = json.loads(row["meta"] or "{}")
    dataset = row["ecgs"][0]["source"] if row["ecgs"] else "ecg"
    messages = []
    for question, answer in _pairs(row):
        user = "" if meta.get("profile") == "meit" else question
        messages += [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]
    return [{"dataset": dataset, "id": f"{dataset}_{index}", "ecg_path": ecg_paths[0] if len(ecg_paths) == 1 else ecg_paths,
             "messages": messages}]


def sharegpt(row: dict, ecg_paths: list[str], image_paths: list[str], index: int) -> list[dict]:
    """ShareGPT / LLaMA-Factory: placeholder count equals media count (checked on export)."""
    rec = {"conversations": row["conversations"]}
    if image_paths:
        rec["images"] = image_paths
    if ecg_paths:
        rec["ecgs"] = ecg_paths
    return [rec]


FORMATS: dict[str, tuple[Callable, str]] = {
    "llava": (llava, "json"), "anyecg": (anyecg, "json"), "meit": (meit, "jsonl"), "sharegpt": (sharegpt, "json"),
}


def export_corpus(root: str, fmt: str, out_dir: str, signals: str = "npy") -> dict[str, int]:
    """Write ``{config}_{split}.{json|jsonl}`` files plus ``ecgs/`` and ``images/`` under ``out_dir``."""
    if fmt not in FORMATS:
        raise EcgCorpusError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    convert, ext = FORMATS[fmt]
    corpus = Corpus(root)
    os.makedirs(out_dir, exist_ok=True)
    written: dict[str, list] = {}
    dtypes = {shard.relpath: corpus.signal_dtype(shard) for shard in corpus.shards()}
    for shard, row in corpus.rows():
        text = " ".join(t["value"] for t in row["conversations"])
        if text.count(ECG_TOKEN) != len(row["ecgs"]) or text.count(IMAGE_TOKEN) != len(row["images"]):
            raise EcgCorpusError(f"{shard.relpath}: sample {row['id']} has placeholders that do not match its media")
        ecg_paths = [write_ecg(e, out_dir, f"{row['id']}_{i}", signals, dtypes[shard.relpath])
                     for i, e in enumerate(row["ecgs"])]
        image_paths = [write_image(img, out_dir, f"{row['id']}_{i}") for i, img in enumerate(row["images"])]
        bucket = written.setdefault(f"{shard.config}_{shard.split}", [])
        bucket.extend(convert(row, ecg_paths, image_paths, len(bucket)))
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

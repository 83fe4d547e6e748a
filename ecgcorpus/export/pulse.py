"""PULSE's LLaVA-image JSON, laid out as ECGInstruct ships it.

A row is ``{id: "{source}-{record}", image: "{folder}/{record path}-{k}.png", conversations,
metadata: {subtask, type, source}}`` (ECGInstruct's HF schema): ``mimic-44111511`` with
``mimic/p1127/p11273115/s44111511/44111511-0.png``, ``ptb-xl-00017`` with ``ptb-xl/00017_hr-0.png``.
``k`` counts the distinct pages of one record in one folder. Standard pages go to ``{source}/``,
augmented (distorted, photo-like) ones to ``{source}_aug/``, as ECGInstruct keeps them apart, except
for CODE-15%, whose pages ECGInstruct keeps together in ``code15_v4/``.
"""

from __future__ import annotations

import hashlib
import json
import os

from ..errors import EcgCorpusError

SOURCE_NAMES = {"mimic": "mimic", "ptbxl": "ptb-xl", "chapman": "csn", "cpsc2018": "cpsc", "cpsc2018-cinc": "cpsc",
                "sph": "sph", "code15": "code15"}
FOLDERS = {"code15": "code15_v4"}               # ECGInstruct's folder where it is not the source name
MIXED = {"code15"}                              # standard and augmented pages in one folder
# PULSE's four task categories (its project page): basic feature, rhythm, morphology, report.
RHYTHM_CATEGORIES = {"rhythm", "conduction", "pacemaker"}
# ECG-QA's attribute types → PULSE's categories (ECGInstruct files its ECG-QA items under them, all close-ended)
ECGQA_SUBTASKS = {"numeric_feature": "feature", "heart_axis": "feature", "extra_systole": "rhythm"}
LLM_FAMILIES = {"basic_features": "feature", "rhythm": "rhythm", "morphology": "morphology", "report": "report"}
TYPES = {"fill": "fill", "close": "close", "mcq": "mcq", "single-verify": "close", "single-choose": "close",
         "single-query": "close"}


class PulseExport:
    def __init__(self, out_dir: str):
        self.out_dir = out_dir
        self._pages: dict[tuple[str, str], list[str]] = {}     # (folder, record) → sha256 of each page, in order

    def rows(self, row: dict) -> list[dict]:
        meta = json.loads(row["meta"] or "{}")
        if len(row["images"]) != 1 or row["ecgs"]:
            raise EcgCorpusError(f"sample {row['id']} (task {row['task']}): PULSE rows hold one ECG page image; "
                                 f"export an image config (the image builder's output)")
        (ecg,) = meta.get("ecgs") or [{}]
        source = SOURCE_NAMES.get(ecg.get("source"), ecg.get("source_key") or ecg.get("source") or "ecg")
        record = _record_name(ecg)
        folder = FOLDERS.get(source, source)
        if meta.get("variant") == "augmented" and source not in MIXED:
            folder += "_aug"
        image = self._write(folder, _record_path(ecg), row["images"][0]["bytes"])
        return [{"id": f"{source}-{record}", "image": image, "conversations": row["conversations"],
                 "metadata": {"subtask": _subtask(row["task"], meta), "type": _type(meta), "source": source}}]

    def _write(self, folder: str, record_path: str, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        pages = self._pages.setdefault((folder, record_path), [])
        if digest not in pages:
            pages.append(digest)
        ext = "jpg" if data[:3] == b"\xff\xd8\xff" else "png"
        rel = f"{folder}/{record_path}-{pages.index(digest)}.{ext}"
        path = os.path.join(self.out_dir, rel)
        if not os.path.exists(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
        return rel


def _record_path(ecg: dict) -> str:
    """MIMIC keeps its p…/p…/s… folders (without ``files/``); other sources the record's file name."""
    native = ecg.get("record_id", "record").split(":", 1)[-1]
    path = ecg.get("path") or native
    if ecg.get("source") == "mimic":
        return path.removeprefix("files/")
    name = os.path.splitext(os.path.basename(path))[0]
    return name if native in name else native       # CODE-15%: many exams share one HDF5 part


def _record_name(ecg: dict) -> str:
    native = ecg.get("record_id", "").split(":", 1)[-1]
    if ecg.get("source") == "mimic" and ecg.get("path"):
        return os.path.basename(ecg["path"])                  # the study id, as ECGInstruct's ids name it
    if ecg.get("source") == "ptbxl" and native.isdigit():
        return f"{int(native):05d}"
    return native


def _subtask(task: str, meta: dict) -> str:
    base = meta.get("base") or task
    if base == "report":
        return "report"
    if base == "features":
        return "feature"
    if base == "llm_qa":                        # its task family: basic_features, rhythm, morphology, report
        return LLM_FAMILIES.get(meta.get("subtask"), meta.get("subtask") or "llm_qa")
    if base == "ecgqa":
        return ECGQA_SUBTASKS.get(meta.get("attribute_type"), "morphology")
    if base == "label_qa":
        return "rhythm" if meta.get("category") in RHYTHM_CATEGORIES else "morphology"
    return base


def _type(meta: dict) -> str:
    if meta.get("base") == "llm_qa":
        return meta.get("type", "open")
    if meta.get("base") == "report":
        return "open"
    if meta.get("base") == "ecgqa":
        return "close"
    return TYPES.get(meta.get("question_type", ""), "open")

"""ECG-QA (Oh et al., NeurIPS 2023 Datasets and Benchmarks): question-answer items over PTB-XL or
MIMIC-IV-ECG records, read from its released JSON and joined to the ECG database's own root.

ROOT is one version's folder of the release, e.g. ``ecg-qa/ecgqa/ptbxl`` or
``ecg-qa/ecgqa/mimic-iv-ecg``: ``paraphrased/{train,valid,test}/*.json`` (or ``template/…``), each a
JSON list of ``{template_id, question_id, sample_id, question_type, attribute_type, question,
answer: [..], ecg_id: [..], attribute: [..]}``, and ``answers_for_each_template.csv``
(template_id, classes) beside it or one folder up. ``ecg_id`` is PTB-XL's ecg_id, or MIMIC-IV-ECG's
study_id. Options: ``ecg_root`` (the PTB-XL or MIMIC-IV-ECG root), ``database`` (``ptbxl`` or
``mimic``; by default read from ROOT's name), ``variant`` (paraphrased or template).

The records it yields are the database's own (``ptbxl:3637``), each carrying the items whose first
ECG it is (``extra["ecgqa_items"]``) and the items' other ECGs (``extra["ecgqa_partners"]``), so that
splits, patients and leakage checks treat them as the PTB-XL/MIMIC records they are. An item whose
ECG is not in the database tree is quarantined by ``file:sample_id``, never dropped. ECG-QA's split
folders are its official splits (``policy: official``).
"""

from __future__ import annotations

import ast
import csv
import glob
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import replace
from typing import Literal

from ..errors import SourceError
from ..types import ECG, RecordRef
from .base import Source

SPLITS = {"train": "train", "valid": "validation", "test": "test"}
ITEM_KEYS = ("template_id", "question_id", "sample_id", "question_type", "attribute_type", "question", "answer",
             "ecg_id", "attribute")


class EcgQa(Source):
    name = "ecgqa"
    title = "ECG-QA: question answering over PTB-XL / MIMIC-IV-ECG records"
    layout = ("paraphrased/{train,valid,test}/*.json (or template/…), answers_for_each_template.csv;\n"
              "option ecg_root: the PTB-XL or MIMIC-IV-ECG root the items' ecg_id refer to")
    license = "MIT (ECG-QA); the ECGs keep their database's terms"
    homepage = "https://github.com/Jwoo5/ecg-qa"
    license_id = "mit"
    citation = ("Oh J, Lee G, Bae S, Kwon J, Choi E. ECG-QA: A Comprehensive Question Answering Dataset Combined "
                "With Electrocardiogram. Advances in Neural Information Processing Systems 36 (2023), Datasets and "
                "Benchmarks Track.")
    storage_dtype = "int16"

    def __init__(self, root, ecg_root: str = "", database: Literal["ptbxl", "mimic"] | None = None,
                 variant: Literal["paraphrased", "template"] = "paraphrased", rate: int = 500, on_error=None,
                 encoding: str | None = None):
        super().__init__(root, on_error=on_error, encoding=encoding)
        if not ecg_root:
            raise SourceError(self.root, "ecgqa needs options.ecg_root: the PTB-XL or MIMIC-IV-ECG root its items use")
        self.ecg_root = os.fspath(ecg_root)
        self.database = database or ("mimic" if "mimic" in os.path.basename(os.path.normpath(self.root)) else "ptbxl")
        self.variant = variant
        self.rate = rate
        self._inner: Source | None = None

    @property
    def inner(self) -> Source:
        """The ECG database the items refer to (opened once, lazily: workers open their own)."""
        if self._inner is None:
            from . import open_source

            options = {"rate": self.rate} if self.database == "ptbxl" else {}
            self._inner = open_source(self.database, self.ecg_root, **options)
        return self._inner

    def _scan(self) -> Iterator[RecordRef | SourceError]:
        files = sorted(glob.glob(self.path(self.variant, "*", "*.json")))
        if not files:
            raise SourceError(self.path(self.variant), f"no ECG-QA JSON under {self.variant}/{{train,valid,test}}/")
        records = {ref.native_id: ref for ref in self.inner.scan()}
        for error in self.inner.errors:          # the database's own unreadable rows, named as such
            yield SourceError(error.file, f"{self.database}: {error.problem}", error.record_id)
        items_of: dict[str, list[dict]] = {}
        partners: dict[str, dict[str, RecordRef]] = {}
        split_of: dict[str, str] = {}
        for path in files:
            split = SPLITS.get(os.path.basename(os.path.dirname(path)))
            try:
                with open(path, encoding="utf-8") as f:
                    items = json.load(f)
            except (OSError, ValueError) as exc:
                yield SourceError(path, f"unreadable ECG-QA JSON: {exc}")
                continue
            if not isinstance(items, list):
                yield SourceError(path, "an ECG-QA file is a JSON list of items")
                continue
            for item in items:
                where = f"{path}:{item.get('sample_id', '?') if isinstance(item, dict) else '?'}"
                problem = _item_problem(item)
                if problem:
                    yield SourceError(where, problem)
                    continue
                ids = [str(int(e)) for e in item["ecg_id"]]
                missing = [e for e in ids if e not in records]
                if missing:
                    yield SourceError(where, f"ECG-QA item {item['sample_id']}: ECG {', '.join(missing)} is not in the "
                                      f"{self.database} tree (options.ecg_root)", f"ecgqa:{item['sample_id']}")
                    continue
                first = ids[0]
                items_of.setdefault(first, []).append({k: item[k] for k in ITEM_KEYS})
                partners.setdefault(first, {}).update(
                    {e: replace(records[e], record_path=os.path.relpath(records[e].path, self.ecg_root)) for e in ids[1:]})
                split_of.setdefault(first, split)
        for native in sorted(items_of, key=lambda n: (len(n), n)):
            ref = records[native]
            yield replace(ref, extra={**ref.extra, "ecgqa_items": items_of[native], "ecgqa_partners": partners[native],
                                      "ecgqa_split": split_of[native]})

    @property
    def records_root(self) -> str:
        return self.ecg_root

    def load(self, ref: RecordRef) -> ECG:
        return self.inner.load(ref)

    def fingerprint(self, ref: RecordRef) -> str:
        """Unlike the database's own fingerprint, so that a manifest listing PTB-XL as well keeps
        both: the same ECG under QA items is not a second copy of a PTB-XL record."""
        return hashlib.sha256(("ecgqa|" + self.inner.fingerprint(ref)).encode()).hexdigest()

    def label_coverage(self, ref: RecordRef) -> frozenset[str] | None:
        return self.inner.label_coverage(ref)

    def official_split(self, ref: RecordRef) -> str | None:
        return ref.extra.get("ecgqa_split")

    def answer_options(self) -> dict[int, list[str]]:
        """template_id → the answer classes ECG-QA lists for it (answers_for_each_template.csv)."""
        for path in (self.path("answers_for_each_template.csv"),
                     os.path.join(os.path.dirname(os.path.normpath(self.root)), "answers_for_each_template.csv")):
            if os.path.exists(path):
                with open(path, encoding="utf-8", newline="") as f:
                    return {int(row["template_id"]): list(ast.literal_eval(row["classes"])) for row in csv.DictReader(f)}
        raise SourceError(self.path("answers_for_each_template.csv"), "not found (beside the split folders or one "
                          "folder up): the options of each template")


def _item_problem(item) -> str | None:
    if not isinstance(item, dict):
        return "an ECG-QA item is a JSON object"
    missing = [k for k in ITEM_KEYS if k not in item]
    if missing:
        return f"ECG-QA item lacks {', '.join(missing)}"
    if not isinstance(item["ecg_id"], list) or not item["ecg_id"] or not isinstance(item["answer"], list):
        return "ecg_id and answer must be non-empty lists"
    return None

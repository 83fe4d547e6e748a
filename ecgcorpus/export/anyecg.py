"""anyECG's JSON, by reference: rows point into the original databases, as anyECG's own files do.

anyECG's collate function reads ``wfdb.rdsamp(os.path.join(ecg_dir[dataset], ecg_path))`` and
slices ``[ecg_start:ecg_end]``. So a row names the record by its path in the release
(``records500/02000/02598_hr``, ``files/p1000/p10000032/s40689238/40689238``, ``100``), the
database by anyECG's name for it, and the window by native sample indexes into that record.
``ecg_dir.json`` maps each dataset name to the folder the paths are relative to: the original root
(``signals="source"``), or a ``{dataset}/`` folder of the export holding links (``link``) or copies
(``copy``) of the records' files at the same relative paths.

An ECG that cannot be read back from its release as stored (a record that is not WFDB, such as
SPH's HDF5 or CPSC2018's MAT files; fewer leads than the record; a strip composed of several
records) is written as a WFDB record of exactly the stored window under ``ecgcorpus_windows/``,
with ``ecg_start`` 0.
"""

from __future__ import annotations

import json
import os
import shutil

from ..errors import EcgCorpusError
from .media import write_wfdb

# anyECG's names (anyecg/utils.py ecg_dir); other sources keep their manifest key.
DATASET_NAMES = {"mimic": "mimic", "ptbxl": "ptbxl", "cpsc2018": "cpsc", "cpsc2018-cinc": "cpsc", "chapman": "csn"}
WINDOWS = "ecgcorpus_windows"
BASE_KEYS = ("question", "answer", "ecg_path", "dataset", "task")
# The keys of anyECG's released rows, per task (its data/*.json files).
TASK_KEYS = {
    "report": BASE_KEYS,
    "location": BASE_KEYS + ("abnormal_type", "ecg_start", "ecg_end"),
    "location_long": BASE_KEYS + ("abnormal_type", "ecg_start", "ecg_end"),
    "ecgqa": BASE_KEYS + ("question_type", "template_id"),
    "open-ended": BASE_KEYS,
    "multi": BASE_KEYS,
}
LIST_TASKS = {"ecgqa", "open-ended", "multi"}    # anyECG writes ecg_path as a list there
# Our multi-ECG QA task, as anyECG names it: "open-ended" in its train file, "multi" in its test file.
MULTI_TASK = {"train": "open-ended", "validation": "open-ended", "test": "multi"}
SIGNALS = ("link", "copy", "source")


class AnyEcgExport:
    """Rows for one export folder; ``roots`` maps a manifest source key to its root folder."""

    def __init__(self, out_dir: str, roots: dict[str, str], signals: str = "link", lists: bool = False):
        if signals not in SIGNALS:
            raise EcgCorpusError(f"anyecg export: --signals must be one of {', '.join(SIGNALS)} (got {signals!r})")
        self.out_dir, self.roots, self.signals, self.lists = out_dir, roots, signals, lists
        self.ecg_dir: dict[str, str] = {}
        self._placed: dict[tuple[str, str], str] = {}     # (dataset, record) → the source key placed there
        self._written: set[tuple[str, str]] = set()
        self._headers: dict[str, int] = {}

    def rows(self, row: dict, pairs: list[tuple[str, str]], stored_dtype: str) -> list[dict]:
        meta = json.loads(row["meta"] or "{}")
        refs = [self._reference(row, i, ecg, meta, stored_dtype) for i, ecg in enumerate(row["ecgs"])]
        task = MULTI_TASK.get(row["split"], "multi") if row["task"] == "multi" else row["task"]
        single = not self.lists and task not in LIST_TASKS and len(refs) == 1
        out = []
        for question, answer in pairs:
            rec = {"question": question, "answer": answer,
                   "ecg_path": refs[0]["path"] if single else [r["path"] for r in refs],
                   "dataset": refs[0]["dataset"] if refs else "", "task": task}
            if "abnormal_type" in meta:
                rec["abnormal_type"] = meta["abnormal_type"]
            if refs and refs[0]["window"]:
                rec["ecg_start"], rec["ecg_end"] = refs[0]["start"], refs[0]["stop"]
            if "question_type" in meta:
                rec["question_type"] = meta["question_type"]
            if str(meta.get("template_id", "")).isdigit():   # anyECG's are ECG-QA's ints; ours are names
                rec["template_id"] = int(meta["template_id"])
            keys = TASK_KEYS.get(task)
            out.append({k: rec[k] for k in (keys or rec) if k in rec})
        return out

    def write_ecg_dir(self) -> str:
        path = os.path.join(self.out_dir, "ecg_dir.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(dict(sorted(self.ecg_dir.items())), f, indent=1)
        return path

    # --- one ECG ---------------------------------------------------------------------------------

    def _reference(self, row: dict, i: int, ecg: dict, meta: dict, stored_dtype: str) -> dict:
        key = ecg.get("source_key") or ecg["source"]
        dataset = meta.get("dataset") or DATASET_NAMES.get(ecg["source"], key)
        if ecg.get("path") and key not in self.roots:
            raise EcgCorpusError(f"sample {row['id']}: its ECG comes from source {key!r}, which the manifest does "
                                 f"not list (it lists {', '.join(sorted(self.roots)) or 'none'})")
        root = self.roots.get(key)
        header = os.path.join(root, f"{ecg['path']}.hea") if root and ecg.get("path") else None
        if header and len(ecg["leads"]) == self._signals_in(header):
            path = self._place(dataset, key, root, ecg["path"])
            whole = ecg["start"] == 0 and ecg["stop"] == ecg["record_samples"]
            return {"path": path, "dataset": dataset, "start": int(ecg["start"]), "stop": int(ecg["stop"]),
                    "window": not whole or "ecg_start" in meta}
        stem = f"{row['id']}_{i}"
        write_wfdb(ecg, os.path.join(self.out_dir, WINDOWS), stem, stored_dtype)
        self.ecg_dir[WINDOWS] = WINDOWS
        n = len(ecg["signal"][0]) if len(ecg["signal"]) else 0
        return {"path": stem, "dataset": dataset if dataset == WINDOWS else WINDOWS, "start": 0, "stop": n,
                "window": "ecg_start" in meta}

    def _signals_in(self, header: str) -> int:
        """Signals the record's header declares (-1: no header); read once per record, not per row."""
        if header not in self._headers:
            self._headers[header] = _n_signals(header) if os.path.isfile(header) else -1
        return self._headers[header]

    def _place(self, dataset: str, key: str, root: str, record: str) -> str:
        """Make ``record`` of source ``key`` readable under the dataset's folder; its path there.

        Two sources may share an anyECG name (a fixture and a genuine MIT-BIH, say). Their records
        share the folder; where both hold the same record name, the later one is placed under a
        ``{source key}/`` subfolder, so no row ever points at the other source's file."""
        if self.signals == "source":
            where = os.path.abspath(root)
            if self.ecg_dir.setdefault(dataset, where) != where:
                raise EcgCorpusError(f"anyecg export: dataset {dataset!r} lies in two roots ({self.ecg_dir[dataset]} "
                                     f"and {where}); --signals source cannot point at both: use link or copy")
            return record
        self.ecg_dir[dataset] = dataset
        prefix = "" if self._placed.setdefault((dataset, record), key) == key else key
        path = os.path.join(prefix, record)
        if (dataset, path) in self._written:
            return path
        for name in _record_files(root, record):
            dst = os.path.join(self.out_dir, dataset, prefix, name)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            if os.path.lexists(dst):
                os.remove(dst)
            if self.signals == "link":
                os.symlink(os.path.abspath(os.path.join(root, name)), dst)
            else:
                shutil.copyfile(os.path.join(root, name), dst)
        self._written.add((dataset, path))
        return path


def _header_lines(header: str) -> list[list[str]]:
    """The header's record and signal lines, split (comment lines dropped: some headers open with one)."""
    with open(header, encoding="utf-8", errors="replace") as f:
        return [line.split() for line in f if line.strip() and not line.lstrip().startswith("#")]


def _n_signals(header: str) -> int:
    lines = _header_lines(header)
    return int(lines[0][1]) if lines and len(lines[0]) > 1 and lines[0][1].isdigit() else -1


def _record_files(root: str, record: str) -> list[str]:
    """The header and the signal files it names (paths relative to ``root``)."""
    header = f"{record}.hea"
    folder = os.path.dirname(record)
    files = [header]
    lines = _header_lines(os.path.join(root, header))
    n = _n_signals(os.path.join(root, header))
    for parts in lines[1:1 + max(n, 0)]:
        name = os.path.join(folder, parts[0]) if parts else None
        if name and name not in files and os.path.isfile(os.path.join(root, name)):
            files.append(name)
    return files

"""One streaming pass over a corpus, collecting findings and statistics."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..corpus import Corpus
from ..engine.schema import SIGNAL_DTYPES, SignalLayout, sample_schema
from ..files import file_sha256
from ..sample import ECG_TOKEN, IMAGE_TOKEN
from .phi import phi_hits

MAX_EXAMPLES = 5  # examples kept per finding code (the count is always complete)


@dataclass
class Finding:
    level: str           # error | warning | info
    code: str
    message: str
    count: int = 1
    examples: list = field(default_factory=list)


@dataclass
class AuditReport:
    root: str
    findings: list[Finding]
    stats: dict
    lengths: dict[str, list[int]] = field(default_factory=dict)   # raw lengths, for the HTML histograms

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "error"]

    def to_dict(self) -> dict:
        return {"root": self.root, "ok": not self.errors, "findings": [asdict(f) for f in self.findings],
                "stats": self.stats}


class _Findings:
    def __init__(self):
        self.by_code: dict[str, Finding] = {}

    def add(self, level: str, code: str, message: str, example=None) -> None:
        f = self.by_code.get(code)
        if f is None:
            f = self.by_code[code] = Finding(level, code, message, 0)
        f.count += 1
        if example is not None and len(f.examples) < MAX_EXAMPLES:
            f.examples.append(example)

    def sorted(self) -> list[Finding]:
        order = {"error": 0, "warning": 1, "info": 2}
        return sorted(self.by_code.values(), key=lambda f: (order[f.level], f.code))


def _norm(text: str) -> str:
    """For near-duplicates: lower-case, numbers masked, punctuation and spacing collapsed."""
    text = re.sub(r"\d+(?:\.\d+)?", "#", text.lower())
    return " ".join(re.sub(r"[^\w#<>]+", " ", text).split())


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode(), digest_size=8).digest()


class _Pass:
    """State of the streaming pass: counters and the (small) keys needed for leakage and duplicates."""

    def __init__(self, found: _Findings):
        self.found = found
        self.counts = {"task": Counter(), "source": Counter(), "split": Counter(), "config": Counter()}
        self.labels = Counter()
        self.q_len: list[int] = []
        self.a_len: list[int] = []
        self.split_of_patient = defaultdict(set)
        self.split_of_record = defaultdict(set)
        self.exact: dict = {}
        self.near: dict = {}
        self.signals: dict[bytes, dict[str, set]] = {}    # signal hash → record id → splits

    def row(self, shard, row: dict) -> None:
        found, sid = self.found, row["id"]
        self.counts["task"][row["task"]] += 1
        self.counts["split"][row["split"]] += 1
        self.counts["config"][shard.config] += 1
        if row["split"] != shard.split:
            found.add("error", "split_mismatch", "a row's split differs from its shard's name", sid)
        meta = json.loads(row["meta"] or "{}")
        for entry in meta.get("labels", []):
            for lab in entry.get("labels", []):
                self.labels[lab.get("name") or lab.get("code")] += 1
        _check_placeholders(row, found)
        for ecg in row["ecgs"]:
            _check_bounds(sid, ecg, found)
            self.signals.setdefault(ecg["signal_hash"], {}).setdefault(ecg["record_id"], set()).add(row["split"])
        # Image samples store no signal: the records they print are named in meta.ecgs, and they
        # leak a patient across splits just as much.
        spans = row["ecgs"] or (meta.get("ecgs", []) if row["images"] else [])
        for ecg in spans:
            self.counts["source"][ecg["source"]] += 1
            self.split_of_patient[(ecg["source"], ecg["patient_id"] or ecg["record_id"])].add(row["split"])
            self.split_of_record[ecg["record_id"]].add(row["split"])
        human = " ".join(t["value"] for t in row["conversations"] if t["from"] == "human")
        gpt = " ".join(t["value"] for t in row["conversations"] if t["from"] != "human")
        self.q_len.append(len(human))
        self.a_len.append(len(gpt))
        if not gpt.strip():
            found.add("warning", "empty_answer", "a sample with an empty answer", sid)
        _check_asserts(sid, meta, found)
        _check_consistency(sid, meta, gpt, found)
        for kind, text in phi_hits(human + "\n" + gpt):
            found.add("warning", "phi_like", "PHI-like strings in free text", {"id": sid, "kind": kind, "text": text})
        conv = json.dumps(row["conversations"], sort_keys=True)
        ecg_key = json.dumps([(e["record_id"], e["start"], e["stop"]) for e in spans])
        ecg_key += "".join(hashlib.blake2b(img["bytes"] or b"", digest_size=8).hexdigest() for img in row["images"])
        records = [e["record_id"] for e in spans]
        _check_duplicate(self.exact, _digest(shard.config + conv + ecg_key), row["split"], sid, found, "exact",
                         records)
        _check_duplicate(self.near, _digest(_norm(human + " || " + gpt)), row["split"], sid, found, "near")

    def signal_duplicates(self) -> None:
        """The same stored signal under two record ids: one ECG entering the corpus twice."""
        for records in self.signals.values():
            if len(records) > 1:
                splits = sorted(set().union(*records.values()))
                code = "signal_duplicate_across_splits" if len(splits) > 1 else "signal_duplicate"
                self.found.add("error", code, "the same ECG signal under different record ids"
                               + (" in different splits" if len(splits) > 1 else ""),
                               {"records": sorted(records), "splits": splits})

    def leakage(self) -> None:
        for key, splits in self.split_of_patient.items():
            if len(splits) > 1:
                self.found.add("error", "leakage_patient", "the same patient (source + patient id) is in more than one split",
                               {"source": key[0], "patient": key[1], "splits": sorted(splits)})
        for record, splits in self.split_of_record.items():
            if len(splits) > 1:
                self.found.add("error", "leakage_record", "the same record is in more than one split",
                               {"record_id": record, "splits": sorted(splits)})

    def stats(self) -> dict:
        c = self.counts
        return {
            "samples": sum(c["split"].values()),
            "by_task": dict(c["task"]), "by_source": dict(c["source"]),
            "by_split": dict(c["split"]), "by_config": dict(c["config"]),
            "labels": dict(self.labels.most_common()),
            "question_chars": _describe(self.q_len), "answer_chars": _describe(self.a_len),
            "patients": len(self.split_of_patient), "records": len(self.split_of_record),
        }


def audit_corpus(root) -> AuditReport:
    corpus = Corpus(root)
    found = _Findings()
    _check_lock(corpus, found)
    state = _Pass(found)
    for shard in corpus.shards():
        layout = _check_schema(shard, found)
        if layout is None:
            continue
        try:
            for batch in corpus.batches(shard, audit_columns(layout)):
                for row in _without_signals(batch, layout).to_pylist():
                    state.row(shard, row)
        except (OSError, pa.ArrowException) as exc:
            found.add("error", "shard_unreadable", "a shard cannot be read to the end", f"{shard.relpath}: {exc}")
    state.leakage()
    state.signal_duplicates()
    stats = state.stats()
    stats["quarantined"], stats["quarantine"] = _quarantine(corpus.root / "quarantine.jsonl")
    return AuditReport(str(corpus.root), found.sorted(), stats, {"question": state.q_len, "answer": state.a_len})


def _quarantine(path) -> tuple[int | None, dict | None]:
    """The quarantine's size and counts by stage, config and reason, read line by line."""
    from ..engine.health import quarantine_summary

    if not path.exists():
        return None, None
    with open(path, encoding="utf-8") as f:
        summary = quarantine_summary(json.loads(line) for line in f if line.strip())
    return summary["total"], summary


def _check_lock(corpus: Corpus, found: _Findings) -> None:
    lock = corpus.lock
    on_disk = {s.relpath: s for s in corpus.shards()}
    if lock is None:
        found.add("error", "lock_missing", "no build.lock.json: shard integrity cannot be checked")
        return
    listed = {s["path"]: s for s in lock.get("shards", [])}
    for path, entry in listed.items():
        if path not in on_disk:
            found.add("error", "shard_missing", "a shard listed in the lock file is missing", path)
        elif file_sha256(on_disk[path].path) != entry["sha256"]:
            found.add("error", "shard_hash_mismatch", "a shard's sha256 differs from the lock file (tampered or corrupt)", path)
    for path in on_disk:
        if path not in listed:
            found.add("error", "shard_unlisted", "a shard is not in the lock file", path)


# What the checks read of each ECG: its ids, span, leads and gains; of its samples only how many lead
# rows they have and a hash of their bytes, both computed from Arrow buffers (a signal never becomes
# Python values).
ECG_FIELDS = ("record_id", "source", "patient_id", "start", "stop", "record_samples", "leads", "gain")


def audit_columns(layout: SignalLayout) -> list[str]:
    ecg = [f"ecgs.list.element.{name}" for name in ECG_FIELDS + ("signal",)]
    return ["id", "task", "split", "conversations", "images", "meta", *ecg]


def _without_signals(batch: pa.RecordBatch, layout: SignalLayout) -> pa.RecordBatch:
    """``ecgs`` with the signal replaced by its number of lead rows and a hash of its samples."""
    ecgs = batch.column("ecgs")
    values = ecgs.values
    signal = values.field("signal")
    if layout.fixed:
        rows = pa.array([layout.n_leads] * len(values), pa.int32())
    else:
        rows = pc.list_value_length(signal)
    fields = [values.field(name) for name in ECG_FIELDS] + [rows, _signal_hashes(signal)]
    light = pa.StructArray.from_arrays(fields, names=[*ECG_FIELDS, "signal_rows", "signal_hash"])
    column = pa.ListArray.from_arrays(ecgs.offsets, light)
    return batch.set_column(batch.schema.get_field_index("ecgs"), "ecgs", column)


def _signal_hashes(signal: pa.Array) -> pa.Array:
    """One 16-byte hash per ECG of its samples (leads × samples), from the list offsets and the
    flat value buffer."""
    leads = signal.flatten()
    flat = leads.flatten().to_numpy(zero_copy_only=False)
    if pa.types.is_fixed_size_list(signal.type):
        per_ecg = signal.type.list_size * signal.type.value_type.list_size
        bounds = np.arange(len(signal) + 1) * per_ecg
    else:
        lead_ends = np.concatenate([[0], np.cumsum(pc.list_value_length(leads).to_numpy(zero_copy_only=False))])
        ecg_ends = np.concatenate([[0], np.cumsum(pc.list_value_length(signal).to_numpy(zero_copy_only=False))])
        bounds = lead_ends[ecg_ends]
    view = flat.view(np.uint8).reshape(-1, flat.itemsize) if flat.size else flat
    data = np.ascontiguousarray(view)
    return pa.array([hashlib.blake2b(data[a:b].tobytes(), digest_size=16).digest()
                     for a, b in zip(bounds[:-1], bounds[1:])], pa.binary(16))


def _check_schema(shard, found: _Findings) -> SignalLayout | None:
    """The shard's signal layout if its columns are the sample schema's, else None (and a finding)."""
    try:
        schema = pq.read_schema(shard.path)
    except Exception as exc:
        found.add("error", "shard_unreadable", "a shard cannot be read as Parquet", f"{shard.relpath}: {exc}")
        return None
    try:
        signal = schema.field("ecgs").type.value_type.field("signal").type
        value = signal.value_type.value_type
        dtype = next(name for name, t in SIGNAL_DTYPES.items() if t == value)
        fixed = hasattr(signal, "list_size")
        layout = SignalLayout(dtype, signal.list_size, signal.value_type.list_size) if fixed else SignalLayout(dtype)
        expected = sample_schema(layout)
    except (KeyError, AttributeError, StopIteration):
        found.add("error", "schema_mismatch", "a shard's columns do not match the sample schema", shard.relpath)
        return None
    if not schema.remove_metadata().equals(expected.remove_metadata()):
        found.add("error", "schema_mismatch", "a shard's columns do not match the sample schema", shard.relpath)
        return None
    return layout


def _check_placeholders(row: dict, found: _Findings) -> None:
    text = " ".join(t["value"] for t in row["conversations"])
    if text.count(ECG_TOKEN) != len(row["ecgs"]) or text.count(IMAGE_TOKEN) != len(row["images"]):
        found.add("error", "placeholder_mismatch", "placeholder count differs from attached ECGs/images",
                  {"id": row["id"], "ecg_tokens": text.count(ECG_TOKEN), "ecgs": len(row["ecgs"]),
                   "image_tokens": text.count(IMAGE_TOKEN), "images": len(row["images"])})


def _check_bounds(sid: str, ecg: dict, found: _Findings) -> None:
    start, stop, total = ecg["start"], ecg["stop"], ecg.get("record_samples")
    if start < 0 or stop <= start or (total and stop > total):
        found.add("error", "segment_out_of_bounds", "a segment lies outside its record",
                  {"id": sid, "record_id": ecg["record_id"], "start": start, "stop": stop, "record_samples": total})
    if ecg["signal_rows"] != len(ecg["leads"]) or len(ecg["gain"]) != len(ecg["leads"]):
        found.add("error", "signal_shape", "signal rows, gains and lead names disagree", {"id": sid})


def _check_consistency(sid: str, meta: dict, answer: str, found: _Findings) -> None:
    """Measurements that contradict the record's labels, and answers not in English."""
    from ..features.consistency import contradictions
    from ..reports import detect_report_language

    codes = {lab.get("snomed") for e in meta.get("labels", []) for lab in e.get("labels", []) if lab.get("snomed")}
    problems = contradictions(meta.get("measurements") or {}, codes)
    asserts = meta.get("asserts") if isinstance(meta.get("asserts"), dict) else {}
    uncovered = sorted(set(asserts.get("absent", [])) - set(asserts.get("covered", [])))
    if uncovered:
        problems.append(f"absent stated for {', '.join(uncovered)}, which its source does not annotate exhaustively")
    language = detect_report_language(answer.lower())
    if language in ("de", "sv"):
        problems.append(f"an answer in {'German' if language == 'de' else 'Swedish'}")
    if problems:
        found.add("error", "consistency", "an answer contradicts its record's labels, or is not in English",
                  {"id": sid, "problems": problems})


def _check_asserts(sid: str, meta: dict, found: _Findings) -> None:
    """``meta.asserts`` = labels (SNOMED ids) an answer states present/absent; check them against the record's."""
    asserts = meta.get("asserts")
    if not isinstance(asserts, dict):
        return
    have = {code for e in meta.get("labels", []) for lab in e.get("labels", [])
            for code in (lab.get("snomed"), lab.get("code")) if code}
    wrong = [c for c in asserts.get("present", []) if c not in have] + [c for c in asserts.get("absent", []) if c in have]
    if wrong:
        found.add("error", "answer_contradicts_labels", "an answer contradicts the record's labels", {"id": sid, "codes": wrong})


def _check_duplicate(seen: dict, key: bytes, split: str, sid: str, found: _Findings, kind: str,
                     records: list[str] | None = None) -> None:
    first = seen.get(key)
    if first is None:
        seen[key] = (split, sid)
        return
    other_split, other_id = first
    pair = {"ids": [other_id, sid], "splits": [other_split, split]} | ({"records": records} if records else {})
    if kind == "exact":
        if other_split != split:
            found.add("error", "duplicate_across_splits", "the same conversation on the same ECG span in two splits", pair)
        else:
            found.add("error", "duplicate", "the same sample twice in a config (same conversation on the same "
                      "ECG span): one ECG entered twice, or a builder repeated itself", pair)
    elif other_split != split:
        # Templated tasks repeat answers by design: worth knowing, not an error.
        found.add("info", "near_duplicate_across_splits", "near-identical conversations (numbers masked) in two splits", pair)


def _describe(values: list[int]) -> dict:
    if not values:
        return {"n": 0}
    import numpy as np

    arr = np.asarray(values)
    return {"n": int(arr.size), "min": int(arr.min()), "mean": round(float(arr.mean()), 1),
            "p50": int(np.percentile(arr, 50)), "p95": int(np.percentile(arr, 95)), "max": int(arr.max())}

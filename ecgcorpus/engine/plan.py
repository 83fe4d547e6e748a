"""Planning: the builders' work items from the scanned tables (scan.py), cut into content-addressed units."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import numpy as np

from ..builders import Builder, WorkItem, builder_class
from ..errors import EcgCorpusError, SourceError
from ..manifest import Manifest
from ..record_table import SPLITS, RecordTable
from .quarantine import Quarantine
from .scan import scan_sources
from .schema import SignalLayout
from .splits import unit_interval

_BYTES = {"int16": 2, "float32": 4, "float64": 8}


@dataclass(eq=False)
class Unit:
    """One unit of work = one output shard. Its items are either listed (``items``: builders
    that plan records together) or, for builders of one item per record, the rows of record tables
    (``tables``): a unit of 10,000 MIMIC-IV-ECG studies then carries arrays, and its RecordRefs
    are built where it runs."""

    unit_id: str
    config: str
    split: str
    builder_index: int
    listed: list[WorkItem] | None
    shard_index: int
    n_shards: int
    layout: SignalLayout
    tables: list[RecordTable] = field(default_factory=list)

    @property
    def items(self) -> list[WorkItem]:
        if self.listed is not None:
            return self.listed
        return [WorkItem((ref,)) for table in self.tables for ref in table.refs()]

    def __eq__(self, other) -> bool:
        """Units are content-addressed: the same id is the same work (its items hashed into it)."""
        return isinstance(other, Unit) and (self.unit_id, self.relpath) == (other.unit_id, other.relpath)

    __hash__ = None

    @property
    def n_items(self) -> int:
        return len(self.listed) if self.listed is not None else sum(len(t) for t in self.tables)

    @property
    def relpath(self) -> str:
        return f"data/{self.config}/{self.split}-{self.shard_index:05d}-of-{self.n_shards:05d}.parquet"


@dataclass
class Plan:
    manifest: Manifest
    units: list[Unit]
    quarantine: Quarantine                     # scan errors and records a builder cannot use
    source_inputs: dict[str, dict]             # per source: record count, metadata digests, file sizes digest
    record_counts: dict[str, int] = field(default_factory=dict)
    builders: list[Builder] = field(default_factory=list)   # one per manifest builder, as planned
    items_per_config: dict[str, int] = field(default_factory=dict)
    row_bytes: dict[str, int] = field(default_factory=dict)  # config → estimated bytes per sample

    def items(self, config: str) -> list[WorkItem]:
        """The config's work items, in unit order."""
        return [item for unit in self.units if unit.config == config for item in unit.items]

    def skipped(self) -> dict[str, str]:
        """Configs whose builder makes nothing on purpose here (e.g. no LLM endpoint): config → why."""
        return {b.config: b.disabled_reason() for b in self.builders if b.disabled_reason()}

    @property
    def inputs(self) -> dict[str, dict]:
        """``source_inputs``, with the metadata tables' digests computed on first use (a dry run
        never hashes MIMIC-IV-ECG's 234 MB of tables)."""
        for entry in self.source_inputs.values():
            if callable(entry.get("metadata_sha256")):
                entry["metadata_sha256"] = entry["metadata_sha256"]()
        return self.source_inputs

    @property
    def digest(self) -> str:
        """Changes when the manifest, the inputs or the unit partition change."""
        blob = json.dumps({"manifest": self.manifest.digest(), "inputs": self.inputs,
                           "units": [u.unit_id for u in self.units]}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()


def make_plan(manifest: Manifest, builders_by_config: dict[str, Builder] | None = None) -> Plan:
    """Scan, split, and cut every builder's work items into units. Sends nothing anywhere: work
    that needs a service (LLM prefetch) is a stage of its own, ``Builder.prefetch``. A builder
    disabled here (``disabled_reason``) gets no units. ``builders_by_config``: builder objects to
    use instead of new ones (e.g. LLM builders routed to a request collector)."""
    scanned, quarantine, inputs = scan_sources(manifest)
    units: list[Unit] = []
    configs = [spec.config_name for spec in manifest.builders]
    duplicate = next((c for c in configs if configs.count(c) > 1), None)
    if duplicate:
        raise EcgCorpusError(f"two builders write config {duplicate!r}: give one of them another `config:` name")
    builders, items_per_config, estimates = [], {}, {}
    for index, spec in enumerate(manifest.builders):
        builder = (builders_by_config or {}).get(spec.config_name) or builder_class(spec.type)(spec, manifest)
        builders.append(builder)
        keys = spec.sources or [s.key for s in manifest.sources]
        for key in keys:
            manifest.source(key)  # unknown keys are a manifest error
        usable = {key: usable_rows(builder, scanned[key].table, quarantine) for key in keys}
        shapes = set().union(*(scanned[key].table.shapes(rows) for key, rows in usable.items()))
        storages = {scanned[key].storage_dtype for key in keys if len(scanned[key].table)}
        layout = choose_layout(builder, manifest, shapes, storages)
        rows = rows_per_shard(manifest, builder, layout, shapes)
        estimates[builder.config] = row_bytes(builder, layout, shapes)
        items_per_config[builder.config] = 0
        for split in SPLITS:
            # Builders plan one split at a time: an item never mixes records of two splits.
            parts = [] if builder.disabled_reason() else [
                (scanned[key].table, r[scanned[key].table.splits[r] == SPLITS.index(split)])
                for key, r in usable.items()]
            if builder.plans_one_item_per_record:
                kept = [(t, kept_by_fraction(t, r, spec, manifest)) for t, r in parts]
                items_per_config[builder.config] += sum(len(r) for _, r in kept)
                chunks = row_chunks(kept, rows)
                for shard_index, chunk in enumerate(chunks):
                    tables = [table.take(r) for table, r in chunk]
                    keys_digest = hashlib.sha256("".join(t.digest_rows() for t in tables).encode()).hexdigest()
                    units.append(Unit(_unit_id(manifest, spec, split, shard_index, keys_digest), builder.config,
                                      split, index, None, shard_index, len(chunks), layout, tables))
                continue
            refs = [ref for table, r in parts for ref in table.refs(r)]
            planned = builder.plan(refs) if parts else []
            items = [item for item in planned if isinstance(item, WorkItem) and in_fraction(spec, item.key, manifest)]
            rejected = [e for e in planned if isinstance(e, SourceError)]
            if rejected:
                key_of = {ref.record_id: ref.key for ref in refs}
                quarantine.extend({"record_id": e.record_id, "file": e.file, "reason": e.problem, "stage": "builder",
                                   "config": builder.config, "source": key_of.get(e.record_id)} for e in rejected)
            items_per_config[builder.config] += len(items)
            chunks = [items[i:i + rows] for i in range(0, len(items), rows)]
            for shard_index, chunk in enumerate(chunks):
                keys_digest = hashlib.sha256("\n".join(item.key for item in chunk).encode()).hexdigest()
                units.append(Unit(_unit_id(manifest, spec, split, shard_index, keys_digest), builder.config, split,
                                  index, chunk, shard_index, len(chunks), layout))
    counts = {key: len(source.table) for key, source in scanned.items()}
    return Plan(manifest, units, quarantine, inputs, counts, builders, items_per_config, estimates)


def usable_rows(builder: Builder, table: RecordTable, quarantine: Quarantine) -> np.ndarray:
    """The rows ``builder`` can use; the others are quarantined with its reasons, a block per
    reason. A builder whose ``skip_reason`` reads only what a group shares is asked once per group."""
    if builder.skips_by_group:
        reasons = [builder.skip_reason(ref) for ref in table.group_refs()]
        per_row = table.groups
    else:
        reasons = [builder.skip_reason(ref) for ref in table.refs()]
        per_row = np.arange(len(table))
    distinct = sorted({r for r in reasons if r})
    code = np.array([distinct.index(r) if r else -1 for r in reasons], dtype=np.int32)[per_row] if reasons else \
        np.zeros(0, np.int32)
    for i, reason in enumerate(distinct):
        quarantine.add_rows(table, np.flatnonzero(code == i), reason, "builder", table.source_key, builder.config)
    return np.flatnonzero(code < 0)


def in_fraction(spec, item_key: str, manifest: Manifest) -> bool:
    """Whether a builder's ``fraction`` keeps this item: by the item's own place, so the same items
    at any shard size and worker count."""
    return spec.fraction >= 1 or unit_interval(f"{spec.config_name}|{item_key}", manifest.seed) < spec.fraction


def kept_by_fraction(table: RecordTable, rows: np.ndarray, spec, manifest: Manifest) -> np.ndarray:
    """The rows a builder's ``fraction`` keeps (a row's item key is its record id)."""
    if spec.fraction >= 1 or not len(rows):
        return rows
    return rows[np.array([in_fraction(spec, record_id, manifest) for record_id in table.record_ids(rows)], dtype=bool)]


def row_chunks(parts: list[tuple[RecordTable, np.ndarray]], size: int) -> list[list[tuple[RecordTable, np.ndarray]]]:
    """The rows of the tables in order, cut into units of ``size`` (a unit may span two tables)."""
    chunks, current, room = [], [], size
    for table, rows in parts:
        start = 0
        while start < len(rows):
            take = rows[start:start + room]
            current.append((table, take))
            start += len(take)
            room -= len(take)
            if room == 0:
                chunks.append(current)
                current, room = [], size
    if current:
        chunks.append(current)
    return chunks


def choose_layout(builder: Builder, manifest: Manifest, shapes: set[tuple],
                  storages: set[str] | None = None) -> SignalLayout:
    """``shapes``: the (leads, rate, length) of the config's records (``RecordTable.shapes``);
    ``storages``: the storage dtypes of its sources (``Source.storage_dtype``)."""
    profile = manifest.profile
    storages = storages or {"int16"}
    if profile.storage != "auto":
        dtype = profile.storage
    elif storages == {"int16"} and profile.fs is None:
        dtype = "int16"
    elif storages == {"float64"}:
        dtype = "float64"  # one float64 source: kept exactly
    else:
        dtype = "float32"  # mixed sources, float16 sources and resampled int16: float32 (never float64)
    if not builder.fixed_shape or profile.duration_s is None or not profile.pad:
        return SignalLayout(dtype)
    lead_sets = {tuple(profile.leads) if profile.leads else leads for leads, _, _ in shapes}
    rates = {profile.fs or fs for _, fs, _ in shapes}
    if len(lead_sets) != 1 or len(rates) != 1:
        return SignalLayout(dtype)
    (leads,), (fs,) = lead_sets, rates
    return SignalLayout(dtype, len(leads), int(round(profile.duration_s * fs)))


def row_bytes(builder: Builder, layout: SignalLayout, shapes: set[tuple]) -> int:
    """About how many bytes one of the config's samples stores (before compression)."""
    if layout.fixed:
        signal = layout.n_leads * layout.n_samples * _BYTES[layout.dtype]
    else:
        signal = max((len(leads) * n for leads, _, n in shapes), default=1) * _BYTES[layout.dtype]
    return builder.estimated_row_bytes(signal)


def rows_per_shard(manifest: Manifest, builder: Builder, layout: SignalLayout, shapes: set[tuple]) -> int:
    out = manifest.output
    per_row = row_bytes(builder, layout, shapes)
    rows = max(1, int(out.target_shard_mb * 2**20 // max(per_row, 1)))
    return min(rows, out.max_rows_per_shard) if out.max_rows_per_shard else rows


def _unit_id(manifest: Manifest, spec, split: str, shard_index: int, items_digest: str) -> str:
    """``items_digest``: of the unit's item keys (its records' ids, for row units)."""
    blob = json.dumps({
        "seed": manifest.seed, "builder": spec.model_dump(mode="json"),
        "profile": manifest.profile.model_dump(mode="json"), "split": split, "shard": shard_index,
        "items": items_digest,
    }, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


__all__ = ["Plan", "Unit", "make_plan", "SourceError"]

"""What a builder is: plan work items from refs, then run one item into Samples."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from pydantic import BaseModel

from ..errors import SourceError
from ..manifest import BuilderSpec, Manifest
from ..sample import Sample, Segment
from ..seeding import derived_rng
from ..signal_profile import apply_profile
from ..sources import Source, open_source
from ..types import RecordRef


@dataclass(frozen=True)
class WorkItem:
    """The input of one run: usually one record, several for comparison builders."""

    refs: tuple[RecordRef, ...]
    params: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def key(self) -> str:
        return "+".join(r.record_id for r in self.refs)


class BuildContext:
    """What a builder may use while running a unit: sources (opened lazily), profile, and ``rng``,
    a generator seeded per work item (``begin``) from (manifest seed, config, item key)."""

    def __init__(self, manifest: Manifest, config: str):
        self.manifest = manifest
        self.config = config
        self.rng: np.random.Generator = derived_rng(manifest.seed, config)
        self.stats: dict[str, float] = {}   # builder counters (e.g. LLM tokens, cost), summed into the lock
        self._sources: dict[str, Source] = {}

    def begin(self, item: WorkItem) -> None:
        """Start one work item: its draws depend on nothing but the seed, the config and the item."""
        self.rng = derived_rng(self.manifest.seed, self.config, item.key)

    def source(self, ref: RecordRef) -> Source:
        key = ref.key
        if key not in self._sources:
            spec = self.manifest.source(key)
            self._sources[key] = open_source(spec.name, spec.root, **spec.options)
        return self._sources[key]

    def segment(self, ref: RecordRef, profile=None) -> Segment:
        """Load a record and apply the signal profile (the manifest's unless given)."""
        ecg = self.source(ref).load(ref)
        ecg, start, stop = apply_profile(ecg, profile or self.manifest.profile, self.rng)
        return Segment(ref=ref, ecg=ecg, start=start, native_stop=stop)


def label_meta(refs) -> list[dict]:
    """The records' labels for ``meta``: source code, SNOMED CT id, readable name."""
    return [{"record_id": ref.record_id, "labels": [
        {"code": lab.code, "snomed": lab.snomed, "name": lab.name} for lab in ref.labels]} for ref in refs]


class Builder:
    """Base class. Subclasses set ``type`` and ``task`` and implement ``run``."""

    type: ClassVar[str]
    task: ClassVar[str]
    fixed_shape: ClassVar[bool] = True    # one profiled ECG per sample: signals can be fixed-size lists

    def __init__(self, spec: BuilderSpec, manifest: Manifest):
        self.spec = spec
        self.manifest = manifest
        self.params = self.validate_params(spec.params)

    Params: ClassVar[type[BaseModel] | None] = None     # the params model (None: free-form dict)

    @classmethod
    def validate_params(cls, params: dict[str, Any]) -> Any:
        """The builder's params, validated (a pydantic ValidationError or ValueError when wrong);
        called at manifest load, so that a typo is reported with its file and line."""
        return cls.Params.model_validate(params) if cls.Params is not None else params

    @classmethod
    def source_key_params(cls, params: Any) -> dict[str, list[str]]:
        """Params that name manifest source keys (param name → the keys it names), checked at load
        against the builder's sources."""
        return {}

    @property
    def config(self) -> str:
        return self.spec.config_name

    def skip_reason(self, ref: RecordRef) -> str | None:
        """Why this builder cannot use ``ref`` (quarantined with that reason), or None."""
        return None

    # ``skip_reason`` reads only what a record group shares (report, labels, language, leads, rate,
    # length; see ``record_table``), never ids, dates or measurements: planning asks once per group.
    skips_by_group: ClassVar[bool] = False

    @property
    def plans_one_item_per_record(self) -> bool:
        """Whether ``plan`` is the default (an item per record): its units then carry table rows."""
        return type(self).plan is Builder.plan

    def estimated_row_bytes(self, signal_bytes: int) -> int:
        """About how many bytes one sample stores, for shard sizing (``signal_bytes``: one profiled ECG)."""
        return signal_bytes

    def plan(self, refs: list[RecordRef]) -> list[WorkItem | SourceError]:
        """Work items in a deterministic order (default: one per record). Refs of one split at a
        time. A record that turns out not to fit only once seen with the others (no partner for a
        group, say) is returned as a SourceError naming it: the engine quarantines it at planning."""
        return [WorkItem((ref,)) for ref in refs]

    def disabled_reason(self) -> str | None:
        """Why this builder makes nothing on purpose in this environment (e.g. no LLM endpoint)."""
        return None

    def prefetch(self, items: list[WorkItem]) -> None:
        """A stage between plan and run, in the main process, for work that needs a service
        (LLM requests into the cache). Default: nothing."""

    def prefetches(self) -> bool:
        """Whether ``prefetch`` has work here: the engine then lists the items for it (800k report
        items of MIMIC-IV-ECG are not built as refs for a prefetch that would do nothing)."""
        return type(self).prefetch is not Builder.prefetch

    def run(self, item: WorkItem, ctx: BuildContext) -> list[Sample]:
        raise NotImplementedError

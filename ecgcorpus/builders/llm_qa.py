"""LLM-curated QA through any OpenAI-compatible endpoint (PULSE, ECG-Chat and anyECG multi-ECG styles).

Task families × question types, as ``tasks: ["rhythm/mcq", "morphology/open", …]``: basic_features,
rhythm, morphology, report (PULSE's four) and diagnosis (patient-style) with mcq | fill | close |
open; ``conversation`` (multi-turn, ECG-Chat); ``comparison/<type>`` (several ECGs of one patient,
dated, anyECG multi — a builder with comparison tasks has only those, and its work items are one
patient's ECGs sorted by date). The model sees only ``ecgcorpus.llm.context`` text and returns JSON
validated against ``ecgcorpus.llm.schema``; an optional second pass scores each item 0–5 and drops
those under ``quality.threshold``.

Where the requests are sent. The engine runs one work item at a time per worker process, and a
work item holds one patient's records, so a unit cannot batch requests across items by itself.
``prefetch()``, a stage the engine runs between plan and run, therefore sends every request of the
corpus (from the main process, asyncio, at most ``llm.concurrency`` in flight, or through the
Batch API) into the content-addressed cache, and ``run()`` rebuilds the same requests and reads
their answers back. Requests depend only on the record, the manifest and the prompt file (the
task drawn per item comes from a generator seeded by the seed, the config and the item, never
from what the item is run with), so prefetch and run agree. ``run()`` sends what the cache still
lacks itself (online mode), so it is correct on its own. Same cache + same manifest → same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..llm import context as ctxt
from ..llm import render
from ..llm.config import Endpoint, parse_config, resolve_endpoint
from ..llm.errors import LlmItemError
from ..llm.jobs import Job, Outcome
from ..llm.prompts import load_llm_prompts
from ..llm.request import chat_body
from ..llm.schema import QTYPES, QualityScore, conversation_model, json_schema, qa_set_model, schema_name
from ..llm.session import LlmSession, announce
from ..sample import Sample
from ..seeding import derived_rng
from ..types import RecordRef
from .base import BuildContext, Builder, WorkItem, label_meta
from .qa_groups import acquired_at, patient_groups

SINGLE_FAMILIES = ("basic_features", "rhythm", "morphology", "report", "diagnosis")
FAMILIES = (*SINGLE_FAMILIES, "conversation", "comparison")
PULSE_TASKS = [f"{f}/{t}" for f in ("basic_features", "rhythm", "morphology", "report") for t in QTYPES]
SAMPLE_TASK = {"comparison": "multi", "conversation": "conversation", "diagnosis": "diagnosis"}  # else llm_qa
PREFETCH_CHUNK = 2000   # items per online prefetch round: bounds memory, keeps the pipeline full


@dataclass(frozen=True)
class Task:
    family: str
    qtype: str          # mcq | fill | close | open | turns (conversation)

    @property
    def name(self) -> str:
        return self.family if self.qtype == "turns" else f"{self.family}/{self.qtype}"


def parse_task(text: str) -> Task:
    family, _, qtype = text.partition("/")
    if family == "conversation":
        if qtype not in ("", "turns"):
            raise ValueError(f"{text!r}: a conversation has no question type (write 'conversation')")
        return Task(family, "turns")
    if family not in FAMILIES:
        raise ValueError(f"{text!r}: unknown family (use {', '.join(FAMILIES)})")
    if qtype not in QTYPES:
        raise ValueError(f"{text!r}: unknown question type (use {family}/{' | '.join(QTYPES)})")
    return Task(family, qtype)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class QualityParams(_Strict):
    threshold: int | None = Field(default=None, ge=0, le=5, description="drop items scored under this; "
                                  "null: no scoring pass")
    model: str | None = Field(default=None, description="scoring model (default: the generator's)")
    prompts: str = "quality-v1"


class LlmQaParams(_Strict):
    tasks: list[str] = Field(default_factory=lambda: list(PULSE_TASKS))
    per_item: int = Field(default=1, ge=1, description="tasks drawn per record (or group)")
    items_per_request: int | None = Field(default=None, ge=1, le=20,
                                          description="QA items per request (default 8 for comparison, else 2)")
    conversation_turns: tuple[int, int] = (3, 6)
    group_size: tuple[int, int] = (2, 6)
    prompts: str = "qa-v1"
    language: str = "English"
    demographics: bool = Field(default=False, description="show the model the patient's age and sex")
    model: str | None = Field(default=None, description="this builder's model (default: llm.model)")
    close_explanation: bool = True
    quality: QualityParams = Field(default_factory=QualityParams)

    @field_validator("tasks")
    @classmethod
    def _tasks(cls, tasks):
        if not tasks:
            raise ValueError("at least one task")
        parsed = [parse_task(t) for t in tasks]
        if len({t.family == "comparison" for t in parsed}) > 1:
            raise ValueError("comparison tasks group several ECGs per item: put them in a builder of their own")
        return tasks

    @model_validator(mode="after")
    def _ranges(self):
        lo, hi = self.group_size
        if not 2 <= lo <= hi:
            raise ValueError("group_size: [min, max] with 2 <= min <= max")
        lo, hi = self.conversation_turns
        if not 1 <= lo <= hi:
            raise ValueError("conversation_turns: [min, max] with 1 <= min <= max")
        return self


class LlmQaBuilder(Builder):
    type = "llm_qa"
    task = "llm_qa"

    Params = LlmQaParams

    def __init__(self, spec, manifest):
        super().__init__(spec, manifest)
        self.llm = parse_config(manifest.llm)
        self.endpoint: Endpoint | None
        self.endpoint, self.disabled = resolve_endpoint(self.llm, self.params.model)
        self.tasks = [parse_task(t) for t in self.params.tasks]
        self.comparison = self.tasks[0].family == "comparison"
        self.prompts = load_llm_prompts(self.params.prompts)
        self.scoring = self.params.quality.threshold is not None
        self.quality_prompts = load_llm_prompts(self.params.quality.prompts) if self.scoring else None
        self._session: LlmSession | None = None

    def disabled_reason(self) -> str | None:
        """Why this builder makes nothing in this environment (no endpoint), or None."""
        return self.disabled

    # --- planning ---------------------------------------------------------------------------

    def skip_reason(self, ref: RecordRef) -> str | None:
        if not ctxt.has_facts(ref):
            return "no report or diagnostic statements for the LLM to work from"
        if self.comparison and (not ref.patient_id or acquired_at(ref) is None):
            return "no patient id or acquisition date (needed to group one patient's ECGs)"
        return None

    def plan(self, refs: list[RecordRef]) -> list[WorkItem]:
        """The work items, without sending anything: one per record, or one patient's group of ECGs."""
        return self.group(refs) if self.comparison else [WorkItem((ref,)) for ref in refs]

    def group(self, refs: list[RecordRef]) -> list[WorkItem]:
        """One patient's ECGs in time order, cut into groups of group_size[0]..group_size[1] (the same
        partition as the comparison builder's for the same seed and sizes)."""
        lo, hi = self.params.group_size
        return [WorkItem(group) for group in patient_groups(refs, lo, hi, self.manifest.seed)]

    def prefetch(self, items: list[WorkItem]) -> None:
        """The stage between plan and run: send every request the items need (generation, then
        scoring) into the cache, so that units only read answers back."""
        if not items:
            return
        session = self.session()
        chunk = len(items) if self.llm.mode == "batch" else PREFETCH_CHUNK
        for i in range(0, len(items), max(chunk, 1)):
            pairs = [(item, task) for item in items[i:i + chunk] for task in self.tasks_for(item)]
            outcomes = session.resolve([self.generation_job(item, task) for item, task in pairs])
            if self.scoring:
                session.resolve([self.scoring_job(item, task, entry) for (item, task), out in zip(pairs, outcomes)
                                 if out.ok for entry in render.item_entries(task.qtype, out.value)])
        announce(f"{self.config}: {len(items)} work items, {self.endpoint.describe()} · {session.summary()}")

    # --- requests ---------------------------------------------------------------------------

    def session(self) -> LlmSession:
        if self._session is None:
            self._session = LlmSession(self.endpoint)
        return self._session

    def use_session(self, session: LlmSession) -> None:
        """Route this builder's requests through ``session`` (e.g. one that only collects them)."""
        self.endpoint = session.endpoint
        self.disabled = None
        self._session = session

    def _rng(self, *parts: str) -> np.random.Generator:
        return derived_rng(self.manifest.seed, self.config, *parts)

    def tasks_for(self, item: WorkItem) -> list[Task]:
        k = min(self.params.per_item, len(self.tasks))
        picks = self._rng("tasks", item.key).choice(len(self.tasks), size=k, replace=False)
        return [self.tasks[i] for i in sorted(int(p) for p in picks)]

    def n_items(self, task: Task) -> int:
        return self.params.items_per_request or (8 if task.family == "comparison" else 2)

    def context(self, item: WorkItem) -> str:
        return ctxt.context_text(item.refs, self.params.demographics)

    def generation_job(self, item: WorkItem, task: Task) -> Job:
        p = self.prompts
        if task.qtype == "turns":
            schema = conversation_model(*self.params.conversation_turns)
            lo, hi = self.params.conversation_turns
            count = p["counts"]["turns"].format(min_turns=lo, max_turns=hi)
        else:
            schema = qa_set_model(task.qtype, self.n_items(task))
            count = p["counts"]["items"].format(n=self.n_items(task))
        family, qtype = p["families"][task.family], p["types"][task.qtype]
        messages = [
            {"role": "system", "content": p["system"].format(language=self.params.language)},
            {"role": "user", "content": p["user"].format(
                family_title=family["title"], family_description=family["description"],
                type_title=qtype["title"], type_instruction=qtype["instruction"],
                count_instruction=count, context=self.context(item))},
        ]
        return Job(chat_body(self.llm, self.endpoint.model, messages, schema_name(schema), json_schema(schema)), schema)

    def scoring_job(self, item: WorkItem, task: Task, entry: Any) -> Job:
        q = self.quality_prompts
        messages = [
            {"role": "system", "content": q["system"]},
            {"role": "user", "content": q["user"].format(
                context=self.context(item), type_title=self.prompts["types"][task.qtype]["title"],
                item=render.describe(task.qtype, entry))},
        ]
        model = self.params.quality.model or self.endpoint.model
        return Job(chat_body(self.llm, model, messages, schema_name(QualityScore), json_schema(QualityScore)),
                   QualityScore)

    # --- samples ----------------------------------------------------------------------------

    def run(self, item: WorkItem, ctx: BuildContext) -> list[Sample]:
        session = self.session()
        send = self.llm.mode == "online"   # batch: only plan() submits (one batch, not one per item); offline: never
        tasks = self.tasks_for(item)
        outcomes = session.resolve([self.generation_job(item, task) for task in tasks], send, progress=False)
        self._raise_unless_ok(item, [(task.name, out) for task, out in zip(tasks, outcomes)])
        entries = [(task, out, j, entry) for task, out in zip(tasks, outcomes)
                   for j, entry in enumerate(render.item_entries(task.qtype, out.value))]
        scores: list[Outcome | None] = [None] * len(entries)
        if self.scoring:
            scores = session.resolve([self.scoring_job(item, task, entry) for task, _, _, entry in entries], send,
                                     progress=False)
            self._raise_unless_ok(item, [(f"quality score of {t.name} item {j}", s)
                                         for (t, _, j, _), s in zip(entries, scores)])
        segments = [ctx.segment(ref) for ref in item.refs]
        dates, gaps = ctxt.group_dates(item.refs) if self.comparison else (None, None)
        prefix = render.ecg_prefix(dates, self.prompts["render"]["comparison_header"])
        samples, dropped = [], 0
        for (task, out, j, entry), score in zip(entries, scores):
            if score is not None and score.value.score < self.params.quality.threshold:
                dropped += 1
                continue
            turns, wrapper = render.conversation(task.qtype, entry, prefix, self.prompts["render"], ctx.rng,
                                                 self.params.close_explanation)
            meta = self._meta(item, task, out, j, wrapper, score)
            if dates:
                meta.update(dates=dates, day_gaps=gaps)
            samples.append(Sample(task=SAMPLE_TASK.get(task.family, "llm_qa"), conversations=turns,
                                  segments=list(segments), meta=meta))
        if not samples:   # nothing silent: a work item gives samples or a quarantine reason
            found = ", ".join(str(s.value.score) for s in scores if s is not None)
            raise LlmItemError(item.refs[0].path, f"every LLM item scored under the quality threshold "
                               f"{self.params.quality.threshold} (scores {found})", item.key)
        self._count(ctx, outcomes, [s for s in scores if s is not None], len(samples), dropped)
        return samples

    def _raise_unless_ok(self, item: WorkItem, named: list[tuple[str, Outcome]]) -> None:
        bad = [f"llm {name}: {out.status}" + (f" ({out.detail})" if out.detail else "")
               for name, out in named if not out.ok]
        if bad:
            text = "; ".join(bad)
            raise LlmItemError(item.refs[0].path, self.endpoint.scrub(text)[:500], item.key)

    def _meta(self, item: WorkItem, task: Task, out: Outcome, index: int, wrapper: int | None,
              score: Outcome | None) -> dict:
        usage = out.usage
        meta = {
            "subtask": task.family, "type": task.qtype, "question_type": task.qtype,
            "source": item.refs[0].source,
            "template_id": f"{self.prompts.name}/{task.name}" + (f"#{wrapper:02d}" if wrapper is not None else ""),
            "labels": label_meta(item.refs),
            "llm": {"model": out.model, "prompts": self.prompts.name, "prompts_sha256": self.prompts.sha256,
                    "requests": out.keys, "item": index, "finish_reason": out.finish_reason,
                    "usage": {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens}},
        }
        if score is not None:
            meta["quality"] = {"score": score.value.score, "reason": score.value.reason,
                               "threshold": self.params.quality.threshold, "model": score.model,
                               "prompts": self.quality_prompts.name, "request": score.keys[-1]}
        return meta

    def _count(self, ctx: BuildContext, generated: list[Outcome], scored: list[Outcome], kept: int,
               dropped: int) -> None:
        """Deterministic totals (from the cache, not from what this run paid) for the engine's lock."""
        stats = getattr(ctx, "stats", None)
        if stats is None:
            return
        from ..llm.pricing import Usage

        usage = Usage()
        for out in (*generated, *scored):
            usage.merge(out.usage)
        usage.count_into(stats, self.llm, llm_samples=kept, llm_dropped_low_quality=dropped)

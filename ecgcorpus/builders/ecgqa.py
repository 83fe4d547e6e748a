"""ECG-QA items as samples (builder ``ecgqa``, source ``ecgqa``): one sample per item, its ECGs in
the item's order (a comparison item's first ECG first).

Profiles: ``anyecg`` writes anyECG's conversion (question + " Please answer briefly.", answers
joined by ", ", ``question_type`` and an int ``template_id`` in meta, task ``ecgqa``); ``pulse``
wraps a fixed ``Question:``/``Options:`` core in one of several instructions, as ECGInstruct does.
An item whose ECGs fall in different splits (two patients under a patient split) is quarantined, so
that no patient crosses splits.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

from pydantic import BaseModel, ConfigDict

from ..engine.splits import assign_split
from ..errors import SourceError
from ..prompts import load_prompts
from ..sample import ECG_TOKEN, Sample
from ..types import RecordRef
from .base import BuildContext, Builder, WorkItem, label_meta


class EcgQaParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    profile: Literal["anyecg", "pulse"] = "anyecg"
    question_types: list[str] | None = None     # ECG-QA's, e.g. single-verify; default: all


class EcgQaBuilder(Builder):
    type = "ecgqa"
    task = "ecgqa"
    fixed_shape = True

    Params = EcgQaParams

    def skip_reason(self, ref: RecordRef) -> str | None:
        return None if ref.extra.get("ecgqa_items") else "no ECG-QA item (use this builder on an ecgqa source)"

    def plan(self, refs: list[RecordRef]) -> list[WorkItem | SourceError]:
        """One work item per first ECG: its items, and the other ECGs they name."""
        out: list[WorkItem | SourceError] = []
        wanted = self.params.question_types
        for ref in refs:
            items, partners = [], {}
            for item in ref.extra["ecgqa_items"]:
                if wanted and item["question_type"] not in wanted:
                    continue
                others = [replace(ref.extra["ecgqa_partners"][str(int(e))], source_key=ref.source_key)
                          for e in item["ecg_id"][1:]]
                splits = {self._split(o, ref.extra.get("ecgqa_split")) for o in others} - {ref.split}
                if splits:
                    out.append(SourceError(ref.path, f"ECG-QA item {item['sample_id']} pairs ECGs of different splits "
                                           f"({ref.split} and {', '.join(sorted(splits))}): quarantined so that no "
                                           f"patient crosses splits", f"ecgqa:{item['sample_id']}"))
                    continue
                items.append(item)
                partners.update({o.record_id: o for o in others})
            if items:
                out.append(WorkItem((ref, *partners.values()), {"items": items}))
        return out

    def _split(self, ref: RecordRef, item_split: str | None) -> str:
        """The split the engine gives ``ref`` (ECG-QA splits by ECG: an item's ECGs share its split)."""
        return assign_split(ref, self.manifest.splits, self.manifest.seed, item_split)

    def run(self, item: WorkItem, ctx: BuildContext) -> list[Sample]:
        by_id = {r.native_id: r for r in item.refs}
        segments = {r.native_id: ctx.segment(r) for r in item.refs}
        prompts = load_prompts("ecgqa")
        options = ctx.source(item.refs[0]).answer_options() if self.params.profile == "pulse" else {}
        samples = []
        for qa in item.params["items"]:
            ids = [str(int(e)) for e in qa["ecg_id"]]
            question, answer = qa["question"], ", ".join(qa["answer"])
            if self.params.profile == "anyecg":
                text = question + prompts["anyecg_suffix"]
                wrapper = None
            else:
                classes = options.get(int(qa["template_id"]))
                if not classes:
                    raise SourceError(item.refs[0].path, f"no answer options for template {qa['template_id']}",
                                      f"ecgqa:{qa['sample_id']}")
                wrapper = int(ctx.rng.integers(len(prompts["pulse"])))
                core = prompts["core"].format(question=question, options=", ".join(classes))
                text = prompts["pulse"][wrapper].format(core=core)
            tokens = "".join(f"{ECG_TOKEN}\n" for _ in ids)
            samples.append(Sample(
                task=self.task,
                conversations=[{"from": "human", "value": tokens + text}, {"from": "gpt", "value": answer}],
                segments=[segments[e] for e in ids],
                meta={"question_type": qa["question_type"], "template_id": int(qa["template_id"]),
                      "attribute_type": qa["attribute_type"], "attribute": qa["attribute"], "answer": qa["answer"],
                      "ecgqa": {"sample_id": qa["sample_id"], "question_id": qa["question_id"]},
                      "profile": self.params.profile, "wrapper": wrapper,
                      "labels": label_meta([by_id[e] for e in ids])},
            ))
        return samples

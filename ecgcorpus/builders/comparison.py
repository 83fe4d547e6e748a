"""Multi-ECG comparison: 2–6 ECGs of one patient in time order, template QA about what changed.

Groups come from ``qa_groups.patient_groups`` (MIMIC subject_id, PTB-XL patient_id, SPH Patient_ID;
records without a patient id or an acquisition time are quarantined). Findings are the harmonized
labels, or the report statements when a group has no labels (MIMIC-IV-ECG); rate and intervals
come from neurokit2 (``ecgcorpus.features``) and are only quoted where both ECGs were measured.
The human turn starts with one ``<ecg>`` per ECG (in order), then lists each ECG's date; answers
quote ECG numbers, dates and day gaps. ``meta["context"]`` holds the per-group reports, dates, gaps, labels and
measurements for LLM generation (the anyECG multi-ECG prompt itself is not public).

Every attached ECG is profiled like a single-ECG sample, so ``fixed_shape`` stays True: with a
profile that fixes duration (and pads), every segment has the profile's leads × samples.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..features import FEATURES, Measurements
from ..leads import require_canonical
from ..prompts import load_prompts
from ..sample import ECG_TOKEN, Sample
from ..types import RecordRef
from .base import BuildContext, Builder, WorkItem, label_meta
from .features import measured_segment
from .qa_groups import Finding, acquired_at, findings, findings_basis, patient_groups

QuestionType = Literal["timeline", "new", "resolved", "persistent", "first_appearance", "rate_change",
                       "interval_change", "fastest"]
ALL_TYPES = list(QuestionType.__args__)
INTERVALS = ("pr_ms", "qrs_ms", "qtc_ms")


class ComparisonParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_ecgs: int = Field(default=2, ge=2, le=12)
    max_ecgs: int = Field(default=6, ge=2, le=12)
    questions: int = Field(default=4, ge=1, le=16)     # QA pairs per group
    multi_turn: bool = False                           # all QA pairs in one conversation (signals stored once)
    lead: str = "II"
    question_types: list[QuestionType] = Field(default_factory=lambda: list(ALL_TYPES))

    @field_validator("lead")
    @classmethod
    def _lead(cls, lead):
        return require_canonical(lead)

    @model_validator(mode="after")
    def _sizes(self):
        if self.min_ecgs > self.max_ecgs:
            raise ValueError(f"min_ecgs {self.min_ecgs} > max_ecgs {self.max_ecgs}")
        return self


class Group:
    """One patient's ECGs in time order, with what a question may quote about them."""

    def __init__(self, refs: tuple[RecordRef, ...], measurements: list[Measurements]):
        self.refs, self.m = refs, measurements
        self.times: list[datetime] = [acquired_at(ref) for ref in refs]
        self.days = [(t.date() - self.times[0].date()).days for t in self.times]
        self.basis = findings_basis(refs)
        self.findings: list[list[Finding]] = [findings(ref, self.basis) for ref in refs] if self.basis else []

    def __len__(self) -> int:
        return len(self.refs)

    def date(self, i: int) -> str:
        return self.times[i].date().isoformat()

    def name(self, i: int) -> str:
        return f"ECG {i + 1} ({self.date(i)})"

    def gap(self, i: int, j: int) -> str:
        days = self.days[j] - self.days[i]
        if days == 0:
            return f"recorded the same day as ECG {i + 1}"
        return f"{days} day{'s' if days != 1 else ''} after ECG {i + 1}"

    def span(self) -> str:
        days = self.days[-1]
        return "a single day" if days == 0 else f"{days} day{'s' if days != 1 else ''}"

    def pairs(self) -> list[tuple[int, int]]:
        out = [(i, i + 1) for i in range(len(self) - 1)]
        return out + ([(0, len(self) - 1)] if len(self) > 2 else [])

    def context(self) -> dict:
        """Everything an LLM prompt needs about the group (and nothing the signals do not back)."""
        return {
            "patient_id": self.refs[0].patient_id, "source": self.refs[0].source, "n_ecgs": len(self),
            "span_days": self.days[-1], "findings_basis": self.basis,
            "ecgs": [{
                "index": i + 1, "record_id": ref.record_id, "acquired": ref.acquired, "date": self.date(i),
                "days_since_first": self.days[i], "days_since_previous": self.days[i] - self.days[i - 1] if i else None,
                "report": "\n".join(ref.report_lines) or None,
                "labels": [lab.name or lab.code for lab in ref.labels],
                "findings": [f.text for f in self.findings[i]] if self.basis else None,
                "features": self.m[i].to_dict(),
            } for i, ref in enumerate(self.refs)],
        }


class ComparisonBuilder(Builder):
    type = "comparison"
    task = "comparison"
    fixed_shape = True  # each attached ECG is profiled on its own: the profile's shape holds per segment

    Params = ComparisonParams

    def skip_reason(self, ref: RecordRef) -> str | None:
        if not ref.patient_id:
            return "no patient id: cannot be grouped with the patient's other ECGs"
        if acquired_at(ref) is None:
            return "no acquisition time: cannot be put in time order"
        return None

    def plan(self, refs: list[RecordRef]) -> list[WorkItem]:
        groups = patient_groups(refs, self.params.min_ecgs, self.params.max_ecgs, self.manifest.seed)
        return [WorkItem(group) for group in groups]

    def run(self, item: WorkItem, ctx: BuildContext) -> list[Sample]:
        measured = [measured_segment(ctx, ref, self.params.lead) for ref in item.refs]
        segments = [segment for segment, _ in measured]
        group = Group(item.refs, [m for _, m in measured])
        prompts = load_prompts("comparison")
        qas = [self._qa(kind, args, group, prompts, ctx) for kind, args in self._choose(group, ctx.rng)]
        header = self._header(group, prompts, ctx)
        common = {"context": group.context(), "labels": label_meta(item.refs), "lead": self.params.lead}
        if self.params.multi_turn:
            turns = []
            for n, (question, answer, _) in enumerate(qas):
                turns += [{"from": "human", "value": f"{header}\n{question}" if n == 0 else question},
                          {"from": "gpt", "value": answer}]
            return [Sample(task=self.task, conversations=turns, segments=segments,
                           meta={**common, "turns": [facts for _, _, facts in qas]})]
        return [Sample(task=self.task, segments=segments, meta={**common, **facts},
                       conversations=[{"from": "human", "value": f"{header}\n{question}"},
                                      {"from": "gpt", "value": answer}])
                for question, answer, facts in qas]

    def _header(self, group: Group, prompts: dict, ctx) -> str:
        intro = prompts["intro"][int(ctx.rng.integers(len(prompts["intro"])))].format(n=len(group))
        lines = [prompts["ecg_line"].format(i=i + 1, date=group.date(i)) for i in range(len(group))]
        return "\n".join([ECG_TOKEN] * len(group) + [intro] + lines)

    # --- which questions the group supports --------------------------------------------------------

    def _candidates(self, g: Group) -> dict[str, list[tuple]]:
        hr = [m.heart_rate_bpm for m in g.m]
        out: dict[str, list[tuple]] = {"timeline": [()]}
        if g.basis:
            out["new"] = out["resolved"] = g.pairs()
            out["persistent"] = [()]
            first = {f.key for f in g.findings[0]}
            seen: dict[str, tuple[int, Finding]] = {}
            for j in range(1, len(g)):
                for f in g.findings[j]:
                    if f.key not in first and f.key not in seen:
                        seen[f.key] = (j, f)
            out["first_appearance"] = [seen[key] for key in sorted(seen)]
        out["rate_change"] = [(i, j) for i, j in g.pairs() if hr[i] is not None and hr[j] is not None]
        out["interval_change"] = [(i, j, key) for i, j in g.pairs() for key in INTERVALS
                                  if getattr(g.m[i], key) is not None and getattr(g.m[j], key) is not None]
        if all(v is not None for v in hr) and hr.count(max(hr)) == 1:
            out["fastest"] = [(hr.index(max(hr)),)]
        return out

    def _choose(self, g: Group, rng) -> list[tuple[str, tuple]]:
        """Up to ``questions`` candidates, one type after another in a random order (variety first)."""
        pools = {kind: list(args) for kind, args in self._candidates(g).items()
                 if kind in self.params.question_types and args}
        kinds = [k for k in ALL_TYPES if k in pools]
        kinds = [kinds[i] for i in rng.permutation(len(kinds))]
        chosen = []
        while kinds and len(chosen) < self.params.questions:
            for kind in list(kinds):
                if len(chosen) == self.params.questions:
                    break
                pool = pools[kind]
                chosen.append((kind, pool.pop(int(rng.integers(len(pool))))))
                if not pool:
                    kinds.remove(kind)
        return chosen

    # --- one question and its answer ---------------------------------------------------------------

    def _qa(self, kind: str, args: tuple, g: Group, prompts: dict, ctx) -> tuple[str, str, dict]:
        templates, texts = prompts["questions"][kind], prompts["answers"]
        index = int(ctx.rng.integers(len(templates)))
        facts: dict = {"question_type": kind, "template_id": f"comparison-{kind}-q{index:02d}"}
        fields: dict = {"n": len(g)}
        if kind == "timeline":
            parts = [texts["timeline_first"].format(date=g.date(0))]
            parts += [texts["timeline_next"].format(j=j + 1, date=g.date(j), gap=g.gap(j - 1, j))
                      for j in range(1, len(g))]
            answer = "; ".join(parts) + ". " + texts["timeline_end"].format(span=g.span())
            facts.update(dates=[g.date(i) for i in range(len(g))], days_since_first=g.days)
        elif kind in ("new", "resolved"):
            i, j = args
            before, after = g.findings[i], g.findings[j]
            keys_before, keys_after = {f.key for f in before}, {f.key for f in after}
            changed = ([f.text for f in after if f.key not in keys_before] if kind == "new"
                       else [f.text for f in before if f.key not in keys_after])
            fields.update(i=i + 1, j=j + 1)
            answer = texts[f"{kind}_{'some' if changed else 'none'}"].format(
                i=i + 1, ecg_i=g.name(i), ecg_j=g.name(j), gap=g.gap(i, j), findings=", ".join(changed))
            facts.update(ecgs=[i + 1, j + 1], findings=changed, basis=g.basis)
        elif kind == "persistent":
            common = [f.text for f in g.findings[0] if all(f.key in {h.key for h in fs} for fs in g.findings[1:])]
            every = "both ECGs" if len(g) == 2 else f"all {len(g)} ECGs"
            answer = texts[f"persistent_{'some' if common else 'none'}"].format(
                every=every, first=g.date(0), last=g.date(len(g) - 1), findings=", ".join(common))
            facts.update(findings=common, basis=g.basis)
        elif kind == "first_appearance":
            j, finding = args
            fields.update(finding=finding.text)
            text = finding.text[:1].upper() + finding.text[1:]
            answer = texts["first_appearance"].format(finding=text, ecg_j=g.name(j), gap=g.gap(0, j))
            facts.update(ecgs=[j + 1], finding=finding.text, basis=g.basis)
        elif kind in ("rate_change", "interval_change"):
            i, j = args[:2]
            key = "heart_rate_bpm" if kind == "rate_change" else args[2]
            feature = FEATURES[key]
            vi, vj = getattr(g.m[i], key), getattr(g.m[j], key)
            fields.update(i=i + 1, j=j + 1, feature=feature.name)
            answer = texts[kind].format(
                feature=feature.name, value_i=feature.value_text(vi, beside_name=True),
                value_j=feature.value_text(vj, beside_name=True),
                ecg_i=g.name(i), ecg_j=g.name(j), gap=g.gap(i, j), delta=_delta(vj - vi, feature.unit, kind))
            facts.update(ecgs=[i + 1, j + 1], feature=key, values=[vi, vj])
        else:  # fastest
            (j,) = args
            feature = FEATURES["heart_rate_bpm"]
            others = ", ".join(f"ECG {i + 1} at {feature.value_text(g.m[i].heart_rate_bpm)}"
                               for i in range(len(g)) if i != j)
            answer = texts["fastest"].format(ecg_j=g.name(j), value_j=feature.value_text(g.m[j].heart_rate_bpm),
                                             others=others)
            facts.update(ecgs=[j + 1], values=[m.heart_rate_bpm for m in g.m])
        question = templates[index].format(**fields)
        return question, answer, facts


def _delta(d: int, unit: str, kind: str) -> str:
    if d == 0:
        return "no change" if kind == "rate_change" else "unchanged"
    if kind == "rate_change":
        return f"{'an increase' if d > 0 else 'a decrease'} of {abs(d)} {unit}"
    return f"{abs(d)} {unit} {'longer' if d > 0 else 'shorter'}"

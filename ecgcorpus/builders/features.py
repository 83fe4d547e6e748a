"""Waveform-feature QA: fill-in, close (yes/no) and MCQ about neurokit2 measurements; the ECG-Chat suffix.

Measurements are taken at the record's native rate over the same span as the attached (profiled)
segment. Questions are asked only about values that were measured; a record where nothing could
be measured is quarantined with neurokit2's reasons.

Profiles: ``default`` (PULSE-style feature questions) and ``ecgchat`` (one sample per record whose
answer is ECG-Chat's waveform string ``RR: … PR: … QRS: … QT/QTc: …/… P/R/T Wave: …/…/…``;
``faithful`` uses ECG-Chat's own definitions and its P/R/T peak indices, ``with_report`` prefixes the
report as ECG-Chat's CoCa text does).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..errors import SourceError
from ..features import FEATURES, Measurements, measure, wave_suffix
from ..features.consistency import consistent
from ..features.machine import with_machine_values
from ..leads import require_canonical
from ..prompts import load_prompts
from ..sample import ECG_TOKEN, Sample, Segment
from ..signal_profile import apply_profile
from ..types import RecordRef
from .base import BuildContext, Builder, WorkItem, label_meta
from .report_text import render_report, statement_lines

LETTERS = "ABCDEFGH"


class FeaturesParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    profile: Literal["default", "ecgchat"] = "default"
    lead: str = "II"
    features: list[str] = Field(default_factory=lambda: list(FEATURES))
    question_types: list[Literal["fill", "close", "mcq"]] = Field(default_factory=lambda: ["fill", "close", "mcq"])
    samples_per_record: int = Field(default=1, ge=1, le=16)
    faithful: bool = False       # ecgchat: ECG-Chat's definitions (dwt, Q→S "QRS") and peak indices
    with_report: bool = False    # ecgchat: answer = report (ecgchat rendering) + " " + suffix

    @field_validator("lead")
    @classmethod
    def _lead(cls, lead):
        return require_canonical(lead)

    @field_validator("features")
    @classmethod
    def _features(cls, features):
        unknown = [f for f in features if f not in FEATURES]
        if unknown or not features:
            raise ValueError(f"unknown feature(s) {unknown}; choose from {', '.join(FEATURES)}")
        return features

    @model_validator(mode="after")
    def _ecgchat_only(self):
        if self.profile != "ecgchat" and (self.faithful or self.with_report):
            raise ValueError("faithful and with_report belong to the ecgchat profile")
        return self


def measured_segment(ctx: BuildContext, ref: RecordRef, lead: str,
                     definitions: str = "standard") -> tuple[Segment, Measurements]:
    """The profiled segment a sample attaches, and neurokit2's measurements of the same span (native
    rate), reconciled with the record's labels (``features.consistency``: SourceError on a contradiction)."""
    ecg = ctx.source(ref).load(ref)
    profiled, start, stop = apply_profile(ecg, ctx.manifest.profile, ctx.rng)
    span = ecg if (start, stop) == (0, ecg.n_samples) else ecg.crop(start, stop)
    m = measure(span, lead, definitions)
    machine = ref.extra.get("measurements")
    if machine and definitions == "standard" and (start, stop) == (0, ecg.n_samples):
        m = with_machine_values(m, machine)     # the cart's 12-lead values for the whole record
    if m.quality != "failed":
        m = consistent(m, ref)
    return Segment(ref=ref, ecg=profiled, start=start, native_stop=stop), m


class FeaturesBuilder(Builder):
    type = "features"
    task = "features"

    Params = FeaturesParams
    skips_by_group = True

    def skip_reason(self, ref: RecordRef) -> str | None:
        if self.params.lead not in ref.leads:
            return f"no lead {self.params.lead} to measure"
        if self.params.with_report and not statement_lines(ref):
            return "no report text (with_report)"
        return None

    def run(self, item: WorkItem, ctx: BuildContext) -> list[Sample]:
        (ref,) = item.refs
        p = self.params
        segment, m = measured_segment(ctx, ref, p.lead, "ecgchat" if p.faithful else "standard")
        if m.quality == "failed":
            raise SourceError(ref.path, f"no waveform feature measured on lead {p.lead}: {'; '.join(m.reasons)}",
                              ref.record_id)
        meta = {"measurements": m.to_dict(), "lead": p.lead, "profile": p.profile, "labels": label_meta(item.refs)}
        if p.profile == "ecgchat":
            return [self._wave_sample(ref, m, segment, meta, ctx)]
        candidates = [(key, kind) for key in p.features if getattr(m, key) is not None
                      for kind in p.question_types if kind != "close" or FEATURES[key].conditions]
        if not candidates:
            raise SourceError(ref.path, f"none of the requested features was measured ({'; '.join(m.reasons)})",
                              ref.record_id)
        order = ctx.rng.permutation(len(candidates))[:p.samples_per_record]
        return [self._qa_sample(*candidates[i], m, segment, meta, ctx) for i in order]

    def _qa_sample(self, key: str, kind: str, m: Measurements, segment, meta: dict, ctx) -> Sample:
        feature, value = FEATURES[key], getattr(m, key)
        prompts = load_prompts("features")
        index = int(ctx.rng.integers(len(prompts[kind])))
        value_text = feature.value_text(value)
        extra: dict = {}
        if kind == "fill":
            question = prompts["fill"][index].format(feature=feature.name)
            answer = value_text
        elif kind == "close":
            condition = feature.conditions[int(ctx.rng.integers(len(feature.conditions)))]
            holds = condition.holds(value)
            question = prompts["close"][index].format(feature=feature.name, condition=condition.phrase)
            answer = prompts["close_answer"]["yes" if holds else "no"].format(
                feature=feature.name, value=feature.value_text(value, beside_name=True))
            extra = {"condition": condition.id, "answer": "yes" if holds else "no"}
        else:
            order = [int(i) for i in ctx.rng.permutation(len(feature.bins))]
            options = [feature.bins[i][2] for i in order]
            letter = LETTERS[order.index(feature.bin_of(value))]
            question = prompts["mcq"][index].format(feature=feature.name) + "\n" + "\n".join(
                f"{LETTERS[i]}. {text}" for i, text in enumerate(options))
            answer = f"{letter}. {options[LETTERS.index(letter)]}"
            extra = {"options": options, "correct_letter": letter}
        return Sample(
            task=self.task,
            conversations=[{"from": "human", "value": f"{ECG_TOKEN}\n{question}"},
                           {"from": "gpt", "value": answer}],
            segments=[segment],
            meta={**meta, "question_type": kind, "template_id": f"features-{kind}-q{index:02d}", "feature": key,
                  "value": value, "unit": feature.unit, **extra},
        )

    def _wave_sample(self, ref: RecordRef, m: Measurements, segment, meta: dict, ctx) -> Sample:
        prompts = load_prompts("features")
        index = int(ctx.rng.integers(len(prompts["wave"])))
        answer = wave_suffix(m, faithful=self.params.faithful)
        if self.params.with_report:
            answer = render_report(statement_lines(ref), "ecgchat", self.params.faithful) + " " + answer
        return Sample(
            task=self.task,
            conversations=[{"from": "human", "value": f"{ECG_TOKEN}\n{prompts['wave'][index]}"},
                           {"from": "gpt", "value": answer}],
            segments=[segment],
            meta={**meta, "question_type": "wave", "template_id": f"features-wave-q{index:02d}",
                  "faithful": self.params.faithful},
        )


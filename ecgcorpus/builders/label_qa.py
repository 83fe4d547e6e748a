"""Label QA: verify (yes/no), choose (A or B), query (which of …) and MCQ from a record's labels.

Distractors are labels of the same source (seen in this build's records of that source), in the
true label's category where possible, never a label the record has, and only concepts its source
annotated exhaustively for it (``Source.label_coverage``: PTB-XL's statements, rhythm only where
the record has a rhythm statement; CPSC2018's classes but Normal; Chapman's SNOMED list), so that
an answer never says "absent" where the labels only say "not annotated" (see ``qa_labels``). The
``anyecg`` profile writes ECG-QA's grammar as anyECG converted it: " Please answer briefly."
appended, lower-case answers joined by ", ", question types ``single-verify|choose|query``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..errors import SourceError
from ..prompts import load_prompts
from ..reports import case_terms
from ..sample import ECG_TOKEN, Sample
from ..types import RecordRef
from .base import BuildContext, Builder, WorkItem, label_meta
from .qa_labels import VocabEntry, distractors, record_entries, vocabulary

QuestionType = Literal["verify", "choose", "query", "mcq"]
LETTERS = "ABCDEFGH"


class LabelQAParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    profile: Literal["default", "anyecg"] = "default"
    question_types: list[QuestionType] | None = None    # default: all (anyecg: verify, choose, query)
    samples_per_record: int = Field(default=1, ge=1, le=16)
    n_options: int = Field(default=4, ge=2, le=len(LETTERS))  # MCQ options and query candidates
    # ask only about labels of these categories (rhythm, conduction, infarction, ST-T, hypertrophy,
    # axis and voltage, overall, pacemaker, morphology, other), e.g. PULSE's rhythm vs morphology tasks
    categories: list[str] | None = None

    @model_validator(mode="after")
    def _types(self):
        if self.question_types is None:
            self.question_types = ["verify", "choose", "query"] + ([] if self.profile == "anyecg" else ["mcq"])
        if self.profile == "anyecg" and "mcq" in self.question_types:
            raise ValueError("the anyecg profile has no MCQ (ECG-QA types: verify, choose, query)")
        if not self.question_types:
            raise ValueError("question_types must name at least one type")
        return self


class LabelQABuilder(Builder):
    type = "label_qa"
    task = "label_qa"

    Params = LabelQAParams
    skips_by_group = True

    def skip_reason(self, ref: RecordRef) -> str | None:
        if not record_entries(ref):
            return "no harmonized labels to ask about"
        if self.params.categories and not self._in_categories(record_entries(ref, confident_only=True)):
            return f"no label of category {', '.join(self.params.categories)} to ask about"
        return None

    def _in_categories(self, entries):
        cats = self.params.categories
        return [e for e in entries if e.category in cats] if cats else entries

    def plan(self, refs: list[RecordRef]) -> list[WorkItem]:
        by_source: dict[str, list[RecordRef]] = {}
        for ref in refs:
            by_source.setdefault(ref.key, []).append(ref)
        vocab = {key: vocabulary(group) for key, group in by_source.items()}
        return [WorkItem((ref,), {"vocabulary": vocab[ref.key]}) for ref in refs]

    def run(self, item: WorkItem, ctx: BuildContext) -> list[Sample]:
        (ref,) = item.refs
        vocab = item.params.get("vocabulary") or vocabulary([ref])
        segment = ctx.segment(ref)
        own = self._in_categories(record_entries(ref, confident_only=True))
        others = self._in_categories(distractors(vocab, ref))
        if not own:
            raise SourceError(ref.path, "only hedged labels (possible, consider …): nothing to state as present",
                              ref.record_id)
        # Without a distractor only "is X present? yes" is honest: a query or a choice among the
        # record's own labels alone gives its answer away.
        kinds = [k for k in self.params.question_types if others or k == "verify"]
        if not kinds:
            raise SourceError(ref.path, "no honest negative: its source annotates no absent concept for it "
                              "exhaustively, and verify is not among the question types", ref.record_id)
        samples, seen = [], set()
        for _ in range(3 * self.params.samples_per_record):  # a record with few labels repeats itself
            kind = kinds[int(ctx.rng.integers(len(kinds)))]
            sample = self._sample(kind, getattr(self, f"_{kind}")(own, others, ctx.rng), segment, item, ctx)
            key = tuple(turn["value"] for turn in sample.conversations)
            if key not in seen:
                seen.add(key)
                samples.append(sample)
            if len(samples) == self.params.samples_per_record:
                break
        return samples

    # --- question types: each returns (template key args, answers list, extra meta) ------------------

    def _verify(self, own, others, rng):
        positive = bool(rng.integers(2)) or not others
        entry = _pick(own, rng) if positive else _distractors(others, _pick(own, rng).category, 1, rng)[0]
        stated = _asserts([entry], []) if positive else _asserts([], [entry])
        return {"label": entry.name}, ["yes" if positive else "no"], {"asked": entry.name, "category": entry.category,
                                                                       **stated}

    def _choose(self, own, others, rng):
        truth = _pick(own, rng)
        (wrong,) = _distractors(others, truth.category, 1, rng)
        a, b = (truth, wrong) if rng.integers(2) else (wrong, truth)
        return {"a": a.name, "b": b.name}, [truth.name], {"options": [a.name, b.name], "category": truth.category,
                                                           **_asserts([truth], [wrong])}

    def _query(self, own, others, rng):
        n = self.params.n_options
        k_true = int(rng.integers(0 if others else 1, min(len(own), 2, n) + 1))
        true = [own[i] for i in sorted(rng.permutation(len(own))[:k_true])]
        wrong = _distractors(others, true[0].category if true else None, n - k_true, rng)
        options = _shuffled(true + wrong, rng)
        answers = [e.name for e in options if e in true] or ["none"]
        return ({"options": ", ".join(e.name for e in options)}, answers,
                {"options": [e.name for e in options], "category": (true or wrong)[0].category, **_asserts(true, wrong)})

    def _mcq(self, own, others, rng):
        truth = _pick(own, rng)
        options = _shuffled([truth] + _distractors(others, truth.category, self.params.n_options - 1, rng), rng)
        letter = LETTERS[options.index(truth)]
        lines = [f"{LETTERS[i]}. {e.name}" for i, e in enumerate(options)]
        return {"_lines": lines}, [f"{letter}. {truth.name}"], {
            "options": [e.name for e in options], "correct_letter": letter, "category": truth.category,
            **_asserts([truth], [e for e in options if e is not truth])}

    def _sample(self, kind: str, qa, segment, item: WorkItem, ctx: BuildContext) -> Sample:
        fields, answers, extra = qa
        if extra.get("asserts", {}).get("absent"):
            # What the source annotates exhaustively for this record, for the audit to check
            # every stated absence against (only where something is stated absent).
            coverage = item.refs[0].coverage or frozenset()
            extra = {**extra, "asserts": {**extra["asserts"], "covered": sorted(coverage)}}
        prompts = load_prompts("label_qa")
        index = int(ctx.rng.integers(len(prompts[kind])))
        question = prompts[kind][index].format(**{k: v for k, v in fields.items() if not k.startswith("_")})
        if "_lines" in fields:
            question += "\n" + "\n".join(fields["_lines"])
        anyecg = self.params.profile == "anyecg"
        if anyecg:
            question += prompts["anyecg_suffix"]
            answer = ", ".join(a.lower() for a in answers)
        else:
            # label tables write "st depression", "low qrs voltages": the default profile writes
            # acronyms and leads as clinicians do (ST, QRS, AV, aVL, V2); ECG-QA's grammar stays lower case
            answer = case_terms(_default_answer(kind, answers, fields, prompts["answers"]))
            question = case_terms(question)
        question_type = f"single-{kind}" if kind != "mcq" else "mcq"
        return Sample(
            task=self.task,
            conversations=[{"from": "human", "value": f"{ECG_TOKEN}\n{question}"},
                           {"from": "gpt", "value": answer}],
            segments=[segment],
            meta={"question_type": question_type, "template_id": f"label_qa-{kind}-q{index:02d}",
                  "answer": answers, "profile": self.params.profile, "labels": label_meta(item.refs), **extra},
        )


def _default_answer(kind: str, answers: list[str], fields: dict, texts: dict) -> str:
    if kind == "verify":
        return texts["verify_yes" if answers == ["yes"] else "verify_no"].format(label=fields["label"])
    if kind == "choose":
        return texts["choose"].format(label=answers[0])
    if kind == "query":
        if answers == ["none"]:
            return texts["query_none"]
        return texts["query_one" if len(answers) == 1 else "query"].format(labels=", ".join(answers))
    return answers[0]  # mcq: "B. sinus bradycardia"


def _asserts(present: list[VocabEntry], absent: list[VocabEntry]) -> dict:
    """``meta.asserts``: the labels (SNOMED CT id, else source code) the answer states the record
    has and has not; ``ecgcorpus audit`` checks them against the record's labels."""
    return {"asserts": {"present": [e.key for e in present], "absent": [e.key for e in absent]}}


def _pick(entries: list[VocabEntry], rng) -> VocabEntry:
    return entries[int(rng.integers(len(entries)))]


def _shuffled(entries: list[VocabEntry], rng) -> list[VocabEntry]:
    return [entries[i] for i in rng.permutation(len(entries))]


def _distractors(others: list[VocabEntry], category: str | None, n: int, rng) -> list[VocabEntry]:
    """Up to ``n`` random distractors, from ``category`` first, topped up from the other categories."""
    same = _shuffled([e for e in others if e.category == category], rng)
    rest = _shuffled([e for e in others if e.category != category], rng)
    return (same + rest)[:n]

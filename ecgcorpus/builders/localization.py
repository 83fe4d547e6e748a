"""Localization (anyECG ``location`` / ``location_long``): where in a window are the beats or episodes asked for.

Two kinds of evidence, chosen by the record's source:

* Beat-annotated records (``wfdb-annotated``: MIT-BIH Arrhythmia, European ST-T, MIT-BIH ST): the
  reference annotations. Targets are the beat codes in ``beat_types`` (named as PhysioNet's table
  names them) and, optionally, the rhythm episodes of ``rhythms`` (aux notes such as ``(AFIB``).
* The 12-lead sources (PTB-XL, Chapman, SPH, CPSC2018 …): beats found with neurokit2 and premature
  beats called by an RR rule (``localize/detect.py``), asked as "Premature beat" and only where the
  record's harmonized labels report premature beats; negatives only from records labelled sinus
  rhythm / normal ECG with no rhythm or ectopy label, where the rule agrees (finds none). Record
  labels cannot place a rhythm episode inside one record, so none is asked there (see
  ``rhythm_strips`` for composed episodes). MIMIC-IV-ECG has no harmonized labels and is skipped.

Windows: each entry of ``windows`` (task, length in seconds or [lo, hi] drawn uniformly) gives
``windows_per_type`` positive windows per target present and ``negative_ratio`` negatives per
positive (``negatives_without_positive`` where there is none). Each window is one contiguous crop of
the record's native leads, or of a lead set drawn from ``lead_sets`` (leads not in the set dropped;
a record lacking one is skipped). The manifest profile's ``fs`` resamples the crop; its
``duration_s`` and ``crop`` do not apply (windows have their own lengths). Every draw uses ctx.rng.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..errors import SourceError
from ..leads import CANONICAL_LEADS
from ..localize.annotated import beats_only, locate_beats, locate_rhythm, rhythm_episodes
from ..localize.answer import Localization, beat_intervals, localize
from ..localize.anyecg_leads import anyecg_lead_slots
from ..localize.codes import beat_name, rhythm_name
from ..localize.detect import consensus_r_peaks, premature_mask
from ..localize.windows import OFFSET_S, draw_length, negative_start, overlapping_start, positive_start
from ..prompts import load_prompts
from ..sample import ECG_TOKEN, Sample, Segment
from ..types import ECG, RecordRef
from .base import BuildContext, Builder, WorkItem, label_meta

ANNOTATED_SOURCE = "wfdb-annotated"
PREMATURE = "premature"
PREMATURE_NAME = "Premature beat"
# SNOMED CT ids (harmonized labels). Premature beats: PAC, SVPB, PVC, VPB, ventricular ectopics,
# junctional premature complex.
PREMATURE_LABELS = ["284470004", "63593006", "427172004", "17338001", "164884008", "251164006"]
NORMAL_LABELS = ["426783006", "164854000"]          # sinus rhythm, normal ECG
# Rhythms in which "shorter than the local median RR" does not mean premature.
IRREGULAR_LABELS = [
    "164889003", "164890007", "195080001", "426749004", "282825002", "314208002",   # AF / flutter
    "427393009", "17366009", "698247007",                                          # sinus arrhythmia, wandering …
    "10370003", "251268003", "251266004",                                          # paced
    "164896001", "111288001", "164895002", "425856008",                            # VF, VFL, VT
    "426761007", "67198005", "713422000", "426648003", "233896004", "233897008", "251166008",  # SVT family
]
# Ectopy other than single premature beats: never a record to take a negative from.
ECTOPY_LABELS = ["251173003", "11157007", "251180001", "251182009", "251168009", "426995002", "75532003",
                 "251187003", "251170000", "49260003", "61277005", "29320008", "426664006", "81898007",
                 "233892002", "106068003"]


class WindowSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    task: str = Field(description="the sample's task: location (10 s) / location_long (10–60 s) in anyECG")
    length_s: float | tuple[float, float] = Field(description="fixed length, or [lo, hi] drawn uniformly")

    @field_validator("length_s")
    @classmethod
    def _positive(cls, value):
        lo, hi = (value, value) if isinstance(value, (int, float)) else value
        if not 0 < lo <= hi:
            raise ValueError("length_s must be > 0 (and lo <= hi)")
        return value

    @property
    def bounds(self) -> tuple[float, float]:
        return (float(self.length_s),) * 2 if isinstance(self.length_s, (int, float)) else tuple(self.length_s)


class LocalizationParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    profile: Literal["default", "anyecg"] = "default"
    windows: list[WindowSpec] = Field(default_factory=lambda: [
        WindowSpec(task="location", length_s=10.0), WindowSpec(task="location_long", length_s=(10.0, 60.0))])
    beat_types: list[str] = Field(default_factory=lambda: ["A", "V", "L", "R", "S", "a", "J", "F", "E", "j", "e",
                                                           "n", "r", "B", "/", "f"])
    rhythms: list[str] = Field(default_factory=list, description="rhythm codes (AFIB, AFL …) to localize "
                               "from the annotations' aux notes")
    windows_per_type: int = Field(default=3, ge=0)
    negative_ratio: float = Field(default=0.5, ge=0)
    negatives_without_positive: int = Field(default=2, ge=0)
    offset_s: tuple[float, float] = OFFSET_S
    min_overlap_s: float = Field(default=1.0, gt=0, description="rhythm positives overlap the episode this much")
    lead_sets: list[list[str]] | None = None
    detect_leads: list[str] = Field(default_factory=lambda: ["II", "I", "V5"])
    prematurity: float = Field(default=0.85, gt=0, lt=1)
    pause: float = Field(default=1.0, gt=0)
    premature_labels: list[str] = Field(default_factory=lambda: list(PREMATURE_LABELS))
    normal_labels: list[str] = Field(default_factory=lambda: list(NORMAL_LABELS))
    irregular_labels: list[str] = Field(default_factory=lambda: list(IRREGULAR_LABELS))
    ectopy_labels: list[str] = Field(default_factory=lambda: list(ECTOPY_LABELS))
    datasets: dict[str, str] = Field(default_factory=dict, description="source key → dataset name in meta "
                                     "(anyECG: mit_bih_arrhythmia, european_st_t, mit_bih_st)")

    @field_validator("beat_types")
    @classmethod
    def _beats(cls, codes):
        for code in codes:
            beat_name(code)   # raises for a code that is not a PhysioNet beat
        return codes

    @field_validator("rhythms")
    @classmethod
    def _rhythms(cls, codes):
        for code in codes:
            rhythm_name(code)
        return [c.lstrip("(") for c in codes]

    @field_validator("lead_sets")
    @classmethod
    def _leads(cls, sets):
        for leads in sets or []:
            unknown = [name for name in leads if name not in CANONICAL_LEADS]
            if not leads or unknown:
                raise ValueError(f"lead sets are non-empty lists of {' '.join(CANONICAL_LEADS)}; got {leads}")
        return sets


@dataclass
class Target:
    """One thing a window can be asked about in one record."""

    code: str                                   # meta.abnormal_type: "A", "(AFIB", "premature"
    name: str
    spans: list[tuple[int, int]]                # its events in native samples (a beat e is (e, e + 1))
    kind: Literal["beat", "episode"]
    locate: Callable[[int, int], Localization]  # the answer for the window [start, stop)
    positives: bool                             # may anchor positive windows
    negatives: bool                             # a window free of it is an honest negative
    evidence: str


def question_name(name: str, profile: str) -> str:
    """anyECG substitutes the table's capitalized name as is; our wording lower-cases its first letter
    unless it starts an abbreviation (``R-on-T …``)."""
    if profile == "anyecg" or len(name) < 2 or not name[1].islower():
        return name
    return name[0].lower() + name[1:]


def draw_question(rng: np.random.Generator, profile: str, name: str, episode: bool = False) -> tuple[str, str]:
    """(template id, question) from prompts/localization.yaml: anyECG's 18 templates for the anyecg
    profile, else our wording (its episode set for rhythm episodes)."""
    prompts = load_prompts("localization")
    if profile == "anyecg":
        key, prefix = "anyecg", "anyecg"
    else:
        key, prefix = ("episode_questions", "episode") if episode else ("questions", "location")
    index = int(rng.integers(len(prompts[key])))
    return f"{prefix}-q{index:02d}", prompts[key][index].replace("{}", question_name(name, profile))


def conversation(question: str, answer: str) -> list[dict[str, str]]:
    return [{"from": "human", "value": f"{ECG_TOKEN}\n{question}"}, {"from": "gpt", "value": answer}]


def has_any(ref: RecordRef, codes) -> bool:
    return bool(set(ref.snomed_codes) & set(codes))


class LocalizationBuilder(Builder):
    type = "localization"
    task = "location"
    fixed_shape = False        # windows of several lengths and lead sets

    Params = LocalizationParams

    @classmethod
    def source_key_params(cls, params: LocalizationParams) -> dict[str, list[str]]:
        return {"datasets": list(params.datasets)}

    # -- which records -------------------------------------------------------------------------------
    def _lead_sets(self) -> list[list[str]] | None:
        if self.params.lead_sets:
            return self.params.lead_sets
        return [list(self.manifest.profile.leads)] if self.manifest.profile.leads else None

    def skip_reason(self, ref: RecordRef) -> str | None:
        for leads in self._lead_sets() or []:
            missing = [name for name in leads if name not in ref.leads]
            if missing:
                return f"record lacks lead(s) {' '.join(missing)} of lead set {'+'.join(leads)}"
        shortest = min(spec.bounds[0] for spec in self.params.windows)
        if ref.n_samples < int(round(shortest * ref.fs)):
            return f"record is {ref.duration_s:g} s, shorter than the shortest window ({shortest:g} s)"
        if ref.source == ANNOTATED_SOURCE:
            return None
        p = self.params
        if not ref.labels:
            return "no harmonized labels: nothing to localize honestly (beats need premature-beat or normal labels)"
        if has_any(ref, p.irregular_labels):
            return ("irregular rhythm label (AF, flutter, sinus arrhythmia, paced …): "
                    "the RR premature-beat rule does not apply")
        if has_any(ref, p.premature_labels):
            return None
        if has_any(ref, p.normal_labels) and not has_any(ref, p.ectopy_labels):
            return None
        return "labels report neither premature beats nor a plain sinus rhythm: nothing to localize honestly"

    # -- one record ------------------------------------------------------------------------------------
    def run(self, item: WorkItem, ctx: BuildContext) -> list[Sample]:
        (ref,) = item.refs
        source = ctx.source(ref)
        ecg = source.load(ref)
        if ref.source == ANNOTATED_SOURCE:
            targets = self._annotated_targets(source.annotations(ref), ecg.n_samples)
        else:
            targets = self._detected_targets(ref, ecg)
        samples = []
        for spec in self.params.windows:
            samples += self._windows(spec, targets, ref, ecg, ctx)
        if not samples:
            raise SourceError(ref.path, "no window could be placed (no target found and no negative allowed)",
                              ref.record_id)
        return samples

    def _annotated_targets(self, ann, n_samples: int) -> list[Target]:
        samples, symbols = beats_only(ann)
        targets = []
        for code in self.params.beat_types:
            events = samples[symbols == code]
            targets.append(Target(code, beat_name(code), [(int(e), int(e) + 1) for e in events], "beat",
                                  lambda a, b, code=code: locate_beats(ann, code, a, b), True, True, "annotations"))
        episodes = rhythm_episodes(ann, n_samples)
        for code in self.params.rhythms:
            spans = [(a, b) for c, a, b in episodes if c == code]
            targets.append(Target(f"({code}", rhythm_name(code), spans, "episode",
                                  lambda a, b, code=code: locate_rhythm(ann, code, a, b, n_samples),
                                  True, True, "annotations"))
        return targets

    def _detected_targets(self, ref: RecordRef, ecg: ECG) -> list[Target]:
        p = self.params
        peaks, used = consensus_r_peaks(ecg, p.detect_leads, ref.record_id)
        mask = premature_mask(peaks, p.prematurity, p.pause)
        labelled = has_any(ref, p.premature_labels)
        if labelled and not mask.any():
            raise SourceError(ref.path, "labels report premature beats but the RR rule finds none", ref.record_id)
        if not labelled and mask.any():
            raise SourceError(ref.path, f"labelled sinus rhythm / normal, yet the RR rule calls {int(mask.sum())} "
                              "beat(s) premature: not used as a negative", ref.record_id)

        def locate(a: int, b: int) -> Localization:
            spans = beat_intervals(peaks, mask, a, b)
            events = peaks[mask & (peaks >= a) & (peaks < b)]
            return localize(spans, a, b, ecg.fs, PREMATURE_NAME, events)

        spans = [(int(e), int(e) + 1) for e in peaks[mask]]
        evidence = f"neurokit2 R peaks agreed by {'+'.join(used)}; RR rule {p.prematurity:g}/{p.pause:g}"
        return [Target(PREMATURE, PREMATURE_NAME, spans, "beat", locate, labelled, not labelled, evidence)]

    def _windows(self, spec: WindowSpec, targets: list[Target], ref: RecordRef, ecg: ECG,
                 ctx: BuildContext) -> list[Sample]:
        p, rng, n, fs = self.params, ctx.rng, ecg.n_samples, ecg.fs
        lo, hi = spec.bounds
        if hi > lo and n <= int(round(lo * fs)):
            return []  # a ranged (long) window needs a record longer than its shortest length
        bounds = (lo, min(hi, n / fs))
        out, seen = [], set()

        def emit(target: Target, start: int, length: int, placement: str) -> None:
            key = (target.code, start, length)
            if key in seen:
                return
            seen.add(key)
            out.append(self._sample(spec, target, ref, ecg, start, start + length, placement, ctx))

        for target in (t for t in targets if t.positives and t.spans):
            for _ in range(p.windows_per_type):
                length = draw_length(rng, bounds, fs, n)
                if length is None:
                    continue
                if target.kind == "beat":
                    placed = positive_start(rng, [a for a, _ in target.spans], int(rng.integers(len(target.spans))),
                                            length, n, fs, p.offset_s)
                else:
                    a, b = target.spans[int(rng.integers(len(target.spans)))]
                    start = overlapping_start(rng, a, b, length, n, min(int(round(p.min_overlap_s * fs)), b - a))
                    placed = None if start is None else (start, "overlap")
                if placed is not None:
                    emit(target, placed[0], length, placed[1])
        negatives = [t for t in targets if t.negatives]
        count = round(p.negative_ratio * len(out)) if out else p.negatives_without_positive
        for _ in range(count if negatives else 0):
            target = negatives[int(rng.integers(len(negatives)))]
            length = draw_length(rng, bounds, fs, n)
            start = None if length is None else negative_start(rng, target.spans, length, n)
            if start is not None:
                emit(target, start, length, "negative")
        return out

    def _sample(self, spec: WindowSpec, target: Target, ref: RecordRef, ecg: ECG, start: int, stop: int,
                placement: str, ctx: BuildContext) -> Sample:
        rng = ctx.rng
        loc = target.locate(start, stop)
        if loc.positive != (placement != "negative"):
            raise AssertionError(f"{ref.record_id}: {placement} window [{start}, {stop}) answered {loc.answer!r}")
        sets = self._lead_sets()
        leads = list(sets[int(rng.integers(len(sets)))]) if sets else list(ecg.leads)
        window = ecg.crop(start, stop).select(leads)
        if self.manifest.profile.fs is not None:
            window = window.resample(self.manifest.profile.fs)
        template_id, question = draw_question(rng, self.params.profile, target.name, target.kind == "episode")
        key = ref.key
        meta = {
            "template_id": template_id,
            "profile": self.params.profile,
            "dataset": self.params.datasets.get(key, key),
            "ecg_start": int(start),
            "ecg_end": int(stop),
            "record_fs": float(ecg.fs),
            "window_s": round((stop - start) / ecg.fs, 6),
            "abnormal_type": target.code,
            "abnormal_name": target.name,
            "intervals": loc.intervals_s,
            "events": loc.events,
            "placement": placement,
            "evidence": target.evidence,
            "leads": leads,
            "reduced_leads": sets is not None,
            "labels": label_meta([ref]),
        }
        if ref.source == ANNOTATED_SOURCE:
            channels = list(ref.extra.get("channel_names") or ref.leads)
            meta["anyecg_leads"] = {"channels": channels, "slots": anyecg_lead_slots(channels)}
        return Sample(task=spec.task, conversations=conversation(question, loc.answer),
                      segments=[Segment(ref=ref, ecg=window, start=int(start), native_stop=int(stop))], meta=meta)


__all__ = ["LocalizationBuilder", "LocalizationParams", "WindowSpec"]

"""Rhythm-episode strips: 10 s pieces of one patient with different rhythm labels, joined at R peaks.

Which records: those whose harmonized labels hold exactly one of the two classes, a background
rhythm (``background_labels``: sinus rhythm, normal ECG) or an episode rhythm (``episode_labels``:
atrial fibrillation, atrial flutter). Which records go together: one patient (source + patient
id); for a source without patient ids, one source, one split (the engine plans split by split,
so that no strip mixes splits) and one lead set, in groups of at most ``max_group`` records. The
records of a group without both classes are quarantined at planning, with the reason: they do
not fit this builder, which is not a failure of the build.

Each strip draws 3–6 pieces (``pieces``) without repeating a record: for a positive strip at least
one background piece and at least one piece of the asked episode type, for a negative strip
(``negative_ratio`` per positive) background pieces only. A piece is a ``piece_s`` crop of its
record; ``localize/compose.py`` cuts it at neurokit2 R peaks and aligns baseline and amplitude so
the joins are seamless. The answer gives the episode pieces' spans (``Duration: …`` grammar).

Storage: one segment, the composed strip, as the only ``<ecg>``; its record id is
``{source}:composed-{digest}`` (start 0, stop = strip length). ``meta.composed`` is true and
``meta.pieces`` lists each piece's record id, native [start, stop), strip [strip_start,
strip_stop), rhythm, and the per-lead scale and offset applied. Where the config stores int16
(integer sources at native rate), the strip is quantized to the first piece's ADC step.
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..errors import SourceError
from ..labels import snomed_names
from ..leads import CANONICAL_LEADS
from ..localize.answer import episode_intervals, localize
from ..localize.compose import Piece, compose_strip
from ..localize.detect import consensus_r_peaks
from ..sample import Sample, Segment
from ..types import RecordRef
from .base import BuildContext, Builder, WorkItem, label_meta
from .localization import conversation, draw_question

EPISODE_LABELS = ["164889003", "164890007"]     # atrial fibrillation, atrial flutter
BACKGROUND_LABELS = ["426783006", "164854000"]  # sinus rhythm, normal ECG


class RhythmStripParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    profile: Literal["default", "anyecg"] = "default"
    task: str = "location_strip"
    episode_labels: list[str] = Field(default_factory=lambda: list(EPISODE_LABELS))
    background_labels: list[str] = Field(default_factory=lambda: list(BACKGROUND_LABELS))
    pieces: tuple[int, int] = (3, 6)
    piece_s: float = Field(default=10.0, gt=2)
    strips_per_group: int = Field(default=2, ge=1)
    negative_ratio: float = Field(default=0.5, ge=0)
    max_group: int = Field(default=16, ge=2)
    lead_sets: list[list[str]] | None = None
    detect_leads: list[str] = Field(default_factory=lambda: ["II", "I", "V5"])
    match_amplitude: bool = True
    scale_range: tuple[float, float] = (0.67, 1.5)

    @field_validator("pieces")
    @classmethod
    def _pieces(cls, value):
        if not 2 <= value[0] <= value[1]:
            raise ValueError("pieces is [min, max] with 2 <= min <= max")
        return value

    @field_validator("lead_sets")
    @classmethod
    def _leads(cls, sets):
        for leads in sets or []:
            if not leads or any(name not in CANONICAL_LEADS for name in leads):
                raise ValueError(f"lead sets are non-empty lists of {' '.join(CANONICAL_LEADS)}; got {leads}")
        return sets


def rhythm_title(code: str) -> str:
    name = snomed_names().get(code, code)
    return name[:1].upper() + name[1:]


class RhythmStripBuilder(Builder):
    type = "rhythm_strips"
    task = "location_strip"
    fixed_shape = False

    Params = RhythmStripParams

    def _rhythm(self, ref: RecordRef) -> tuple[str, str] | None:
        """("episode" | "background", the label code) — None when the record is neither or both."""
        codes = set(ref.snomed_codes)
        episode = [c for c in self.params.episode_labels if c in codes]
        background = [c for c in self.params.background_labels if c in codes]
        if len(episode) + (1 if background else 0) != 1:
            return None
        return ("episode", episode[0]) if episode else ("background", background[0])

    def skip_reason(self, ref: RecordRef) -> str | None:
        for leads in self.params.lead_sets or []:
            missing = [name for name in leads if name not in ref.leads]
            if missing:
                return f"record lacks lead(s) {' '.join(missing)} of lead set {'+'.join(leads)}"
        if self._rhythm(ref) is None:
            p = self.params
            return ("rhythm labels are not exactly one of background "
                    f"({', '.join(p.background_labels)}) or episode ({', '.join(p.episode_labels)})")
        if ref.duration_s < 3:
            return f"record is {ref.duration_s:g} s: too short for a strip piece"
        return None

    def plan(self, refs: list[RecordRef]) -> list[WorkItem | SourceError]:
        groups: dict[tuple, list[RecordRef]] = {}
        for ref in refs:
            # The engine plans one split at a time: strangers' records of that split may share a strip.
            if ref.patient_id:
                group = (ref.key, "patient", ref.patient_id)
            else:
                group = (ref.key, "split", ref.fs, "+".join(ref.leads))
            groups.setdefault(group, []).append(ref)
        items: list[WorkItem | SourceError] = []
        for group in sorted(groups):
            members = sorted(groups[group], key=lambda r: r.record_id)
            episodes = [r for r in members if self._rhythm(r)[0] == "episode"]
            background = [r for r in members if self._rhythm(r)[0] == "background"]
            if not episodes or not background:
                whose = f"patient {group[2]}" if group[1] == "patient" else "its source, split and lead set"
                items += [SourceError(r.path, f"no partner to compose a strip with: the records of {whose} have "
                                      f"{len(background)} background and {len(episodes)} episode rhythm(s)",
                                      r.record_id) for r in members]
                continue
            chunks = max(1, -(-len(members) // self.params.max_group))
            for c in range(chunks):  # each chunk gets its share of both classes
                chunk = sorted(episodes[c::chunks] + background[c::chunks], key=lambda r: r.record_id)
                if chunk:
                    items.append(WorkItem(tuple(chunk)))
        return items

    def run(self, item: WorkItem, ctx: BuildContext) -> list[Sample]:
        p, rng = self.params, ctx.rng
        classes = {ref.record_id: self._rhythm(ref) for ref in item.refs}
        background = [r for r in item.refs if classes[r.record_id][0] == "background"]
        by_type: dict[str, list[RecordRef]] = {}
        for ref in item.refs:
            kind, code = classes[ref.record_id]
            if kind == "episode":
                by_type.setdefault(code, []).append(ref)
        if not background or not by_type:
            raise SourceError(item.refs[0].path, "no partner to compose a strip with: the group has "
                              f"{len(background)} background and {sum(map(len, by_type.values()))} episode record(s)",
                              item.key)
        ecgs: dict[str, object] = {}
        samples = []
        for _ in range(p.strips_per_group):
            code = sorted(by_type)[int(rng.integers(len(by_type)))]
            chosen = self._draw_pieces(rng, background, by_type[code])
            samples.append(self._strip_sample(chosen, code, ctx, ecgs))
        if len(background) >= 2:
            for _ in range(round(p.negative_ratio * p.strips_per_group)):
                code = sorted(by_type)[int(rng.integers(len(by_type)))]
                k = min(int(rng.integers(p.pieces[0], p.pieces[1] + 1)), len(background))
                chosen = [background[i] for i in rng.permutation(len(background))[:k]]
                samples.append(self._strip_sample(chosen, code, ctx, ecgs))
        return samples

    def _draw_pieces(self, rng, background, episodes) -> list[RecordRef]:
        lo, hi = self.params.pieces
        k = min(int(rng.integers(lo, hi + 1)), len(background) + len(episodes))
        n_episode = int(rng.integers(1, min(k - 1, len(episodes)) + 1))
        n_background = min(k - n_episode, len(background))
        chosen = [episodes[i] for i in rng.permutation(len(episodes))[:n_episode]]
        chosen += [background[i] for i in rng.permutation(len(background))[:n_background]]
        return [chosen[i] for i in rng.permutation(len(chosen))]

    def _piece(self, ref: RecordRef, code: str, leads: list[str], ctx: BuildContext, ecgs: dict) -> Piece:
        if ref.record_id not in ecgs:
            ecgs[ref.record_id] = ctx.source(ref).load(ref)
        ecg = ecgs[ref.record_id]
        want = min(int(round(self.params.piece_s * ecg.fs)), ecg.n_samples)
        start = int(ctx.rng.integers(0, ecg.n_samples - want + 1))
        kind, label = self._rhythm(ref)
        crop = ecg.crop(start, start + want)
        peaks, _ = consensus_r_peaks(crop, self.params.detect_leads, ref.record_id)
        return Piece(ref, crop.select(leads), start, rhythm_title(label), label,
                     kind == "episode" and label == code, peaks)

    def _strip_sample(self, refs: list[RecordRef], code: str, ctx: BuildContext, ecgs: dict) -> Sample:
        p, rng = self.params, ctx.rng
        common = [lead for lead in refs[0].leads if all(lead in r.leads for r in refs)]
        leads = list(p.lead_sets[int(rng.integers(len(p.lead_sets)))]) if p.lead_sets else common
        pieces = [self._piece(ref, code, leads, ctx, ecgs) for ref in refs]
        if len({piece.ecg.fs for piece in pieces}) != 1:
            raise SourceError(refs[0].path, "strip pieces have different sampling rates", refs[0].record_id)
        strip = compose_strip(pieces, p.match_amplitude, p.scale_range)
        fs, total = strip.ecg.fs, strip.ecg.n_samples
        name = rhythm_title(code)
        spans = episode_intervals([(q["strip_start"], q["strip_stop"]) for q in strip.pieces if q["episode"]], 0, total)
        loc = localize(spans, 0, total, fs, name, [a for a, _ in spans])
        digest = hashlib.sha256(json.dumps([(q["record_id"], q["start"], q["stop"]) for q in strip.pieces]
                                           + [leads]).encode()).hexdigest()[:16]
        first = refs[0]
        patients = {r.patient_id for r in refs}
        composed_ref = RecordRef(
            record_id=f"{first.source}:composed-{digest}", source=first.source, native_id=f"composed-{digest}",
            path=first.path, fs=fs, n_samples=total, leads=tuple(leads),
            patient_id=first.patient_id if len(patients) == 1 else None,
            source_key=first.source_key, split=first.split, extra={"composed": True})
        ecg = strip.ecg
        ecg.record_id = composed_ref.record_id
        if self.manifest.profile.fs is not None:
            ecg = ecg.resample(self.manifest.profile.fs)
        template_id, question = draw_question(rng, p.profile, name, episode=True)
        meta = {
            "template_id": template_id,
            "profile": p.profile,
            "composed": True,
            "pieces": strip.pieces,
            "cuts": strip.cuts,
            "ecg_start": 0,
            "ecg_end": int(total),
            "record_fs": float(fs),
            "window_s": round(total / fs, 6),
            "abnormal_type": code,
            "abnormal_name": name,
            "intervals": loc.intervals_s,
            "events": loc.events,
            "placement": "composed" if loc.positive else "negative",
            "evidence": "record-level rhythm labels of the pieces; joins at neurokit2 R peaks",
            "leads": leads,
            "labels": label_meta(refs),
        }
        return Sample(task=p.task, conversations=conversation(question, loc.answer),
                      segments=[Segment(ref=composed_ref, ecg=ecg, start=0, native_stop=int(total))], meta=meta)

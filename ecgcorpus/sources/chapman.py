"""WFDB + MAT v4 releases labelled in ``#Dx`` header comments.

``ChapmanWfdb``: PhysioNet ecg-arrhythmia 1.0.0 (Chapman-Shaoxing + Ningbo).
``CincCpsc2018``: the CPSC2018 part of the PhysioNet/CinC Challenge 2020/2021 re-release (and the
early 2020 tarball, whose ``#Dx`` holds CPSC abbreviations instead of SNOMED ids).
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterator

from ..errors import SourceError
from ..labels import chapman_coverage, cpsc_abbreviation_label, cpsc_coverage, snomed_label
from ..leads import canonical_lead, canonical_order
from ..types import ECG, Label, RecordRef
from .base import Source, load_wfdb
from .cpsc2018 import corpus_split, official_split
from .wfdb_io import read_header

_SEX = {"male": "M", "m": "M", "female": "F", "f": "F"}
_UNKNOWN = {"", "unknown", "unknows", "nan", "none"}  # "Unknows": typo of the early CinC 2020 release


class ChapmanWfdb(Source):
    name = "chapman"
    title = "Chapman-Shaoxing + Ningbo 12-lead ECG (PhysioNet ecg-arrhythmia 1.0.0)"
    layout = (
        "ConditionNames_SNOMED-CT.csv, RECORDS (not used),\n"
        "WFDBRecords/01/010/JS00001.{hea,mat} … (WFDB header + MAT v4 int16, fmt 16+24, SNOMED CT in #Dx)"
    )
    license = "CC BY 4.0"
    homepage = "https://physionet.org/content/ecg-arrhythmia/1.0.0/"
    license_id = "cc-by-4.0"
    citation = (
        "Zheng J, Guo H, Chu H. A large scale 12-lead electrocardiogram database for arrhythmia study "
        "(version 1.0.0). PhysioNet (2022). doi:10.13026/wgex-er52"
    )
    _dx_vocabulary = "SNOMED CT id"  # what a #Dx item must be (named in the error)

    def label_coverage(self, ref: RecordRef) -> frozenset[str] | None:
        return chapman_coverage()

    def header_paths(self) -> list[str]:
        # Globbed, not read from RECORDS: the tree on disk is the truth.
        return sorted(glob.glob(self.path("WFDBRecords", "**", "JS*.hea"), recursive=True))

    def _scan(self) -> Iterator[RecordRef | SourceError]:
        paths = self.header_paths()
        if not paths:
            raise SourceError(self.root, f"no WFDB headers found for {self.name} (expected: {self.layout})")
        for hea in paths:
            try:
                yield self._ref(hea)
            except SourceError as exc:
                yield exc

    def _ref(self, hea: str) -> RecordRef:
        native_id = os.path.basename(hea)[: -len(".hea")]  # not the record line's name: some say "E07500.mat"
        record_id = self.record_id(native_id)
        try:
            header = read_header(hea)
        except SourceError as exc:
            raise SourceError(exc.file, exc.problem, record_id) from None
        bad_units = sorted({u for u in header.layout.units if u.lower() != "mv"})
        if bad_units:
            raise SourceError(hea, f"signal units {', '.join(bad_units)}, expected mV", record_id)
        fields = header.comment_fields()
        labels = self._labels(fields.get("Dx", ""), hea, record_id)
        leads = [canonical_lead(n) for n in header.lead_names]
        extra = {key: fields[key] for key in ("Rx", "Hx", "Sx") if _known(fields.get(key))}
        unmapped = [lab.code for lab in labels if lab.snomed is None]
        if unmapped:
            extra["unmapped_codes"] = unmapped
        return RecordRef(
            record_id=record_id,
            source=self.name,
            native_id=native_id,
            path=hea[: -len(".hea")],
            fs=header.fs,
            n_samples=header.n_samples,
            leads=tuple(leads[i] for i in canonical_order(leads)),
            labels=labels,
            age=_age(fields.get("Age")),
            sex=_SEX.get((fields.get("Sex") or "").strip().lower()),
            extra=self._extra(native_id, extra),
        )

    def _labels(self, dx: str, hea: str, record_id: str) -> tuple[Label, ...]:
        labels = {}
        for item in (part.strip() for part in dx.split(",")):
            if not item or item in labels:  # empty items exist (JS20005: "…,427084000,,427172004")
                continue
            label = self._dx_label(item)
            if label is None:
                raise SourceError(hea, f"#Dx item {item!r} is not a {self._dx_vocabulary}", record_id)
            labels[item] = label
        return tuple(labels.values())

    def _dx_label(self, item: str) -> Label | None:
        # Well-formed SNOMED ids outside our tables are kept with snomed=None (listed in extra['unmapped_codes']).
        return snomed_label(item) if item.isdigit() else None

    def _extra(self, native_id: str, extra: dict) -> dict:
        return extra

    def load(self, ref: RecordRef) -> ECG:
        return load_wfdb(ref, ref.path)


class CincCpsc2018(ChapmanWfdb):
    name = "cpsc2018-cinc"
    title = "CPSC2018 as re-released by the PhysioNet/CinC Challenge 2020/2021"
    layout = (
        "training/cpsc_2018/g1/A0001.{hea,mat} … (challenge-2020/2021), or any folder of A*.{hea,mat}\n"
        "(e.g. the early 2020 Training_WFDB/); WFDB header + MAT v4 int16, #Dx SNOMED ids or CPSC abbreviations"
    )
    license = "CC BY 4.0"
    homepage = "https://physionet.org/content/challenge-2021/"
    citation = (
        "Reyna MA, Sadr N, Perez Alday EA, Gu A, Shah AJ, Robichaux C, Rad AB, Elola A, Seyedi S, Ansari S, "
        "Ghanbari H, Li Q, Sharma A, Clifford GD. Will two do? Varying dimensions in electrocardiography: the "
        "PhysioNet/Computing in Cardiology Challenge 2021. Computing in Cardiology 48 (2021). "
        "doi:10.23919/CinC53138.2021.9662687"
    )
    _dx_vocabulary = "SNOMED CT id or CPSC2018 abbreviation"

    def header_paths(self) -> list[str]:
        # Pointed at a whole challenge tree, read only its CPSC2018 part (not Georgia, PTB-XL, …).
        top = next((p for p in (self.path("training", "cpsc_2018"), self.path("cpsc_2018")) if os.path.isdir(p)), self.root)
        return sorted(glob.glob(os.path.join(top, "**", "*.hea"), recursive=True))

    def _scan(self) -> Iterator[RecordRef | SourceError]:
        """Only CPSC2018's own records (A0001… the training set, Q0001… the hidden set): a CinC folder
        also holds the challenge's copies of PTB-XL (HR…), Chapman (JS…), Georgia (E…) and others,
        which must enter a corpus once, through their own sources and licences."""
        for item in super()._scan():
            native_id = item.native_id if isinstance(item, RecordRef) else (item.record_id or ":").split(":", 1)[1]
            if native_id and not _CPSC_ID.fullmatch(native_id):
                file = item.path + ".hea" if isinstance(item, RecordRef) else item.file
                origin = _CINC_ORIGINS.get(native_id.rstrip("0123456789"), "another database")
                yield SourceError(file, f"not a CPSC2018 record: the challenge's copy of {origin}; read the "
                                  "original with its own source", self.record_id(native_id))
            else:
                yield item

    def _dx_label(self, item: str) -> Label | None:
        return snomed_label(item) if item.isdigit() else cpsc_abbreviation_label(item)

    def official_split(self, ref: RecordRef) -> str | None:
        return corpus_split(ref)

    def label_coverage(self, ref: RecordRef) -> frozenset[str] | None:
        return cpsc_coverage()

    def _extra(self, native_id: str, extra: dict) -> dict:
        split = official_split(native_id)
        return {**extra, "official_split": split} if split else extra


_CPSC_ID = re.compile(r"[AQ]\d{4}")
# CinC 2020/2021 record prefixes → the database each copy comes from.
_CINC_ORIGINS = {"HR": "PTB-XL", "S": "PTB (PhysioNet PTB Diagnostic ECG)", "I": "the St Petersburg INCART 12-lead",
                 "E": "the Georgia 12-lead ECG challenge database", "JS": "Chapman-Shaoxing / Ningbo"}


def _known(value: str | None) -> bool:
    return value is not None and value.strip().lower() not in _UNKNOWN


def _age(value: str | None) -> str | None:
    """Age as text; CinC sentinels (-1, NaN, Unknown) → None."""
    if not _known(value):
        return None
    try:
        age = int(float(value))
    except ValueError:
        return None
    return str(age) if age >= 0 else None


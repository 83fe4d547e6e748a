"""The plain data that flows between stages: RecordRef (metadata) and ECG (signal)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from .leads import canonical_order


@dataclass(frozen=True)
class Label:
    """One label: the source's own code, and its harmonized SNOMED CT code and readable name."""

    code: str                   # as written by the source (SCP code, SNOMED id, AHA code, CPSC class…)
    snomed: str | None = None   # SNOMED CT concept id, None where no public table maps it
    name: str | None = None     # readable name (harmonized vocabulary, else the source's description)
    likelihood: float | None = None  # PTB-XL scp_codes confidence (0–100); None elsewhere


@dataclass(frozen=True, slots=True)     # slots: a plan holds one per record (800k for MIMIC-IV-ECG)
class RecordRef:
    """One source record, without its signal: cheap to scan, pickle and ship to workers.

    Sources fill what the release says; the engine fills ``source_key`` (the manifest's name for
    the source entry) and ``split`` once, at planning. ``report_lines`` are the report's statements:
    a source with report fields of its own passes them, otherwise they are the report's non-empty
    lines.
    """

    record_id: str                       # "{source}:{native id}"
    source: str
    native_id: str
    path: str                            # the main signal file (or record path without extension)
    fs: float
    n_samples: int
    leads: tuple[str, ...]               # canonical names, in canonical order
    patient_id: str | None = None
    labels: tuple[Label, ...] = ()
    report: str | None = None            # raw report text; lines joined by "\n" where the source has lines
    report_lang: str | None = None       # "de" / "en" / "sv" / None
    acquired: str | None = None          # ISO date or datetime as the source gives it
    age: str | None = None               # text: ">89" is a valid value
    sex: str | None = None               # "M" / "F"
    report_lines: tuple[str, ...] = ()   # the report's statements (MIMIC: report_0..report_17)
    source_key: str | None = None        # the manifest's key of the source entry (set by the engine)
    record_path: str | None = None       # ``path`` relative to the source's root, as the release names it (engine)
    split: str | None = None             # train / validation / test (set by the engine)
    coverage: frozenset[str] | None = None   # label keys exhaustively annotated (Source.label_coverage; engine)
    extra: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def __post_init__(self):
        if self.report_lines and all(line and line[0] > " " and line[-1] > " " for line in self.report_lines):
            return                           # the source passed its statements, already clean
        lines = self.report_lines or (self.report or "").splitlines()
        cleaned = tuple(line.strip() for line in lines if line and line.strip())
        if cleaned != self.report_lines:
            object.__setattr__(self, "report_lines", cleaned)

    def planned(self, **engine_fields) -> "RecordRef":
        """This ref with the fields the engine fills at planning (source_key, split, coverage,
        record_path), set in place: a fresh ref from a scan is not shared yet, and a copy per
        record is what made planning MIMIC-IV-ECG slow."""
        for name, value in engine_fields.items():
            object.__setattr__(self, name, value)
        return self

    @property
    def key(self) -> str:
        """The source entry's key (the source name where no manifest assigned one)."""
        return self.source_key or self.source

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.fs

    @property
    def snomed_codes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(lab.snomed for lab in self.labels if lab.snomed))

    @property
    def unmapped_codes(self) -> tuple[str, ...]:
        return tuple(lab.code for lab in self.labels if lab.snomed is None)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["leads"] = list(self.leads)
        d["report_lines"] = list(self.report_lines)
        d["coverage"] = None if self.coverage is None else sorted(self.coverage)
        d["labels"] = [{k: v for k, v in asdict(lab).items() if v is not None} for lab in self.labels]
        return d


@dataclass
class ECG:
    """A signal by lead name: ``signal`` is (leads × samples) float64 in mV.

    For sources stored as integers, ``digital`` holds the exact ADC values and ``gain`` the
    ADC units per mV of each lead, so ``signal == (digital - baseline) / gain`` and storage can be
    lossless; ``signal`` is then computed on first use (a build that stores int16 never pays for
    it). Missing samples (WFDB −32768) are NaN in ``signal``.
    """

    record_id: str
    fs: float
    leads: tuple[str, ...]
    physical: np.ndarray | None = None   # float mV; None until first use when digital is given
    digital: np.ndarray | None = None    # int16 ADC values, same shape
    gain: np.ndarray | None = None       # ADC units per mV, one per lead
    baseline: np.ndarray | None = None   # ADC zero, one per lead
    native_dtype: str = "float64"        # dtype the source stores (int16, float16, float64 …)
    units: str = "mV"

    def __post_init__(self):
        data = self.physical if self.physical is not None else self.digital
        if data is None:
            raise ValueError(f"{self.record_id}: an ECG needs physical or digital samples")
        if data.ndim != 2 or data.shape[0] != len(self.leads):
            raise ValueError(f"{self.record_id}: signal shape {data.shape} does not match {len(self.leads)} leads")

    @property
    def signal(self) -> np.ndarray:
        if self.physical is None:
            from .sources.wfdb_io import digital_to_physical

            self.physical = digital_to_physical(self.digital, self.gain[:, None], self.baseline[:, None])
        return self.physical

    @property
    def n_samples(self) -> int:
        return int((self.physical if self.physical is not None else self.digital).shape[1])

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.fs

    def nan_runs(self) -> list[tuple[str, int, int]]:
        """(lead, start, stop) of every run of missing samples, e.g. MIMIC's −32768 stretches."""
        runs = []
        for lead, row in zip(self.leads, np.isnan(self.signal)):
            if row.any():
                edges = np.flatnonzero(np.diff(np.concatenate(([0], row.view(np.int8), [0]))))
                runs.extend((lead, int(a), int(b)) for a, b in zip(edges[::2], edges[1::2]))
        return runs

    def lead(self, name: str) -> np.ndarray:
        return self.signal[self.leads.index(name)]

    def _take(self, rows: list[int] | slice, cols: slice = slice(None), leads=None) -> "ECG":
        pick = lambda a: None if a is None else (a[rows][:, cols] if a.ndim == 2 else a[rows])  # noqa: E731
        return replace(
            self,
            leads=tuple(leads if leads is not None else np.asarray(self.leads, dtype=object)[rows]),
            physical=None if self.physical is None else np.ascontiguousarray(pick(self.physical)),
            digital=None if self.digital is None else np.ascontiguousarray(pick(self.digital)),
            gain=pick(self.gain),
            baseline=pick(self.baseline),
        )

    def select(self, leads: list[str] | tuple[str, ...]) -> "ECG":
        """The named leads, in the order given; a lead the record lacks is an error, never faked."""
        missing = [name for name in leads if name not in self.leads]
        if missing:
            raise KeyError(f"{self.record_id}: no lead {', '.join(missing)} (has {' '.join(self.leads)})")
        return self._take([self.leads.index(name) for name in leads], leads=tuple(leads))

    def reorder(self) -> "ECG":
        """Leads in canonical order I II III aVR aVL aVF V1–V6."""
        return self._take(canonical_order(self.leads))

    def crop(self, start: int, stop: int) -> "ECG":
        """Samples [start, stop) at the record's rate."""
        if not 0 <= start < stop <= self.n_samples:
            raise ValueError(f"{self.record_id}: crop [{start}, {stop}) outside 0..{self.n_samples}")
        return self._take(slice(None), slice(start, stop))

    def pad(self, n_samples: int) -> "ECG":
        """Zero-pad (NaN-free) at the end up to ``n_samples``."""
        extra = n_samples - self.n_samples
        if extra <= 0:
            return self
        widen = lambda a: None if a is None else np.pad(a, ((0, 0), (0, extra)))  # noqa: E731
        return replace(self, physical=widen(self.physical), digital=widen(self.digital))

    def resample(self, fs: float) -> "ECG":
        """Polyphase resampling to ``fs``; the result is float (no digital copy)."""
        if fs == self.fs:
            return self
        from fractions import Fraction

        from scipy.signal import resample_poly

        ratio = Fraction(fs / self.fs).limit_denominator(1000)
        out = resample_poly(self.signal, ratio.numerator, ratio.denominator, axis=1)
        return replace(self, fs=float(fs), physical=out, digital=None, gain=None, baseline=None, native_dtype="float64")


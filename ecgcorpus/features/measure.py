"""Waveform measurements of one ECG lead with neurokit2: rate, intervals, P/R/T waves, axis.

Every value is Optional: what neurokit2 could not find stays None (never a default number), and
``reasons`` says why. Two sets of definitions:

- ``standard`` (default): ``ecg_clean`` → ``ecg_peaks`` → ``ecg_delineate(method="prominence")``;
  per beat PR = P onset → QRS onset, QT = QRS onset → T offset, each the median over the beats
  where both ends were found; QRS over several leads (global_qrs.py: earliest onset to latest
  offset, named in ``methods``), or on the one lead where that cannot be measured; rate from the mean RR; QTc by Bazett
  (QT / √RR). On genuine PTB-XL records the ``dwt`` delineator places QRS onsets/offsets 50–100 ms
  outside the complex (QRS ≈ 180–230 ms on normal ECGs), ``prominence`` gives 70–100 ms.
- ``ecgchat``: ECG-Chat's ``signal_analysis.py`` (YubaoZhao/ECG-Chat): ``method="dwt"``, PR = P onset
  → Q peak, QRS = Q peak → S peak, QT = R onset → T offset, means over beats truncated to whole ms,
  QTc = QT/√RR, and the P/R/T "peaks" as mean sample indices. Only its gaps differ: where it writes 0
  for "not found" we keep None.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, replace
from typing import Literal

import numpy as np

from ..types import ECG
from .complexes import complex_similarity
from .global_qrs import global_qrs_ms

Definitions = Literal["standard", "ecgchat"]

MIN_BEATS = 3            # fewer R peaks than this: no rate, nothing else
MIN_SECONDS = 4.0        # shortest NaN-free stretch worth delineating
MIN_R_RATIO = 1.5        # median |R| over the robust SD of the lead (see _peaks_failure)
MIN_SIMILARITY = 0.9     # median correlation of the QRS complexes with their median complex
RATE_RANGE = (20, 300)   # bpm; outside it the detector found noise, not beats
MIN_BEAT_FRACTION = 0.5  # an interval needs both ends found in at least half of the beats
# Outside these the delineator has locked onto the wrong wave; the value is dropped, not clipped.
PLAUSIBLE_MS = {"pr": (60, 400), "qrs": (40, 250), "qt": (200, 700)}


@dataclass(frozen=True)
class Measurements:
    """What neurokit2 measured on one lead; None = not measured (see ``reasons``)."""

    lead: str
    fs: float
    definitions: str = "standard"
    quality: str = "failed"                 # ok (rate and all intervals) | partial | failed (no rate)
    reasons: tuple[str, ...] = ()
    n_beats: int | None = None              # R peaks detected
    heart_rate_bpm: int | None = None       # 60000 / mean RR
    rr_ms: int | None = None                # mean RR
    pr_ms: int | None = None
    qrs_ms: int | None = None
    qt_ms: int | None = None
    qtc_ms: int | None = None               # Bazett: QT / sqrt(RR in s)
    p_present: bool | None = None           # True: found in ≥ half of the beats; never False (see _standard)
    r_present: bool | None = None
    t_present: bool | None = None
    p_amplitude_mv: float | None = None     # median of the cleaned lead at the wave's peak
    r_amplitude_mv: float | None = None
    t_amplitude_mv: float | None = None
    p_peak_index: int | None = None         # ecgchat only: mean sample index of the peaks (sic)
    r_peak_index: int | None = None
    t_peak_index: int | None = None
    axis_deg: int | None = None             # frontal QRS axis from leads I and aVF
    methods: tuple[tuple[str, str], ...] = ()   # (field, method) where not neurokit2: ("pr_ms", "machine")

    @property
    def measured(self) -> dict[str, int | float | bool]:
        """The fields that hold a measurement."""
        skip = {"lead", "fs", "definitions", "quality", "reasons", "methods"}
        return {k: v for k, v in asdict(self).items() if k not in skip and v is not None}

    def to_dict(self) -> dict:
        d = asdict(self)
        d["reasons"] = list(self.reasons)
        d["methods"] = dict(self.methods)
        return d


def measure(ecg: ECG, lead: str = "II", definitions: Definitions = "standard", multilead: bool = True) -> Measurements:
    """Measure ``lead`` of ``ecg``; leads I and aVF, when present, give the axis, and with
    ``multilead`` (standard definitions) the QRS is taken over all leads."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # neurokit2 warns on every short or noisy record
        return _measure(ecg, lead, definitions, multilead)


def _measure(ecg: ECG, lead: str, definitions: Definitions, multilead: bool) -> Measurements:
    import neurokit2 as nk

    base = Measurements(lead=lead, fs=float(ecg.fs), definitions=definitions)
    if lead not in ecg.leads:
        return replace(base, reasons=(f"no lead {lead}",))
    x, offset = _longest_finite_run(ecg.lead(lead))
    fs = float(ecg.fs)
    if x.size < MIN_SECONDS * fs:
        return replace(base, reasons=(f"less than {MIN_SECONDS:g} s without missing samples",))
    clean = np.asarray(nk.ecg_clean(x, sampling_rate=fs))
    if np.ptp(clean) < 1e-6:
        return replace(base, reasons=("flat signal",))
    # A lead whose QRS points down (lead II of some CPSC and PTB-XL records) is delineated upright:
    # detection and wave boundaries do not depend on the sign; amplitudes keep theirs.
    upright = -clean if qrs_points_down(clean, fs) else clean
    try:
        _, info = nk.ecg_peaks(upright, sampling_rate=fs, method="neurokit")
    except Exception as exc:  # neurokit2 raises plain Exceptions on degenerate input
        return replace(base, reasons=(f"R-peak detection failed: {exc}",))
    r = np.asarray(info["ECG_R_Peaks"], dtype=int)
    failure = _peaks_failure(upright, r, fs)
    if failure:  # the peaks are not beats: not even their count is a measurement
        return replace(base, reasons=(f"{failure} ({r.size} peaks found)",))
    rr = np.diff(r) / fs
    out = replace(base, n_beats=int(r.size))
    try:
        method = "dwt" if definitions == "ecgchat" else "prominence"
        _, waves = nk.ecg_delineate(upright, r, sampling_rate=fs, method=method)
    except Exception as exc:
        waves, out = None, replace(out, reasons=(f"delineation failed: {exc}",))
    # leads cleaned once: lead II here, the others by the global QRS, reused by the axis where the
    # measured run is the whole record (ecg_clean filters the whole span: another span, other values)
    cleaned = {lead: clean}
    whole = offset == 0 and x.size == ecg.n_samples
    if definitions == "ecgchat":
        out = _ecgchat(out, r, rr, waves)
    else:
        out = _standard(out, clean, r, rr, waves)
        if multilead:
            out = _with_global_qrs(out, ecg if whole else ecg.crop(offset, offset + x.size), r, upright, cleaned)
    out = replace(out, axis_deg=_axis(ecg, r + offset, fs, cleaned if whole else {}))
    complete = all(v is not None for v in (out.rr_ms, out.pr_ms, out.qrs_ms, out.qt_ms))
    return replace(out, quality="ok" if complete else "partial")


def qrs_points_down(clean: np.ndarray, fs: float) -> bool:
    """True when the lead's dominant deflections are negative: in each 2 s window the sample of
    largest magnitude (the QRS, in a clean lead) is taken, and their median is below zero."""
    x = clean - np.median(clean)
    width = max(1, int(round(2 * fs)))
    peaks = [x[i:i + width][np.argmax(np.abs(x[i:i + width]))] for i in range(0, x.size - width + 1, width)]
    return bool(peaks) and float(np.median(peaks)) < 0


def _longest_finite_run(x: np.ndarray) -> tuple[np.ndarray, int]:
    finite = np.isfinite(x)
    if finite.all():
        return x, 0
    edges = np.flatnonzero(np.diff(np.concatenate(([0], finite.view(np.int8), [0]))))
    starts, stops = edges[::2], edges[1::2]
    if starts.size == 0:
        return x[:0], 0
    i = int(np.argmax(stops - starts))
    return x[starts[i]:stops[i]], int(starts[i])


def _peaks_failure(clean: np.ndarray, r: np.ndarray, fs: float) -> str | None:
    """Why the R peaks are not beats: too few, an implausible rate, or peaks of noise.

    Two measures: the median |R| over the robust SD of the lead, and the median correlation of each
    ±60 ms complex with the median complex. In our trials (white, pink, brown, Laplace and
    heavy-tailed noise vs genuine PTB-XL/SPH/CPSC/Chapman and synthetic lead II) noise reached a
    similarity of 0.93 only with |R|/SD ≈ 1.2 and otherwise stayed ≤ 0.88 even at |R|/SD ≈ 5;
    ECGs gave ≥ 0.93 and ≥ 2.5.
    """
    if r.size < MIN_BEATS:
        return f"fewer than {MIN_BEATS} R peaks detected"
    rate = 60.0 / float(np.mean(np.diff(r) / fs))
    if not RATE_RANGE[0] <= rate <= RATE_RANGE[1]:
        return f"implausible rate {rate:.0f} bpm from the detected peaks"
    spread = 1.4826 * float(np.median(np.abs(clean - np.median(clean))))
    ratio = float(np.median(np.abs(clean[r]))) / spread if spread > 0 else math.inf
    similarities = complex_similarity(clean, r, fs)
    if similarities.size < MIN_BEATS:
        return f"fewer than {MIN_BEATS} complete QRS complexes"
    similarity = float(np.nanmedian(similarities))   # NaN where every complex is flat: refused below
    if ratio < MIN_R_RATIO or not similarity >= MIN_SIMILARITY:
        return (f"R peaks look like noise, not beats (|R|/SD {ratio:.1f}, need {MIN_R_RATIO:g}; "
                f"complex similarity {similarity:.2f}, need {MIN_SIMILARITY:g})")
    return None


def _rate_fields(out: Measurements, rr: np.ndarray, truncate: bool) -> Measurements:
    mean_rr = float(np.mean(rr))
    rr_ms = int(mean_rr * 1000) if truncate else int(round(mean_rr * 1000))
    return replace(out, rr_ms=rr_ms, heart_rate_bpm=int(round(60.0 / mean_rr)))


# --- standard definitions ------------------------------------------------------------------------

# (wave key, search window around each R peak in s, which candidate: the last before or first after)
_WINDOWS = {
    "ECG_P_Onsets": (-0.40, -0.02, "last"), "ECG_P_Peaks": (-0.35, -0.02, "last"),
    "ECG_R_Onsets": (-0.15, 0.0, "last"), "ECG_R_Offsets": (0.0, 0.20, "first"),
    "ECG_T_Peaks": (0.05, 0.60, "first"), "ECG_T_Offsets": (0.10, 0.70, "first"),
}


def _per_beat(waves: dict, key: str, r: np.ndarray, fs: float) -> np.ndarray:
    """One position per R peak (NaN where none): delineators may drop or add entries."""
    lo, hi, side = _WINDOWS[key]
    pos = np.asarray([p for p in waves.get(key, []) if p is not None and p == p], dtype=float)
    out = np.full(r.size, np.nan)
    for i, peak in enumerate(r):
        hit = pos[(pos >= peak + lo * fs) & (pos <= peak + hi * fs)]
        if hit.size:
            out[i] = hit.max() if side == "last" else hit.min()
    return out


def _interval(name: str, start: np.ndarray, stop: np.ndarray, fs: float, reasons: list[str]) -> int | None:
    d = (stop - start) * 1000.0 / fs
    d = d[np.isfinite(d)]
    if d.size < max(2, MIN_BEAT_FRACTION * start.size):
        reasons.append(f"{name.upper()} ends found in {d.size} of {start.size} beats")
        return None
    value = int(round(float(np.median(d))))
    lo, hi = PLAUSIBLE_MS[name]
    if not lo <= value <= hi:
        reasons.append(f"{name.upper()} {value} ms outside {lo}–{hi} ms: delineation unreliable")
        return None
    return value


def _standard(out: Measurements, clean: np.ndarray, r: np.ndarray, rr: np.ndarray, waves) -> Measurements:
    fs = out.fs
    out = _rate_fields(out, rr, truncate=False)
    r_amp = round(float(np.median(clean[r])), 3)
    out = replace(out, r_present=True, r_amplitude_mv=r_amp)
    if waves is None:
        return out
    reasons = list(out.reasons)
    beat = {key: _per_beat(waves, key, r, fs) for key in _WINDOWS}
    pr = _interval("pr", beat["ECG_P_Onsets"], beat["ECG_R_Onsets"], fs, reasons)
    qrs = _interval("qrs", beat["ECG_R_Onsets"], beat["ECG_R_Offsets"], fs, reasons)
    qt = _interval("qt", beat["ECG_R_Onsets"], beat["ECG_T_Offsets"], fs, reasons)
    qtc = int(round(qt / math.sqrt(out.rr_ms / 1000.0))) if qt is not None else None
    fields = {"pr_ms": pr, "qrs_ms": qrs, "qt_ms": qt, "qtc_ms": qtc}
    for wave, key in (("p", "ECG_P_Peaks"), ("t", "ECG_T_Peaks")):
        found = beat[key][np.isfinite(beat[key])].astype(int)
        if found.size >= MIN_BEAT_FRACTION * r.size:
            fields[f"{wave}_present"] = True
            fields[f"{wave}_amplitude_mv"] = round(float(np.median(clean[found])), 3)
        else:  # a delineator cannot tell a missing wave from a missed one: absence is never claimed
            reasons.append(f"{wave.upper()} wave found in {found.size} of {r.size} beats")
    return replace(out, reasons=tuple(reasons), **fields)


def _with_global_qrs(out: Measurements, ecg: ECG, r: np.ndarray, upright: np.ndarray,
                     cleaned: dict[str, np.ndarray]) -> Measurements:
    """QRS from the earliest onset to the latest offset over the leads (global_qrs.py), where it
    can be measured; otherwise the one lead's value stays and the reason is kept."""
    value, how = global_qrs_ms(ecg, r, upright, out.fs, cleaned)
    lo, hi = PLAUSIBLE_MS["qrs"]
    if value is None or not lo <= value <= hi:
        reason = how if value is None else f"global QRS {value} ms outside {lo}–{hi} ms"
        return replace(out, reasons=out.reasons + (reason,))
    return replace(out, qrs_ms=value, methods=tuple(sorted(dict(out.methods, qrs_ms=how).items())))


# --- ECG-Chat definitions ------------------------------------------------------------------------

def _ecgchat(out: Measurements, r: np.ndarray, rr: np.ndarray, waves) -> Measurements:
    """ECG-Chat's numbers, computed as its signal_analysis.py does (index-paired, means, int())."""
    fs = out.fs
    out = _rate_fields(out, rr, truncate=True)
    if waves is None:
        return out

    def col(key: str) -> np.ndarray:
        values = np.asarray([np.nan if v is None else v for v in waves.get(key, [])], dtype=float)
        return np.pad(values, (0, max(0, r.size - values.size)), constant_values=np.nan)[:r.size]

    def mean(values: np.ndarray) -> float | None:  # its dropna(): the mean of the finite values
        values = values[np.isfinite(values)]
        return float(np.mean(values)) if values.size else None

    def ms(seconds: float | None) -> int | None:
        return None if seconds is None else int(seconds * 1000)

    pr = ms(mean((col("ECG_Q_Peaks") - col("ECG_P_Onsets")) / fs))
    qrs = ms(mean((col("ECG_S_Peaks") - col("ECG_Q_Peaks")) / fs))
    qt_s = mean((col("ECG_T_Offsets") - col("ECG_R_Onsets")) / fs)
    qt, qtc = ms(qt_s), (None if qt_s is None else int(qt_s / math.sqrt(float(np.mean(rr))) * 1000))
    index = lambda a: ms(mean(a / 1000))  # noqa: E731  (sic: a sample index, /1000 then ×1000)
    missing = [name for name, v in (("PR", pr), ("QRS", qrs), ("QT", qt)) if v is None]
    reasons = out.reasons + ((f"not delineated: {', '.join(missing)}",) if missing else ())
    return replace(out, reasons=reasons, pr_ms=pr, qrs_ms=qrs, qt_ms=qt, qtc_ms=qtc,
                   p_peak_index=index(col("ECG_P_Peaks")), r_peak_index=index(r.astype(float)),
                   t_peak_index=index(col("ECG_T_Peaks")))


# --- axis ----------------------------------------------------------------------------------------

def _axis(ecg: ECG, r: np.ndarray, fs: float, cleaned: dict[str, np.ndarray]) -> int | None:
    """Frontal QRS axis: atan2 of the net QRS deflections (max + min within ±60 ms of R) in aVF and I."""
    if not {"I", "aVF"} <= set(ecg.leads) or r.size < MIN_BEATS:
        return None
    import neurokit2 as nk

    half = int(round(0.06 * fs))
    net = {}
    for name in ("I", "aVF"):
        x = ecg.lead(name)
        if not np.isfinite(x).all():
            return None
        x = cleaned[name] if name in cleaned else np.asarray(nk.ecg_clean(x, sampling_rate=fs))  # (baseline removed)
        beats = [x[max(0, p - half):p + half + 1] for p in r]
        deflections = [float(np.max(b) + np.min(b)) for b in beats if b.size]
        if len(deflections) < MIN_BEATS:
            return None
        net[name] = float(np.median(deflections))
    if abs(net["I"]) + abs(net["aVF"]) < 1e-3:  # no measurable QRS in either lead
        return None
    return int(round(math.degrees(math.atan2(net["aVF"], net["I"]))))

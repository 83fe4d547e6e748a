"""Beats found honestly in unannotated records: neurokit2 R peaks, premature beats from the RR series.

R peaks are taken where neurokit2 finds them in at least two of the detection leads (default II, I,
V5) within 60 ms of each other: one lead alone misplaces beats often enough to invent premature
beats (a wide LBBB complex in II gave two false calls on a fixture record whose lead I was clean).

A beat is called premature when its RR interval is shorter than ``prematurity`` × the local median
RR and the next RR (the pause after it) is at least ``pause`` × that median. The local median is
taken over up to ``context`` RR intervals on each side, leaving out the two around the beat. On
genuine MIT-BIH record 100 (annotation R times) 0.85 / 1.0 / 4 finds all 34 premature beats
(33 A, 1 V) with no false call; 0.8 misses 4 A beats whose coupling is 0.81–0.83 of the median.
The rule says nothing about the beat's origin (atrial or ventricular): callers name what it finds
"premature beat" and use it only where the record's labels report premature beats.
"""

from __future__ import annotations

import numpy as np

from ..errors import SourceError

RR_PLAUSIBLE_S = (0.25, 2.5)   # median RR outside this range: detection failed (noise, flat lead)


def r_peaks(signal: np.ndarray, fs: float, record_id: str = "") -> np.ndarray:
    """R-peak samples of one lead (neurokit2 ``ecg_clean`` + ``ecg_peaks``); SourceError when the
    lead has gaps or the result is not a plausible heartbeat series."""
    import neurokit2 as nk

    if not np.all(np.isfinite(signal)):
        raise SourceError(record_id, "the detection lead has missing samples; R peaks not detected", record_id)
    if np.ptp(signal) == 0:
        raise SourceError(record_id, "the detection lead is flat; R peaks not detected", record_id)
    try:
        cleaned = nk.ecg_clean(signal, sampling_rate=int(round(fs)))
        _, info = nk.ecg_peaks(cleaned, sampling_rate=int(round(fs)))
    except Exception as exc:  # neurokit2 raises plain Exceptions on degenerate signals: a record problem
        raise SourceError(record_id, f"neurokit2 R-peak detection failed: {exc}", record_id) from None
    peaks = np.asarray(info["ECG_R_Peaks"], dtype=np.int64)
    if peaks.size < 4:
        raise SourceError(record_id, f"neurokit2 found {peaks.size} R peaks; too few to use", record_id)
    median_rr = float(np.median(np.diff(peaks))) / fs
    if not RR_PLAUSIBLE_S[0] <= median_rr <= RR_PLAUSIBLE_S[1]:
        raise SourceError(record_id, f"implausible median RR {median_rr:.2f} s from neurokit2 R peaks", record_id)
    return peaks


def consensus_r_peaks(ecg, leads, record_id: str = "", tolerance_s: float = 0.06) -> tuple[np.ndarray, list[str]]:
    """R peaks found in at least two of ``leads`` (all of them when only two are usable), at the median
    of their positions; with one usable lead, that lead's peaks. Returns (peaks, leads used)."""
    found, errors = {}, []
    for lead in [name for name in dict.fromkeys(leads) if name in ecg.leads] or [ecg.leads[0]]:
        try:
            found[lead] = r_peaks(ecg.lead(lead), ecg.fs, record_id)
        except SourceError as exc:
            errors.append(exc)
    if not found:
        raise errors[0]
    if len(found) == 1:
        return next(iter(found.values())), list(found)
    need = 2
    tolerance = tolerance_s * ecg.fs
    pooled = sorted((int(p), lead) for lead, peaks in found.items() for p in peaks)
    peaks, cluster = [], []
    for position, lead in pooled + [(None, None)]:
        if cluster and (position is None or position - cluster[0][0] > tolerance):
            if len({name for _, name in cluster}) >= need:
                peaks.append(int(np.median([p for p, _ in cluster])))
            cluster = []
        if position is not None:
            cluster.append((position, lead))
    peaks = np.asarray(peaks, dtype=np.int64)
    if peaks.size < 4:
        raise SourceError(record_id, f"the detection leads agree on {peaks.size} R peaks; too few to use", record_id)
    return peaks, list(found)


def premature_mask(peaks, prematurity: float = 0.85, pause: float = 1.0, context: int = 4) -> np.ndarray:
    """True for each beat the RR rule calls premature (never the first or the last beat)."""
    peaks = np.asarray(peaks, dtype=np.int64)
    rr = np.diff(peaks).astype(float)          # rr[i - 1] ends at beat i
    out = np.zeros(peaks.size, dtype=bool)
    for i in range(1, peaks.size - 1):
        around = np.concatenate([rr[max(0, i - 1 - context):i - 1], rr[i + 1:i + 1 + context]])
        if around.size < 2:
            continue
        median = float(np.median(around))
        out[i] = rr[i - 1] < prematurity * median and rr[i] >= pause * median
    return out

"""Rhythm-episode strips: pieces of several recordings joined at R peaks into one seamless signal.

A join goes from piece A to piece B at the same place in a beat of each: ``d`` samples before A's
last R peak and ``d`` before B's first one, ``d`` chosen in 40–140 ms (the PR segment, before the
QRS) where both are flattest. A keeps its samples up to its cut, B its samples after its cut, so
the joined beat is A's P wave with B's QRS-T and the RR series across the join is A's last RR
interval: no beat is lost or doubled. Each lead of B is scaled about its cut value so its median R
amplitude matches the first piece's (optional, clipped to ``scale_range``) and shifted so its cut
value equals A's: there is no step, the first stored sample of B differs from A's last one by one of
B's own (scaled) sample-to-sample differences, and as the cut lies before the QRS, on the
isoelectric line, the baselines continue too.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..errors import SourceError
from ..types import ECG, RecordRef

MIN_AMPLITUDE_MV = 0.05          # below this a lead's R amplitude is too small to match: scale 1
CUT_BEFORE_R_S = (0.04, 0.14)    # where the cut may lie before the R peak


@dataclass
class Piece:
    """One crop that goes into a strip."""

    ref: RecordRef
    ecg: ECG             # the crop, leads already selected
    native_start: int    # the crop's first sample in its record
    rhythm: str          # readable rhythm name (meta)
    code: str            # the label code that made it this rhythm (SNOMED id)
    episode: bool        # part of the asked-for episode type
    peaks: np.ndarray    # R peaks of the crop (detect.consensus_r_peaks on the full-lead crop)


@dataclass
class Strip:
    ecg: ECG
    pieces: list[dict]         # per piece: record id, native span, strip span, rhythm, scale, offset
    cuts: list[dict]           # per join: strip sample (last of the piece before it), cut-to-R distance (s)


def _r_amplitude(x: np.ndarray, peaks: np.ndarray) -> float:
    return float(np.median(np.abs(x[peaks] - np.median(x))))


def _cut_offset(a: np.ndarray, ra: int, b: np.ndarray, rb: int, fs: float) -> int:
    """Samples before the R peaks where A (at ``ra``) and B (at ``rb``) are together flattest."""
    lo, hi = (int(round(s * fs)) for s in CUT_BEFORE_R_S)
    hi = min(hi, ra - 1, rb - 1)
    if hi < lo:
        raise ValueError("no room before the R peaks to cut")
    d = np.arange(lo, hi + 1)
    slope = (np.abs(a[:, ra - d + 1] - a[:, ra - d - 1]).sum(axis=0)
             + np.abs(b[:, rb - d + 1] - b[:, rb - d - 1]).sum(axis=0))
    return int(d[np.argmin(slope)])


def compose_strip(pieces: list[Piece], match_amplitude: bool = True,
                  scale_range: tuple[float, float] = (0.5, 2.0)) -> Strip:
    if len(pieces) < 2:
        raise ValueError("a strip needs at least two pieces")
    fs, leads = pieces[0].ecg.fs, pieces[0].ecg.leads
    margin = int(round(CUT_BEFORE_R_S[1] * fs)) + 2
    signals, starts, stops = [], [], []
    for piece in pieces:
        if piece.ecg.fs != fs or piece.ecg.leads != leads:
            raise ValueError("strip pieces must share rate and leads")
        x = piece.ecg.signal
        if not np.all(np.isfinite(x)):
            raise SourceError(piece.ref.path, "a strip piece has missing samples", piece.ref.record_id)
        usable = piece.peaks[piece.peaks >= margin]
        if usable.size < 3:
            raise SourceError(piece.ref.path, "a strip piece has too few beats to cut at R peaks", piece.ref.record_id)
        signals.append(x)
        starts.append(int(usable[0]))      # R peak the piece is entered at (all but the first)
        stops.append(int(usable[-1]))      # R peak the piece is left at (all but the last)
    reference_amp = np.array([_r_amplitude(row, pieces[0].peaks) for row in signals[0]])
    scales, offsets = [np.ones(len(leads))], [np.zeros(len(leads))]
    aligned, parts, info, cuts, total, lo = signals[0], [], [], [], 0, 0
    for i, piece in enumerate(pieces):
        last = i + 1 == len(pieces)
        if not last:
            d = _cut_offset(aligned, stops[i], signals[i + 1], starts[i + 1], fs)
        hi = aligned.shape[1] if last else stops[i] - d + 1      # keep the cut sample
        if hi - lo < fs:
            raise SourceError(piece.ref.path, "a strip piece is under a second long between its cuts",
                              piece.ref.record_id)
        parts.append(aligned[:, lo:hi])
        info.append({"record_id": piece.ref.record_id, "rhythm": piece.rhythm, "code": piece.code,
                     "episode": piece.episode, "start": piece.native_start + lo, "stop": piece.native_start + hi,
                     "strip_start": total, "strip_stop": total + hi - lo,
                     "scale": [round(float(v), 6) for v in scales[i]],
                     "offset_mv": [round(float(v), 6) for v in offsets[i]]})
        total += hi - lo
        if last:
            break
        # the next piece: scaled about its cut sample, which is put on this piece's last sample
        nxt, cut_next = signals[i + 1], starts[i + 1] - d
        amp = np.array([_r_amplitude(row, pieces[i + 1].peaks) for row in nxt])
        ok = match_amplitude & (amp >= MIN_AMPLITUDE_MV) & (reference_amp >= MIN_AMPLITUDE_MV)
        scale = np.where(ok, np.clip(reference_amp / np.maximum(amp, 1e-12), *scale_range), 1.0)
        offset = parts[-1][:, -1] - nxt[:, cut_next] * scale
        scales.append(scale)
        offsets.append(offset)
        aligned = nxt * scale[:, None] + offset[:, None]
        cuts.append({"sample": total - 1, "before_r_s": round(d / fs, 6)})
        lo = cut_next + 1
    return Strip(_strip_ecg(pieces, np.concatenate(parts, axis=1)), info, cuts)


def _strip_ecg(pieces: list[Piece], signal: np.ndarray) -> ECG:
    """The strip as an ECG; with the first piece's ADC gain where all pieces are integer sources, so
    that int16 storage holds it (quantized to that ADC step; the float view is made to agree)."""
    first = pieces[0].ecg
    base = ECG(record_id="", fs=first.fs, leads=first.leads, physical=signal, units=first.units)
    if not all(p.ecg.gain is not None and p.ecg.digital is not None for p in pieces):
        return replace(base, native_dtype="float64")
    gain, zero = first.gain.astype(float), first.baseline.astype(np.int64)
    digital = np.round(signal * gain[:, None]) + zero[:, None]
    if digital.min() < -32767 or digital.max() > 32767:
        return replace(base, native_dtype="float64")
    digital = digital.astype(np.int16)
    physical = (digital.astype(np.float64) - zero[:, None]) / gain[:, None]
    return replace(base, physical=physical, digital=digital, gain=first.gain, baseline=first.baseline,
                   native_dtype="int16")

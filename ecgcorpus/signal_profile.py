"""Apply the manifest's signal profile to an ECG: leads, rate, length. Signals stay raw (no scaling)."""

from __future__ import annotations

import numpy as np

from .errors import SourceError
from .manifest import SignalProfile
from .types import ECG


def apply_profile(ecg: ECG, profile: SignalProfile, rng: np.random.Generator) -> tuple[ECG, int, int]:
    """The profiled ECG and the [start, stop) span it covers in native samples.

    Leads the record lacks are an error (quarantined), never filled in: a reduced-lead sample
    keeps only what was recorded.
    """
    if profile.leads is not None:
        missing = [name for name in profile.leads if name not in ecg.leads]
        if missing:
            raise SourceError(ecg.record_id, f"record lacks lead(s) {' '.join(missing)} required by the profile",
                              ecg.record_id)
        ecg = ecg.select(profile.leads)
    start, stop = 0, ecg.n_samples
    if profile.duration_s is not None:
        want = int(round(profile.duration_s * ecg.fs))
        if ecg.n_samples >= want:
            start = _crop_start(ecg.n_samples, want, profile.crop, rng)
            stop = start + want
            ecg = ecg.crop(start, stop)
        elif profile.pad:
            ecg = ecg.pad(want)
        else:
            raise SourceError(ecg.record_id, f"record is {ecg.duration_s:g} s, shorter than the profile's "
                              f"{profile.duration_s:g} s (pad: false)", ecg.record_id)
    if profile.fs is not None and profile.fs != ecg.fs:
        ecg = ecg.resample(profile.fs)
    return ecg, start, stop


def _crop_start(n: int, want: int, mode: str, rng: np.random.Generator) -> int:
    if mode == "start" or n == want:
        return 0
    if mode == "center":
        return (n - want) // 2
    return int(rng.integers(0, n - want + 1))

"""Waveform features of one ECG (neurokit2) and their wording: measure(), the ECG-Chat suffix, QA values."""

from .measure import Measurements, measure
from .format import FEATURES, Feature, wave_suffix

__all__ = ["FEATURES", "Feature", "Measurements", "measure", "wave_suffix"]

"""Signals in millivolts for `datasets` users: a transform, so no trainer writes the gain code.

    ds = datasets.load_dataset("me/my-ecg-corpus", "report", split="train")
    ds.set_transform(to_mv)                 # or: ds = ds.with_transform(to_mv)
    ds[0]["ecgs"][0]["signal"]              # torch.float32 (leads × samples), mV

Stored signals are int16 ADC units with a per-lead gain and baseline (mV = (adc − baseline) / gain)
or floats already in mV (gain 1, baseline 0); ``to_mv`` applies the formula either way. Signals
are torch tensors where torch is installed, else numpy arrays. For batched training at speed, read
Arrow and use ``ecgcorpus.collate.collate_ecgs`` instead (no Python objects per value).
"""

from __future__ import annotations

import numpy as np


def signal_mv(ecg: dict) -> np.ndarray:
    """One stored ECG struct (a dict) → float32 (leads × samples) in mV, NaN where no sample."""
    from .corpus import ecg_to_mv

    return ecg_to_mv(ecg, "float32")


def to_mv(batch: dict) -> dict:
    """A `datasets` transform (``set_transform`` / ``with_transform``): every ECG's ``signal``
    becomes float32 mV; gain and baseline become 1 and 0 to match."""
    try:
        import torch
        tensor = torch.from_numpy
    except ImportError:
        tensor = None
    out = dict(batch)
    if "ecgs" in batch:
        out["ecgs"] = [[_converted(ecg, tensor) for ecg in row] for row in batch["ecgs"]]
    return out


def _converted(ecg: dict, tensor) -> dict:
    mv = signal_mv(ecg)
    return {**ecg, "signal": tensor(mv) if tensor else mv,
            "gain": [1.0] * len(ecg["leads"]), "baseline": [0] * len(ecg["leads"])}

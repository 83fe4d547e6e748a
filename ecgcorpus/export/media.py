"""Write a sample's ECGs and images as files a trainer can open (paths relative to the export)."""

from __future__ import annotations

import os

import numpy as np

from ..corpus import ecg_to_mv


def write_ecg(ecg: dict, out_dir: str, stem: str, kind: str, stored_dtype: str) -> str:
    """``npy``: float32 mV, leads × samples. ``wfdb``: a WFDB record (int16 + gains where stored so)."""
    if kind == "npy":
        os.makedirs(os.path.join(out_dir, "ecgs"), exist_ok=True)
        rel = f"ecgs/{stem}.npy"
        np.save(os.path.join(out_dir, rel), ecg_to_mv(ecg).astype(np.float32))
        return rel
    write_wfdb(ecg, os.path.join(out_dir, "ecgs"), stem, stored_dtype)
    return f"ecgs/{stem}"


def write_wfdb(ecg: dict, folder: str, stem: str, stored_dtype: str) -> None:
    """``folder/stem.hea`` + ``.dat``: the stored samples exactly (int16 with the stored gains and
    baselines), or float storage at 1 µV resolution."""
    import wfdb

    os.makedirs(folder, exist_ok=True)
    leads = list(ecg["leads"])
    common = dict(record_name=stem, fs=ecg["fs"], units=["mV"] * len(leads), sig_name=leads,
                  write_dir=folder, comments=[f"ecgcorpus record {ecg['record_id']}"])
    if stored_dtype == "int16":
        wfdb.wrsamp(d_signal=np.asarray(ecg["signal"], dtype=np.int16).T, fmt=["16"] * len(leads), adc_gain=list(ecg["gain"]),
                    baseline=[int(b) for b in ecg["baseline"]], **common)
    else:  # float sources: 1 µV resolution (gain 1000), wfdb picks nothing lossy beyond that
        wfdb.wrsamp(p_signal=ecg_to_mv(ecg).T, fmt=["32"] * len(leads), adc_gain=[1000.0] * len(leads),
                    baseline=[0] * len(leads), **common)


def write_image(image: dict, out_dir: str, stem: str) -> str:
    os.makedirs(os.path.join(out_dir, "images"), exist_ok=True)
    data = image["bytes"]
    ext = "jpg" if data[:3] == b"\xff\xd8\xff" else "png"
    rel = f"images/{stem}.{ext}"
    with open(os.path.join(out_dir, rel), "wb") as f:
        f.write(data)
    return rel

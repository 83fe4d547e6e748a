"""Turn a batch of corpus rows into a float tensor of ECGs, vectorized (no Python loop per sample).

    ds = datasets.load_dataset("parquet", data_dir="out/demo/data/report")["train"].with_format("arrow")
    sampler = torch.utils.data.BatchSampler(torch.utils.data.RandomSampler(ds), batch_size=32, drop_last=False)
    loader = torch.utils.data.DataLoader(ds, sampler=sampler, batch_size=None, collate_fn=collate_ecgs)
    for signals in loader: ...   # (n_ecgs, leads, samples) float32 in mV

The sampler hands ``ds[list_of_indices]`` (one Arrow table per batch) to the collate function;
``for table in ds.iter(batch_size=32): collate_ecgs(table)`` works too. A list of single-row
tables is also accepted. int16 signals are
converted with their per-lead gain and baseline: mV = (adc − baseline) / gain. Variable-length
signals are zero-padded to the longest in the batch; ``lengths`` gives the true lengths.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def ecg_arrays(batch) -> tuple[np.ndarray, np.ndarray]:
    """(signals float32 (n_ecgs, leads, samples) in mV, lengths (n_ecgs,)) from an Arrow batch."""
    table = _as_table(batch)
    ecgs = table.column("ecgs").combine_chunks().flatten()   # one struct per attached ECG
    n = len(ecgs)
    signal = ecgs.field("signal")
    gain = pc.list_flatten(ecgs.field("gain")).to_numpy(zero_copy_only=False)
    baseline = pc.list_flatten(ecgs.field("baseline")).to_numpy(zero_copy_only=False)
    if n == 0:
        return np.zeros((0, 0, 0), np.float32), np.zeros(0, np.int64)
    leads = len(gain) // n
    gain, baseline = gain.reshape(n, leads, 1), baseline.reshape(n, leads, 1)
    if pa.types.is_fixed_size_list(signal.type):
        samples = signal.type.value_type.list_size
        values = signal.flatten().flatten().to_numpy(zero_copy_only=False).reshape(n, leads, samples)
        lengths = np.full(n, samples, dtype=np.int64)
    else:
        values, lengths = _pad_ragged(signal, n, leads)
    out = values.astype(np.float32)
    out -= baseline.astype(np.float32)
    out /= gain.astype(np.float32)
    if not pa.types.is_fixed_size_list(signal.type):
        out[np.arange(out.shape[2])[None, None, :] >= lengths[:, None, None]] = 0.0
    return out, lengths


def collate_ecgs(batch):
    """A torch.FloatTensor (n_ecgs, leads, samples) in mV; torch is imported only here."""
    import torch

    signals, _ = ecg_arrays(batch)
    return torch.from_numpy(signals)


def _as_table(batch) -> pa.Table:
    if isinstance(batch, pa.Table):
        return batch
    if isinstance(batch, pa.RecordBatch):
        return pa.Table.from_batches([batch])
    if isinstance(batch, list) and batch and isinstance(batch[0], (pa.Table, pa.RecordBatch)):
        return pa.concat_tables([_as_table(b) for b in batch])
    raise TypeError("collate_ecgs expects Arrow batches: use dataset.with_format('arrow')")


def _pad_ragged(signal: pa.Array, n: int, leads: int) -> tuple[np.ndarray, np.ndarray]:
    rows = signal.flatten()                        # one entry per lead
    values = rows.flatten().to_numpy(zero_copy_only=False)
    offsets = rows.offsets.to_numpy()
    lead_lengths = np.diff(offsets)
    lengths = lead_lengths.reshape(n, leads).max(axis=1)
    width = int(lengths.max()) if n else 0
    out = np.zeros((n * leads, width), dtype=values.dtype)
    # Scatter every value to (its lead row, its position within the lead) in one vectorized step.
    row_of_value = np.repeat(np.arange(n * leads), lead_lengths)
    pos_in_row = np.arange(len(values)) - np.repeat(offsets[:-1], lead_lengths)
    out[row_of_value, pos_in_row] = values
    return out.reshape(n, leads, width), lengths

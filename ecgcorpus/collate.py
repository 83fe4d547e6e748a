"""Turn a batch of corpus rows into a float tensor of ECGs, vectorized (no Python loop per sample).

    ds = datasets.load_dataset("parquet", data_dir="out/demo/data/report")["train"].with_format("arrow")
    sampler = torch.utils.data.BatchSampler(torch.utils.data.RandomSampler(ds), batch_size=32, drop_last=False)
    loader = torch.utils.data.DataLoader(ds, sampler=sampler, batch_size=None, collate_fn=collate_ecgs)
    for signals in loader: ...   # (n_ecgs, leads, samples) float32 in mV

The sampler hands ``ds[list_of_indices]`` (one Arrow table per batch) to the collate function;
``for table in ds.iter(batch_size=32): collate_ecgs(table)`` works too. A list of single-row
tables is also accepted. int16 signals are converted with their per-lead gain and baseline:
mV = (adc − baseline) / gain.

Ragged batches are padded, never refused: signals of different lengths are zero-padded to the
longest (``EcgBatch.lengths`` has the true lengths), and ECGs with different lead sets (reduced-
lead localization crops, say) are placed on the union of the batch's leads in canonical order,
zeros where an ECG lacks a lead (``EcgBatch.present`` says which are real).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .leads import canonical_order


@dataclass
class EcgBatch:
    signals: np.ndarray     # float32 (n_ecgs, leads, samples) in mV, zero-padded
    lengths: np.ndarray     # int64 (n_ecgs,): samples of each ECG
    leads: tuple[str, ...]  # the lead axis: the union of the batch's leads, canonical order
    present: np.ndarray     # bool (n_ecgs, leads): the ECG has this lead (else its row is zeros)


def ecg_batch(batch) -> EcgBatch:
    """All attached ECGs of an Arrow batch of rows, as one padded float32 array in mV."""
    ecgs = _as_table(batch).column("ecgs").combine_chunks().flatten()   # one struct per attached ECG
    n = len(ecgs)
    if n == 0:
        return EcgBatch(np.zeros((0, 0, 0), np.float32), np.zeros(0, np.int64), (), np.zeros((0, 0), bool))
    signal = ecgs.field("signal")
    names = pc.list_flatten(ecgs.field("leads")).to_numpy(zero_copy_only=False)
    per_ecg = pc.list_value_length(ecgs.field("leads")).to_numpy(zero_copy_only=False).astype(np.int64)
    gain = pc.list_flatten(ecgs.field("gain")).to_numpy(zero_copy_only=False).astype(np.float32)
    baseline = pc.list_flatten(ecgs.field("baseline")).to_numpy(zero_copy_only=False).astype(np.float32)
    union = tuple(dict.fromkeys(names))
    union = tuple(union[i] for i in canonical_order(union))
    column = {name: i for i, name in enumerate(union)}
    row_ecg = np.repeat(np.arange(n), per_ecg)                          # each lead row's ECG …
    row_lead = np.array([column[name] for name in names], dtype=np.int64)   # … and its place on the lead axis
    present = np.zeros((n, len(union)), bool)
    present[row_ecg, row_lead] = True
    if pa.types.is_fixed_size_list(signal.type) and len(union) == signal.type.list_size:
        samples = signal.type.value_type.list_size   # one shape for the config: no scatter needed
        values = signal.flatten().flatten().to_numpy(zero_copy_only=False).astype(np.float32)
        out = values.reshape(n, len(union), samples)
        out -= baseline.reshape(n, -1, 1)
        out /= gain.reshape(n, -1, 1)
        return EcgBatch(out, np.full(n, samples, np.int64), union, present)
    rows = signal.flatten()                                             # one entry per lead row
    values = rows.flatten().to_numpy(zero_copy_only=False).astype(np.float32)
    offsets = (np.arange(len(rows) + 1) * rows.type.list_size if pa.types.is_fixed_size_list(rows.type)
               else rows.offsets.to_numpy())
    row_lengths = np.diff(offsets)
    lengths = np.zeros(n, np.int64)
    np.maximum.at(lengths, row_ecg, row_lengths)
    out = np.zeros((n, len(union), int(lengths.max())), np.float32)
    # Scatter every value to (its ECG, its lead, its position) in one vectorized step.
    row_of_value = np.repeat(np.arange(len(rows)), row_lengths)
    pos_in_row = np.arange(len(values)) - np.repeat(offsets[:-1], row_lengths)
    mv = (values - baseline[row_of_value]) / gain[row_of_value]
    out[row_ecg[row_of_value], row_lead[row_of_value], pos_in_row] = mv
    return EcgBatch(out, lengths, union, present)


def ecg_arrays(batch) -> tuple[np.ndarray, np.ndarray]:
    """(signals float32 (n_ecgs, leads, samples) in mV, lengths (n_ecgs,)) from an Arrow batch."""
    ecgs = ecg_batch(batch)
    return ecgs.signals, ecgs.lengths


def collate_ecgs(batch):
    """A torch.FloatTensor (n_ecgs, leads, samples) in mV; torch is imported only here."""
    import torch

    return torch.from_numpy(ecg_batch(batch).signals)


def _as_table(batch) -> pa.Table:
    if isinstance(batch, pa.Table):
        return batch
    if isinstance(batch, pa.RecordBatch):
        return pa.Table.from_batches([batch])
    if isinstance(batch, list) and batch and isinstance(batch[0], (pa.Table, pa.RecordBatch)):
        return pa.concat_tables([_as_table(b) for b in batch])
    raise TypeError("collate_ecgs expects Arrow batches: use dataset.with_format('arrow')")

"""The Arrow schema of a config, and Samples → Arrow record batches without per-sample signal loops."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from ..sample import Sample

SIGNAL_DTYPES = {"int16": pa.int16(), "float32": pa.float32(), "float64": pa.float64()}


@dataclass(frozen=True)
class SignalLayout:
    """How a config stores signals: dtype, and the shape when every ECG has the same one."""

    dtype: str                   # int16 (with per-lead gain) | float32 | float64 (mV)
    n_leads: int | None = None   # fixed-size lists when both are set
    n_samples: int | None = None

    @property
    def fixed(self) -> bool:
        return self.n_leads is not None and self.n_samples is not None

    def signal_type(self) -> pa.DataType:
        value = SIGNAL_DTYPES[self.dtype]
        if self.fixed:
            return pa.list_(pa.list_(value, self.n_samples), self.n_leads)
        return pa.list_(pa.list_(value))

    def to_dict(self) -> dict:
        return {"dtype": self.dtype, "n_leads": self.n_leads, "n_samples": self.n_samples}


def ecg_struct(layout: SignalLayout) -> pa.StructType:
    return pa.struct([
        ("record_id", pa.string()),
        ("source", pa.string()),
        ("source_key", pa.string()),    # the manifest's name for the source entry
        ("path", pa.string()),          # the record's path in its release, relative to the source root
        ("patient_id", pa.string()),
        ("fs", pa.float64()),
        ("leads", pa.list_(pa.string())),
        ("start", pa.int64()),          # first sample, native rate of the record
        ("stop", pa.int64()),           # end (exclusive), native rate
        ("record_samples", pa.int64()), # length of the whole record, native rate (bounds check)
        ("gain", pa.list_(pa.float64())),      # ADC units per mV per lead (1.0 for float storage)
        ("baseline", pa.list_(pa.int64())),    # ADC zero per lead (0 for float storage)
        ("signal", layout.signal_type()),      # leads × samples
    ])


IMAGE_STRUCT = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
TURN_STRUCT = pa.struct([("from", pa.string()), ("value", pa.string())])


def sample_schema(layout: SignalLayout) -> pa.Schema:
    schema = pa.schema([
        ("id", pa.string()),
        ("task", pa.string()),
        ("split", pa.string()),
        ("conversations", pa.list_(TURN_STRUCT)),
        ("ecgs", pa.list_(ecg_struct(layout))),
        ("images", pa.list_(IMAGE_STRUCT)),
        ("meta", pa.string()),         # JSON: labels, template id, profile, intervals …
    ])
    return schema.with_metadata({"huggingface": json.dumps({"info": {"features": hf_features(layout)}})})


def hf_features(layout: SignalLayout) -> dict:
    """The `datasets` feature spec of the schema (so load_dataset restores images and fixed shapes)."""
    value = {"dtype": layout.dtype, "_type": "Value"}
    if layout.fixed:
        signal = {"feature": {"feature": value, "length": layout.n_samples, "_type": "List"},
                  "length": layout.n_leads, "_type": "List"}
    else:
        signal = {"feature": {"feature": value, "_type": "List"}, "_type": "List"}
    string = {"dtype": "string", "_type": "Value"}
    return {
        "id": string, "task": string, "split": string,
        "conversations": {"feature": {"from": string, "value": string}, "_type": "List"},
        "ecgs": {"feature": {
            "record_id": string, "source": string, "source_key": string, "path": string, "patient_id": string,
            "fs": {"dtype": "float64", "_type": "Value"},
            "leads": {"feature": string, "_type": "List"},
            "start": {"dtype": "int64", "_type": "Value"}, "stop": {"dtype": "int64", "_type": "Value"},
            "record_samples": {"dtype": "int64", "_type": "Value"},
            "gain": {"feature": {"dtype": "float64", "_type": "Value"}, "_type": "List"},
            "baseline": {"feature": {"dtype": "int64", "_type": "Value"}, "_type": "List"},
            "signal": signal,
        }, "_type": "List"},
        "images": {"feature": {"_type": "Image"}, "_type": "List"},
        "meta": string,
    }


def samples_to_table(samples: list[Sample], ids: list[str], layout: SignalLayout) -> pa.Table:
    """Build the Arrow table; signals are concatenated once per ECG (no per-value Python work)."""
    schema = sample_schema(layout)
    segments = [seg for s in samples for seg in s.segments]
    ecg_offsets = np.cumsum([0] + [len(s.segments) for s in samples], dtype=np.int32)
    ecgs = pa.ListArray.from_arrays(pa.array(ecg_offsets), _ecg_structs(segments, layout),
                                    type=schema.field("ecgs").type)
    columns = {
        "id": pa.array(ids, pa.string()),
        "task": pa.array([s.task for s in samples], pa.string()),
        "split": pa.array([s.split for s in samples], pa.string()),
        "conversations": pa.array([s.conversations for s in samples], schema.field("conversations").type),
        "ecgs": ecgs,
        "images": pa.array([s.images for s in samples], schema.field("images").type),
        "meta": pa.array([json.dumps(s.meta, sort_keys=True, ensure_ascii=False) for s in samples], pa.string()),
    }
    return pa.Table.from_arrays(list(columns.values()), schema=schema)


def _ecg_structs(segments, layout: SignalLayout) -> pa.StructArray:
    struct_type = ecg_struct(layout)
    signal = _signals(segments, layout)
    fields = [
        pa.array([seg.ref.record_id for seg in segments], pa.string()),
        pa.array([seg.ref.source for seg in segments], pa.string()),
        pa.array([seg.ref.source_key for seg in segments], pa.string()),
        pa.array([seg.ref.record_path for seg in segments], pa.string()),
        pa.array([seg.ref.patient_id for seg in segments], pa.string()),
        pa.array([float(seg.ecg.fs) for seg in segments], pa.float64()),
        pa.array([list(seg.ecg.leads) for seg in segments], pa.list_(pa.string())),
        pa.array([seg.start for seg in segments], pa.int64()),
        pa.array([seg.native_stop for seg in segments], pa.int64()),
        pa.array([seg.ref.n_samples for seg in segments], pa.int64()),
        pa.array([_gain(seg, layout) for seg in segments], pa.list_(pa.float64())),
        pa.array([_baseline(seg, layout) for seg in segments], pa.list_(pa.int64())),
        signal,
    ]
    return pa.StructArray.from_arrays(fields, fields=list(struct_type))


def _gain(seg, layout) -> list[float]:
    return [float(g) for g in seg.ecg.gain] if layout.dtype == "int16" else [1.0] * len(seg.ecg.leads)


def _baseline(seg, layout) -> list[int]:
    return [int(b) for b in seg.ecg.baseline] if layout.dtype == "int16" else [0] * len(seg.ecg.leads)


def _signals(segments, layout: SignalLayout) -> pa.Array:
    np_dtype = np.dtype(layout.dtype)
    blocks = [_values(seg.ecg, layout.dtype).astype(np_dtype, copy=False) for seg in segments]
    flat = pa.array(np.concatenate([b.ravel() for b in blocks]) if blocks else np.zeros(0, np_dtype))
    if layout.fixed:
        rows = pa.FixedSizeListArray.from_arrays(flat, layout.n_samples)
        return pa.FixedSizeListArray.from_arrays(rows, layout.n_leads)
    lead_lengths = [b.shape[1] for b in blocks for _ in range(b.shape[0])]
    row_offsets = pa.array(np.cumsum([0] + lead_lengths, dtype=np.int32))
    rows = pa.ListArray.from_arrays(row_offsets, flat)
    ecg_offsets = pa.array(np.cumsum([0] + [b.shape[0] for b in blocks], dtype=np.int32))
    return pa.ListArray.from_arrays(ecg_offsets, rows)


def _values(ecg, dtype: str) -> np.ndarray:
    if dtype == "int16":
        if ecg.digital is None:
            raise ValueError(f"{ecg.record_id}: int16 storage needs the ADC values (resampled or float source?)")
        return np.ascontiguousarray(ecg.digital)
    return ecg.signal

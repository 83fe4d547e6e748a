"""WFDB reading: a fast path for format-16 records, wfdb itself for everything else.

The fast path parses the header and maps the `.dat` with numpy. It returns values bit-identical
to ``wfdb.rdrecord(...).p_signal`` (tests check this on genuine PTB-XL, Chapman and CinC files)
at a small fraction of the cost, which matters when a corpus reads 800k MIMIC records.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from ..errors import SourceError
from ..leads import canonical_lead

WFDB_INVALID_16 = -32768  # fmt-16 "no sample" value; wfdb turns it into NaN


@dataclass(slots=True)
class SignalSpec:
    file: str
    fmt: str
    byte_offset: int
    gain: float
    baseline: int
    units: str
    adc_res: int
    adc_zero: int
    init_value: int | None
    checksum: int | None
    name: str


@dataclass
class WfdbHeader:
    path: str                   # header file path
    record_name: str
    n_sig: int
    fs: float
    n_samples: int
    base_time: str | None
    base_date: str | None
    signals: list[SignalSpec]
    comments: list[str] = field(default_factory=list)

    @property
    def lead_names(self) -> list[str]:
        return [s.name for s in self.signals]

    @property
    def fast_path_ok(self) -> bool:
        """True when every signal is plain fmt 16 in one file (PTB-XL, MIMIC, Chapman/CinC MAT v4)."""
        files = {s.file for s in self.signals}
        offsets = {s.byte_offset for s in self.signals}
        return len(files) == 1 and len(offsets) == 1 and all(s.fmt == "16" for s in self.signals)

    def comment_fields(self) -> dict[str, str]:
        """``#Age: 85`` style comments as a dict (keys as written, stripped)."""
        out = {}
        for line in self.comments:
            key, sep, value = line.partition(":")
            if sep:
                out[key.strip()] = value.strip()
        return out


def read_header(hea_path: str | os.PathLike) -> WfdbHeader:
    """Parse a WFDB header (LF or CRLF, comments, blank lines) into a WfdbHeader."""
    hea_path = str(hea_path)
    try:
        with open(hea_path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise SourceError(hea_path, "header file not found") from None
    except OSError as exc:
        raise SourceError(hea_path, f"cannot read header: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    comments: list[str] = []
    rows: list[list[str]] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            comments.append(stripped[1:].strip())
        else:
            rows.append(stripped.split())
    if not rows:
        raise SourceError(hea_path, "header has no record line")
    rec = rows[0]
    try:
        record_name = rec[0]
        n_sig = int(rec[1])
        fs = float(rec[2].split("/")[0].split("(")[0]) if len(rec) > 2 else 250.0
        n_samples = int(rec[3]) if len(rec) > 3 else 0
    except (ValueError, IndexError):
        raise SourceError(hea_path, f"malformed record line {' '.join(rec)!r}") from None
    if len(rows) - 1 < n_sig:
        raise SourceError(hea_path, f"record line announces {n_sig} signals but {len(rows) - 1} signal lines follow")
    signals = [_parse_signal_line(hea_path, row) for row in rows[1 : 1 + n_sig]]
    return WfdbHeader(
        path=hea_path, record_name=record_name, n_sig=n_sig, fs=fs, n_samples=n_samples,
        base_time=rec[4] if len(rec) > 4 else None, base_date=rec[5] if len(rec) > 5 else None,
        signals=signals, comments=comments,
    )


def _parse_signal_line(hea_path: str, row: list[str]) -> SignalSpec:
    try:
        fmt, offset, gain, baseline, units, adc_res, adc_zero = _storage_fields(*row[1:5])
        return SignalSpec(
            file=row[0], fmt=fmt, byte_offset=offset, gain=gain, baseline=baseline, units=units,
            adc_res=adc_res, adc_zero=adc_zero,
            init_value=int(row[5]) if len(row) > 5 else None,
            checksum=int(row[6]) if len(row) > 6 else None,
            name=" ".join(row[8:]) if len(row) > 8 else f"sig{row[0]}",
        )
    except (ValueError, IndexError):
        raise SourceError(hea_path, f"malformed signal line {' '.join(row)!r}") from None


@lru_cache(maxsize=4096)
def _storage_fields(fmt_field: str, gain_field: str = "", res_field: str = "0", zero_field: str = "0"):
    """fmt[+offset], gain(baseline)/units, ADC resolution, ADC zero. Cached: a corpus repeats these
    four fields on every line of every record, and this runs 12 times per record."""
    fmt, _, offset = fmt_field.partition("+")
    fmt = fmt.partition("x")[0].partition(":")[0]
    int(fmt)
    gain_text, _, units = gain_field.partition("/")
    gain_text, _, baseline_text = gain_text.partition("(")
    gain = float(gain_text) if gain_text else 0.0
    adc_zero = int(zero_field)
    baseline = int(baseline_text.rstrip(")")) if baseline_text else adc_zero
    # WFDB: a gain of 0 means the default, 200
    return fmt, int(offset or 0), (gain if gain != 0 else 200.0), baseline, units or "mV", int(res_field), adc_zero


def read_fmt16(header: WfdbHeader) -> np.ndarray:
    """The digital samples of a fmt-16 record, shape (samples, signals), int16, read with numpy."""
    spec = header.signals[0]
    dat_path = os.path.join(os.path.dirname(header.path), spec.file)
    frame = 2 * header.n_sig
    try:
        size = os.path.getsize(dat_path)
    except FileNotFoundError:
        raise SourceError(dat_path, "signal file missing (named in the header)") from None
    expected = spec.byte_offset + frame * header.n_samples
    if size < expected:
        raise SourceError(
            dat_path,
            f"truncated: {size} bytes, header says {header.n_samples} samples × {header.n_sig} signals "
            f"(+{spec.byte_offset} header bytes) = {expected} bytes",
        )
    if size > expected and header.n_samples:
        # More data than announced: wfdb silently ignores it, we report it as a length mismatch.
        raise SourceError(dat_path, f"length mismatch: {size} bytes but the header announces {expected}")
    with open(dat_path, "rb") as f:
        f.seek(spec.byte_offset)
        buf = f.read(frame * header.n_samples)
    return np.frombuffer(buf, dtype="<i2").reshape(header.n_samples, header.n_sig)


def digital_to_physical(digital: np.ndarray, gain: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    """Exactly wfdb's ``dac``: float64 (d − baseline) / gain, NaN where d is the invalid value.

    The subtraction is skipped where the baseline is 0 (PTB-XL, MIMIC, Chapman): x − 0 == x, so
    the result stays bit-identical to wfdb's astype/subtract/divide sequence.
    """
    out = digital.astype(np.float64)
    if np.any(baseline):
        np.subtract(out, baseline, out)
    np.divide(out, gain, out)
    if digital.size and digital.min() == WFDB_INVALID_16:
        out[digital == WFDB_INVALID_16] = np.nan
    return out


@dataclass
class WfdbSignal:
    """A WFDB record's samples, (signals × samples), with per-signal names, gains and baselines.

    ``physical`` is None on the fmt-16 fast path: it is derived from ``digital`` when needed.
    """

    header: WfdbHeader
    digital: np.ndarray
    gain: np.ndarray
    baseline: np.ndarray
    names: list[str]
    physical: np.ndarray | None = None


def read_record(record_path: str | os.PathLike, header: WfdbHeader | None = None) -> WfdbSignal:
    """Read a WFDB record (path without extension): numpy fast path for fmt 16, wfdb otherwise."""
    record_path = str(record_path)
    header = header or read_header(record_path + ".hea")
    names = [canonical_lead(n) for n in header.lead_names]
    gain = np.array([s.gain for s in header.signals], dtype=np.float64)
    baseline = np.array([s.baseline for s in header.signals], dtype=np.int64)
    if header.fast_path_ok:
        return WfdbSignal(header, read_fmt16(header).T, gain, baseline, names)
    return _read_with_wfdb(record_path, header, names, gain, baseline)


def _read_with_wfdb(record_path, header, names, gain, baseline) -> WfdbSignal:
    import wfdb

    try:
        rec = wfdb.rdrecord(record_path, physical=False, return_res=16)
    except FileNotFoundError as exc:
        raise SourceError(exc.filename or record_path, "signal file missing (named in the header)") from None
    except Exception as exc:  # wfdb raises bare ValueErrors etc. on damaged files
        raise SourceError(record_path + ".dat", f"wfdb cannot read the record: {exc}") from None
    digital = np.ascontiguousarray(rec.d_signal.T)
    if digital.shape[1] != header.n_samples:
        raise SourceError(record_path + ".dat", f"length mismatch: {digital.shape[1]} samples, header says {header.n_samples}")
    invalid = np.array([_invalid_value(s.fmt) for s in header.signals])[:, None]
    physical = digital.astype(np.float64)
    physical -= baseline[:, None]
    physical /= gain[:, None]
    physical[digital == invalid] = np.nan
    return WfdbSignal(header, digital.astype(np.int16, copy=False), gain, baseline, names, physical=physical)


def _invalid_value(fmt: str) -> int:
    # WFDB's "no sample" values per storage format (fmt 212 uses −2048, fmt 16 −32768, fmt 8 −128).
    return {"212": -2048, "310": -512, "311": -512, "8": -128, "80": -128}.get(fmt, WFDB_INVALID_16)

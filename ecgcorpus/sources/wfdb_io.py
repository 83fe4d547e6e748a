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


@dataclass(frozen=True)
class StorageLayout:
    """How the signals are stored: what the fast path needs, parsed once per distinct header layout."""

    fmts: tuple[str, ...]
    offsets: tuple[int, ...]
    gains: np.ndarray          # ADC units per mV
    baselines: np.ndarray
    units: tuple[str, ...]
    adc_res: tuple[int, ...]
    adc_zero: tuple[int, ...]


@dataclass
class WfdbHeader:
    path: str                   # header file path
    record_name: str
    n_sig: int
    fs: float
    n_samples: int
    base_time: str | None
    base_date: str | None
    rows: list[list[str]]       # the signal lines, split on whitespace
    layout: StorageLayout
    comments: list[str] = field(default_factory=list)

    @property
    def files(self) -> list[str]:
        return [row[0] for row in self.rows]

    @property
    def lead_names(self) -> list[str]:
        return [" ".join(row[8:]) if len(row) > 8 else f"sig{i}" for i, row in enumerate(self.rows)]

    @property
    def signals(self) -> list[SignalSpec]:
        """Every field of every signal line (initial values and checksums included)."""
        lay = self.layout
        return [SignalSpec(row[0], lay.fmts[i], lay.offsets[i], float(lay.gains[i]), int(lay.baselines[i]),
                           lay.units[i], lay.adc_res[i], lay.adc_zero[i],
                           int(row[5]) if len(row) > 5 else None, int(row[6]) if len(row) > 6 else None, name)
                for i, (row, name) in enumerate(zip(self.rows, self.lead_names))]

    @property
    def fast_path_ok(self) -> bool:
        """True when every signal is plain fmt 16 in one file (PTB-XL, MIMIC, Chapman/CinC MAT v4)."""
        lay = self.layout
        return len(set(self.files)) == 1 and len(set(lay.offsets)) == 1 and set(lay.fmts) == {"16"}

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
        if stripped[0] == "#":
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
    signal_rows = rows[1 : 1 + n_sig]
    if len(signal_rows) < n_sig:
        raise SourceError(hea_path, f"record line announces {n_sig} signals but {len(rows) - 1} signal lines follow")
    for row in signal_rows:
        if len(row) < 2:
            raise SourceError(hea_path, f"malformed signal line {' '.join(row)!r}")
    try:
        # Cached on the storage columns (identical across a database's records); file names vary, so
        # they are not part of the key.
        layout = _storage_layout(tuple(tuple(row[1:5]) for row in signal_rows))
    except (ValueError, IndexError):
        bad = next(row for row in signal_rows if not _line_ok(row))
        raise SourceError(hea_path, f"malformed signal line {' '.join(bad)!r}") from None
    return WfdbHeader(
        path=hea_path, record_name=record_name, n_sig=n_sig, fs=fs, n_samples=n_samples,
        base_time=rec[4] if len(rec) > 4 else None, base_date=rec[5] if len(rec) > 5 else None,
        rows=signal_rows, layout=layout, comments=comments,
    )


def _line_ok(row: list[str]) -> bool:
    try:
        _storage_fields(*row[1:5])
        int(row[5]) if len(row) > 5 else None
        return True
    except (ValueError, IndexError):
        return False


@lru_cache(maxsize=1024)
def _storage_layout(columns: tuple[tuple[str, ...], ...]) -> StorageLayout:
    fields = [_storage_fields(*cols) for cols in columns]
    gains = np.array([f[2] for f in fields], dtype=np.float64)
    baselines = np.array([f[3] for f in fields], dtype=np.int64)
    gains.flags.writeable = baselines.flags.writeable = False   # shared between headers via the cache
    return StorageLayout(
        fmts=tuple(f[0] for f in fields), offsets=tuple(f[1] for f in fields), gains=gains, baselines=baselines,
        units=tuple(f[4] for f in fields), adc_res=tuple(f[5] for f in fields), adc_zero=tuple(f[6] for f in fields),
    )


def _storage_fields(fmt_field: str, gain_field: str = "", res_field: str = "0", zero_field: str = "0"):
    """fmt[+offset], gain(baseline)/units, ADC resolution, ADC zero of one signal line."""
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
    dat_path = os.path.join(os.path.dirname(header.path), header.rows[0][0])
    byte_offset = header.layout.offsets[0]
    expected = byte_offset + 2 * header.n_sig * header.n_samples
    try:
        fd = os.open(dat_path, os.O_RDONLY)
    except FileNotFoundError:
        raise SourceError(dat_path, "signal file missing (named in the header)") from None
    try:
        size = os.fstat(fd).st_size
        if size < expected:
            raise SourceError(
                dat_path,
                f"truncated: {size} bytes, header says {header.n_samples} samples × {header.n_sig} signals "
                f"(+{byte_offset} header bytes) = {expected} bytes",
            )
        if size > expected and header.n_samples:
            # More data than announced: wfdb silently ignores it, we report it as a length mismatch.
            raise SourceError(dat_path, f"length mismatch: {size} bytes but the header announces {expected}")
        frames = np.empty((header.n_samples, header.n_sig), dtype="<i2")
        if os.preadv(fd, [frames], byte_offset) != frames.nbytes:
            raise SourceError(dat_path, "short read (file changed while reading?)")
    finally:
        os.close(fd)
    return frames


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
    gain, baseline = header.layout.gains, header.layout.baselines
    if header.fast_path_ok:
        signal = WfdbSignal(header, read_fmt16(header).T, gain, baseline, names)
    else:
        signal = _read_with_wfdb(record_path, header, names, gain, baseline)
    verify_checksums(signal, record_path)
    return signal


def verify_checksums(signal: WfdbSignal, record_path: str) -> None:
    """Each signal line's 16-bit checksum (the sum of its samples, modulo 2^16; PTB-XL writes it
    unsigned, most writers signed) against the samples read. A flipped bit in the data or a wrong
    header is a SourceError naming the lead, what the header says and what the data give."""
    specs = signal.header.signals
    wanted = [(i, spec) for i, spec in enumerate(specs) if spec.checksum is not None]
    if not wanted or not signal.header.n_samples:
        return
    sums = signal.digital.sum(axis=1, dtype=np.int64)
    for i, spec in wanted:
        data = int(sums[i]) & 0xFFFF
        if (spec.checksum - data) % 65536:
            signed = data - 65536 if data >= 32768 else data
            shown = signed if spec.checksum <= 32767 else data     # in the header's own convention
            raise SourceError(os.path.join(os.path.dirname(signal.header.path), spec.file),
                              f"checksum mismatch on lead {signal.names[i]} (header says {spec.checksum}, data give "
                              f"{shown})")


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
    invalid = np.array([_invalid_value(fmt) for fmt in header.layout.fmts])[:, None]
    physical = digital.astype(np.float64)
    physical -= baseline[:, None]
    physical /= gain[:, None]
    physical[digital == invalid] = np.nan
    return WfdbSignal(header, digital.astype(np.int16, copy=False), gain, baseline, names, physical=physical)


def _invalid_value(fmt: str) -> int:
    # WFDB's "no sample" values per storage format (fmt 212 uses −2048, fmt 16 −32768, fmt 8 −128).
    return {"212": -2048, "310": -512, "311": -512, "8": -128, "80": -128}.get(fmt, WFDB_INVALID_16)

"""Just enough of the MATLAB 5 format to read a struct's small fields and the shapes of its big ones.

A CPSC2018 scan needs sex, age and the length of ``data`` for 6,877 files (3.5 GB). scipy can only
answer that by inflating every file; the struct header holds all three in its first ~300 inflated
bytes, so this reads ~4 kB per file. Anything unexpected raises ValueError and the caller falls
back to ``scipy.io.loadmat``.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

MI_MATRIX, MI_COMPRESSED = 14, 15
MX_STRUCT, MX_CHAR = 2, 4
# MAT data types → numpy dtypes (little-endian files only: every CPSC file is PCWIN64).
_MI_DTYPES = {1: "i1", 2: "u1", 3: "<i2", 4: "<u2", 5: "<i4", 6: "<u4", 7: "<f4", 9: "<f8", 12: "<i8", 13: "<u8",
              16: "u1", 17: "<u2"}
_SMALL = 4096  # fields up to this many bytes are decoded; bigger ones only report their shape


@dataclass
class MatField:
    mclass: int                 # MATLAB array class (6 double, 9 uint8, 4 char …)
    shape: tuple[int, ...]
    value: object = None        # str for char arrays, ndarray for small numeric arrays, None for big ones


class _Stream:
    """Reads exactly n bytes from a plain or zlib-compressed element, inflating only what is asked for."""

    def __init__(self, f: BinaryIO, compressed: bool):
        self.f, self.pos, self._buf = f, 0, b""
        self._z = zlib.decompressobj() if compressed else None

    def read(self, n: int) -> bytes:
        if self._z is None:
            out = self.f.read(n)
        else:
            while len(self._buf) < n:
                chunk = self.f.read(4096)
                if not chunk:
                    break
                self._buf += self._z.decompress(chunk)
            out, self._buf = self._buf[:n], self._buf[n:]
        if len(out) < n:
            raise ValueError("file ends inside a data element (truncated)")
        self.pos += n
        return out

    def element(self) -> tuple[int, bytes]:
        """One data element (type, payload), padding consumed; handles the 'small element' form."""
        first, second = struct.unpack("<II", self.read(8))
        if first >> 16:  # small element: type and size in the first word, payload in the second
            return first & 0xFFFF, struct.pack("<I", second)[: first >> 16]
        data = self.read(second)
        self.read(-second % 8)
        return first, data


def read_struct(path: str, var: str) -> dict[str, MatField]:
    """The fields of the 1×1 struct variable ``var``: shapes always, values of the small ones."""
    with open(path, "rb") as f:
        head = f.read(128)
        if len(head) < 128 or not head.startswith(b"MATLAB 5.0") or head[126:128] != b"IM":
            raise ValueError("not a little-endian MATLAB 5 MAT-file")
        while True:
            tag = f.read(8)
            if len(tag) < 8:
                raise ValueError(f"no variable {var!r}")
            mtype, size = struct.unpack("<II", tag)
            end = f.tell() + size
            stream = _Stream(f, compressed=mtype == MI_COMPRESSED)
            if mtype == MI_COMPRESSED:
                mtype, size = struct.unpack("<II", stream.read(8))
            if mtype == MI_MATRIX:
                mclass, _, name = _matrix_header(stream)
                if name == var:
                    if mclass != MX_STRUCT:
                        raise ValueError(f"{var!r} is not a struct")
                    return _struct_fields(stream)
            f.seek(end)


def _matrix_header(s: _Stream) -> tuple[int, tuple[int, ...], str]:
    _, flags = s.element()
    _, dims = s.element()
    _, name = s.element()
    shape = tuple(np.frombuffer(dims, "<i4").tolist())
    return struct.unpack("<I", flags[:4])[0] & 0xFF, shape, name.decode("latin-1")


def _struct_fields(s: _Stream) -> dict[str, MatField]:
    _, length = s.element()
    width = struct.unpack("<i", length[:4])[0]
    _, names_raw = s.element()
    names = [names_raw[i : i + width].split(b"\0")[0].decode("latin-1") for i in range(0, len(names_raw), width)]
    fields = {}
    for i, name in enumerate(names):
        mtype, size = struct.unpack("<II", s.read(8))
        if mtype != MI_MATRIX:
            raise ValueError(f"field {name!r} is not a matrix element")
        if size == 0:  # MATLAB writes [] fields as an empty matrix element
            fields[name] = MatField(0, (0, 0))
            continue
        start = s.pos
        mclass, shape, _ = _matrix_header(s)
        rest = size - (s.pos - start)
        if rest > _SMALL:
            fields[name] = MatField(mclass, shape)
            if i < len(names) - 1:
                s.read(rest)  # skip a big field to reach the next one (never needed for CPSC: data is last)
            continue
        mtype, data = s.element()
        s.read(size - (s.pos - start))  # an imaginary part, if any
        fields[name] = MatField(mclass, shape, _decode(mclass, mtype, data, shape))
    return fields


def _decode(mclass: int, mtype: int, data: bytes, shape: tuple[int, ...]):
    if mtype not in _MI_DTYPES:
        raise ValueError(f"unsupported MAT data type {mtype}")
    values = np.frombuffer(data, _MI_DTYPES[mtype])
    if mclass == MX_CHAR:
        return "".join(map(chr, values.tolist())) if mtype != 16 else data.decode("utf-8")
    return values.reshape(shape, order="F")

"""Metadata tables as text: UTF-8 (a BOM is dropped), with the source's declared fallback.

Releases are UTF-8, but copies pass through spreadsheets and come back in latin-1 or cp1252. A
table that is not UTF-8 is read with the fallback the manifest declares for the source
(``options: {encoding: cp1252}``), and the source records that it did (the lock lists it). Without
a declared fallback, each line that is not UTF-8 is left out of the table and reported by
``file:line``, so that its record is quarantined, never guessed at, and the rest is read.
"""

from __future__ import annotations

import codecs
import io
from dataclasses import dataclass, field

from ..errors import SourceError


@dataclass
class TableText:
    path: str
    encoding: str
    bad_lines: list[int] = field(default_factory=list)     # 1-based lines that are not UTF-8
    text: str | None = None      # held only where the file had to be repaired; else read from disk

    @property
    def stream(self) -> io.TextIOBase:
        """A fresh text stream of the table (``with table.stream as f``), newline="" for ``csv``."""
        if self.text is not None:
            return io.StringIO(self.text, newline="")
        encoding = "utf-8-sig" if self.encoding == "utf-8" else self.encoding
        return open(self.path, encoding=encoding, newline="")

    def errors(self, record_id=None) -> list[SourceError]:
        return [SourceError(f"{self.path}:{line}", "undecodable row: not UTF-8 (declare the table's encoding, "
                            "e.g. options: {encoding: cp1252})", record_id) for line in self.bad_lines]


CHUNK = 1 << 24


def read_table_text(path: str, fallback: str | None = None) -> TableText:
    """The table at ``path``, checked to decode; FileNotFoundError propagates. A UTF-8 table (the
    releases) is checked in chunks and read again from disk when used, so a 300 MB table never
    sits in memory; only a table with undecodable lines is held, repaired."""
    if _decodes(path, "utf-8"):
        return TableText(path, "utf-8")
    if fallback:
        try:
            with open(path, encoding=fallback, newline="") as f:
                while f.read(CHUNK):
                    pass
        except UnicodeDecodeError as exc:
            raise SourceError(path, f"not readable as UTF-8 nor as the declared {fallback}: {exc.reason} "
                              f"at byte {exc.start}") from None
        return TableText(path, fallback)
    with open(path, "rb") as f:
        raw = f.read()
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8):]
    lines, bad = [], []
    for number, line in enumerate(raw.splitlines(keepends=True), start=1):
        try:
            lines.append(line.decode("utf-8"))
        except UnicodeDecodeError:
            bad.append(number)
            lines.append("\r\n" if line.endswith(b"\r\n") else "\n")   # keeps the line numbers of the rest
    return TableText(path, "utf-8", bad, "".join(lines))


def _valid_utf8(path: str) -> bool:
    """Whether the file is UTF-8, checked by Arrow's validator chunk by chunk (many times faster than
    decoding in Python: a 164 MB table in a few ten milliseconds). A chunk ends before a character
    that it would cut; the rest starts the next one."""
    import pyarrow as pa

    carry = b""
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            chunk = carry + chunk if carry else chunk
            cut = len(chunk)
            while cut > 0 and len(chunk) - cut < 4 and chunk[cut - 1] & 0xC0 == 0x80:
                cut -= 1                               # continuation bytes: back to the lead byte
            if cut > 0 and chunk[cut - 1] >= 0xC0:
                cut -= 1                               # a lead byte whose continuation is in the next chunk
            carry = chunk[cut:]
            try:
                pa.Array.from_buffers(pa.string(), 1, [None, pa.py_buffer(_offsets(cut)), pa.py_buffer(chunk[:cut])]
                                      ).validate(full=True)
            except pa.ArrowInvalid:
                return False
    if carry:
        try:
            carry.decode("utf-8")
        except UnicodeDecodeError:
            return False
    return True


def _offsets(n: int) -> bytes:
    import struct

    return struct.pack("<ii", 0, n)


def _decodes(path: str, encoding: str) -> bool:
    if encoding == "utf-8":
        return _valid_utf8(path)
    decoder = codecs.getincrementaldecoder(encoding)()
    with open(path, "rb") as f:
        try:
            while chunk := f.read(CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return False
    return True

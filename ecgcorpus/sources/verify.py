"""`ecgcorpus sources verify ROOT`: a release tree against the lists it ships.

``SHA256SUMS.txt`` (PTB-XL, MIMIC-IV-ECG: ``<sha256> <relative path>`` per line): every listed
file must exist and hash to its line. ``RECORDS`` (PhysioNet): every listed record must have its
header. Nothing is repaired; each problem is one line naming the file.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from ..console import progress_enabled
from ..errors import EcgCorpusError
from ..files import file_sha256

SUMS = "SHA256SUMS.txt"
RECORDS = "RECORDS"
_SUM_LINE = re.compile(r"^([0-9a-fA-F]{64})\s+\*?(.+?)\s*$")


@dataclass
class VerifyReport:
    root: str
    files_checked: int = 0
    records_checked: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)     # (file, problem)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return {"root": self.root, "ok": self.ok, "files_checked": self.files_checked,
                "records_checked": self.records_checked,
                "problems": [{"file": f, "problem": p} for f, p in self.problems]}


def verify_release(root: str) -> VerifyReport:
    report = VerifyReport(root)
    sums, records = os.path.join(root, SUMS), os.path.join(root, RECORDS)
    if not os.path.exists(sums) and not os.path.exists(records):
        raise EcgCorpusError(f"{root}: no {SUMS} or {RECORDS} to verify against")
    if os.path.exists(sums):
        _check_sums(root, sums, report)
    if os.path.exists(records):
        _check_records(root, records, report)
    return report


def _check_sums(root: str, sums: str, report: VerifyReport) -> None:
    with open(sums, encoding="utf-8", errors="replace") as f:
        lines = [line for line in f.read().splitlines() if line.strip()]
    bar = _bar(len(lines), f"verifying {SUMS}")
    for number, line in enumerate(lines, start=1):
        if bar is not None:
            bar.update()
        m = _SUM_LINE.match(line)
        if not m:
            report.problems.append((f"{sums}:{number}", f"malformed line {line[:80]!r}"))
            continue
        expected, rel = m.group(1).lower(), m.group(2)
        path = os.path.join(root, rel)
        report.files_checked += 1
        if not os.path.isfile(path):
            report.problems.append((path, f"missing (listed in {SUMS})"))
            continue
        got = file_sha256(path)
        if got != expected:
            report.problems.append((path, f"checksum mismatch ({SUMS} says {expected[:16]}…, data give {got[:16]}…)"))
    if bar is not None:
        bar.close()


def _check_records(root: str, records: str, report: VerifyReport) -> None:
    with open(records, encoding="utf-8", errors="replace") as f:
        names = [line.strip() for line in f.read().splitlines() if line.strip()]
    prefixes = {name.split("/", 1)[0] + "/" for name in names if "/" in name}
    for name in names:
        for record in _unglued(name, prefixes, root):
            report.records_checked += 1
            if not os.path.isfile(os.path.join(root, record + ".hea")):
                report.problems.append((os.path.join(root, record + ".hea"), f"missing record (listed in {RECORDS})"))


def _unglued(name: str, prefixes: set[str], root: str) -> list[str]:
    """PTB-XL 1.0.3's RECORDS glues two lines into one (``…21837_lrrecords500/00000/00001_hr``): a line
    that is no record but splits, at a folder prefix the file uses, into records that are, is two."""
    if os.path.isfile(os.path.join(root, name + ".hea")):
        return [name]
    for prefix in prefixes:
        cut = name.find(prefix, 1)
        if cut > 0:
            return [name[:cut], *_unglued(name[cut:], prefixes, root)]
    return [name]


def _bar(total: int, desc: str):
    if not progress_enabled() or total < 1000:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="file", dynamic_ncols=True)

"""Errors a user can act on. Each names the file (or field) at fault and the problem."""

from __future__ import annotations


class EcgCorpusError(Exception):
    """Base class: a user-level error, printed as one line by the CLI."""


class SourceError(EcgCorpusError):
    """A record (or metadata row) that cannot be read as released.

    The engine quarantines the record with ``reason`` and the build goes on.
    """

    def __init__(self, file: str, problem: str, record_id: str | None = None):
        self.file = str(file)
        self.problem = problem
        self.record_id = record_id
        where = f"{self.file}" + (f" [{record_id}]" if record_id else "")
        super().__init__(f"{where}: {problem}")

    @property
    def reason(self) -> str:
        return self.problem

    def to_dict(self) -> dict:
        return {"record_id": self.record_id, "file": self.file, "reason": self.problem}

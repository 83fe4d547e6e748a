"""Status lines for people: on stderr, so that stdout stays each command's own output."""

from __future__ import annotations

import sys


def announce(line: str) -> None:
    """One status line on stderr (stdout stays the command's own summary)."""
    print(line, file=sys.stderr, flush=True)

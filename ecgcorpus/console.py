"""Status lines and logging for people: on stderr, so that stdout stays each command's own output.

One verbosity for the whole process, set by the command line's ``-q`` / ``-v``: quiet shows only
errors, the default adds status lines and warnings, ``-v`` adds info logs (datatrove's included),
``-vv`` debug logs. Progress bars show on a terminal unless quiet.
"""

from __future__ import annotations

import logging
import sys
from contextlib import contextmanager

QUIET, NORMAL, VERBOSE, DEBUG = -1, 0, 1, 2
_LEVELS = {QUIET: logging.ERROR, NORMAL: logging.WARNING, VERBOSE: logging.INFO, DEBUG: logging.DEBUG}
_verbosity = NORMAL


def set_verbosity(verbosity: int) -> None:
    """Set the process's verbosity and route the ``ecgcorpus`` loggers to stderr at its level."""
    global _verbosity
    _verbosity = max(QUIET, min(DEBUG, verbosity))
    logger = logging.getLogger("ecgcorpus")
    if not any(getattr(h, "_ecgcorpus", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        handler._ecgcorpus = True
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(log_level())


def verbosity() -> int:
    return _verbosity


def log_level() -> int:
    return _LEVELS[_verbosity]


def progress_enabled(requested: bool | None = None) -> bool:
    """A progress bar when asked, else on a terminal unless quiet."""
    if requested is not None:
        return requested
    return _verbosity > QUIET and sys.stderr.isatty()


def announce(line: str) -> None:
    """One status line on stderr (stdout stays the command's own summary); silent when quiet."""
    if _verbosity > QUIET:
        print(line, file=sys.stderr, flush=True)


class ProgressCounter:
    """A running count on a terminal (``progress_counter``): ``tick()`` once per item, or
    ``reached(n)`` for work counted at its end (a table read at once)."""

    def __init__(self, bar, every: int):
        self.bar, self.every, self.count = bar, every, 0

    def tick(self) -> None:
        self.count += 1
        if self.bar is not None and self.count % self.every == 0:
            self.bar.update(self.count - self.bar.n)

    def reached(self, n: int) -> None:
        self.count = max(self.count, n)           # the bar shows it when the counter closes


@contextmanager
def progress_counter(desc: str, every: int = 1000):
    """A running count on a terminal, a no-op elsewhere: yields a ``ProgressCounter``; the bar moves every
    ``every`` ticks."""
    counter = ProgressCounter(progress_bar(None, desc), every)
    try:
        yield counter
    finally:
        if counter.bar is not None:
            counter.bar.update(counter.count - counter.bar.n)
            counter.bar.close()


def progress_bar(total: int | None, desc: str, min_total: int = 1000):
    """A tqdm bar on a terminal for long loops (``total`` None: a running count), else None.
    Callers update it in batches: a per-record update costs seconds over 800k records."""
    if not progress_enabled() or (total is not None and total < min_total):
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="rec", dynamic_ncols=True, mininterval=0.5)

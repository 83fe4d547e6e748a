"""The localization answer grammar (anyECG): ``Duration: 0.4s-3.7s, 4.6s-9.3s`` or ``No {name} Found``.

Rule (verified by the anyECG notes on 155 windows of MIT-BIH record 100): every target beat inside
the window [start, stop) becomes the interval from the preceding *beat* to the following *beat*;
intervals are expressed in seconds from the window start, clipped to [0, window length], merged
where they overlap or touch, and printed with one decimal. Non-beat annotations (``+`` rhythm
change, ``~`` signal quality, …) are not beats and are skipped as neighbours: callers pass beat
samples only. A target beat without a neighbour on one side (first/last beat of the record)
extends to the window edge on that side.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

DURATION_PREFIX = "Duration: "


@dataclass(frozen=True)
class Localization:
    """One window's answer and what it was computed from."""

    answer: str
    intervals_s: list[list[float]]                 # as printed (one decimal)
    events: list[int] = field(default_factory=list)  # target event samples, relative to the window start

    @property
    def positive(self) -> bool:
        return bool(self.intervals_s)


def merge_intervals(intervals) -> list[tuple[int, int]]:
    """Sort and merge intervals that overlap or touch (end == next start)."""
    out: list[list[int]] = []
    for a, b in sorted((int(a), int(b)) for a, b in intervals):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def beat_intervals(beat_samples, is_target, start: int, stop: int) -> list[tuple[int, int]]:
    """[previous beat, next beat] of each target beat in [start, stop), in absolute samples, clipped, merged.

    ``beat_samples`` are ascending beat positions (beats only), ``is_target`` flags the beats asked for.
    """
    samples = np.asarray(beat_samples, dtype=np.int64)
    target = np.asarray(is_target, dtype=bool)
    inside = np.flatnonzero(target & (samples >= start) & (samples < stop))
    spans = []
    for i in inside:
        before = int(samples[i - 1]) if i > 0 else start
        after = int(samples[i + 1]) if i + 1 < samples.size else stop
        spans.append((max(before, start), min(after, stop)))
    return merge_intervals(spans)


def episode_intervals(episodes, start: int, stop: int) -> list[tuple[int, int]]:
    """Episodes [onset, end) clipped to the window [start, stop), merged; episodes outside are dropped."""
    spans = [(max(int(a), start), min(int(b), stop)) for a, b in episodes if int(b) > start and int(a) < stop]
    return merge_intervals(spans)


def round_tenth(x: float) -> float:
    """anyECG's rounding, ``numpy.round(x, 1)``: scale by 10 in binary, then round half to even.
    It differs from ``f"{x:.1f}"`` at ties: 918/360 s (2.55) gives 2.6, where formatting gives 2.5."""
    return float(np.round(x * 10.0) / 10.0)


def format_seconds(x: float) -> str:
    text = f"{round_tenth(x):.1f}"
    return "0.0" if text == "-0.0" else text


def format_answer(intervals_s, name: str) -> str:
    """``Duration: a s-b s, …`` (one decimal), or ``No {name} Found`` when there is no interval."""
    if not intervals_s:
        return f"No {name} Found"
    return DURATION_PREFIX + ", ".join(f"{format_seconds(a)}s-{format_seconds(b)}s" for a, b in intervals_s)


def localize(spans, start: int, stop: int, fs: float, name: str, events=()) -> Localization:
    """The answer for absolute-sample ``spans`` (already clipped and merged) in the window [start, stop)."""
    seconds = [[float(format_seconds((a - start) / fs)), float(format_seconds((b - start) / fs))] for a, b in spans]
    return Localization(format_answer(seconds, name), seconds, [int(e) - start for e in events])

"""Localization answers from reference annotations (MIT-BIH family): beats and rhythm episodes."""

from __future__ import annotations

import numpy as np

from ..sources.annotated import Annotations
from .answer import Localization, beat_intervals, episode_intervals, localize
from .codes import beat_name, is_beat, rhythm_name


def beats_only(ann: Annotations) -> tuple[np.ndarray, np.ndarray]:
    """Samples and symbols of the beat annotations (non-beat codes such as ``+`` and ``~`` dropped)."""
    keep = np.fromiter((is_beat(s) for s in ann.symbol), dtype=bool, count=len(ann.symbol))
    return ann.sample[keep], np.asarray(ann.symbol, dtype=object)[keep]


def locate_beats(ann: Annotations, symbol: str, start: int, stop: int) -> Localization:
    """The answer for beat type ``symbol`` in the window [start, stop) of the annotated record."""
    name = beat_name(symbol)
    samples, symbols = beats_only(ann)
    target = symbols == symbol
    spans = beat_intervals(samples, target, start, stop)
    events = samples[target & (samples >= start) & (samples < stop)]
    return localize(spans, start, stop, ann.fs, name, events)


def rhythm_episodes(ann: Annotations, n_samples: int) -> list[tuple[str, int, int]]:
    """(rhythm code without '(', onset, end) of every episode: a rhythm annotation (aux ``(AFIB``)
    lasts until the next one, the last one until the record's end."""
    # only rhythm annotations ('+'): edb's ST and T episode marks ('s'/'T', aux "(ST0+") also open with "("
    marks = [(int(s), aux.strip()) for s, sym, aux in zip(ann.sample, ann.symbol, ann.aux_note)
             if sym == "+" and aux.strip().startswith("(")]
    episodes = []
    for k, (onset, aux) in enumerate(marks):
        end = marks[k + 1][0] if k + 1 < len(marks) else n_samples
        if end > onset:
            episodes.append((aux[1:], onset, end))
    return episodes


def locate_rhythm(ann: Annotations, code: str, start: int, stop: int, n_samples: int) -> Localization:
    """The answer for rhythm ``code`` (e.g. AFIB): its episodes within [start, stop)."""
    code = code.lstrip("(")
    name = rhythm_name(code)
    episodes = [(a, b) for c, a, b in rhythm_episodes(ann, n_samples) if c == code]
    spans = episode_intervals(episodes, start, stop)
    return localize(spans, start, stop, ann.fs, name, [a for a, _ in spans])

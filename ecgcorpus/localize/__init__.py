"""Localization: where in an ECG window are the beats or rhythm episodes asked for (anyECG grammar).

``answer`` writes ``Duration: 0.4s-3.7s, 4.6s-9.3s`` / ``No {name} Found``; ``score`` reads it back
(``parse_answer``) and scores it (``interval_iou``); ``codes`` is PhysioNet's annotation table;
``annotated`` answers from reference annotations, ``detect`` finds beats in unannotated records,
``windows`` places windows, ``compose`` joins pieces into rhythm-episode strips.
"""

from .answer import Localization, beat_intervals, episode_intervals, format_answer, merge_intervals
from .codes import beat_name, is_beat, rhythm_name
from .score import interval_iou, parse_answer

__all__ = ["Localization", "beat_intervals", "beat_name", "episode_intervals", "format_answer", "interval_iou",
           "is_beat", "merge_intervals", "parse_answer", "rhythm_name"]

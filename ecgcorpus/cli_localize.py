"""`ecgcorpus localize`: the localization answer for windows of beat-annotated WFDB records."""

from __future__ import annotations

import json
import os

import click

from .cli_common import UserError, user_errors


@click.command("localize")
@click.argument("record", required=False)
@click.option("--start", type=int, help="first sample of the window (record's native rate)")
@click.option("--end", type=int, help="end of the window, exclusive (native samples)")
@click.option("--beat", "symbol", default=None,
              help="beat annotation code, e.g. A, V, L, R, S (PhysioNet's table); or use --rhythm")
@click.option("--rhythm", default=None, help="rhythm annotation code instead of a beat, e.g. AFIB")
@click.option("--windows", "windows_path", type=click.Path(dir_okay=False, exists=True),
              help="JSON Lines of windows to answer in one process: {record, start, end, beat|rhythm} per line; "
                   "prints one JSON answer per line")
@click.option("--profile", type=click.Choice(["default", "anyecg"]), default="default", show_default=True,
              help="answer profile (both write anyECG's grammar: 'Duration: 0.4s-3.7s, …' / 'No … Found')")
@click.option("--annotator", default="atr", show_default=True, help="annotation file extension")
@click.option("--json", "as_json", is_flag=True, help="print the answer with its intervals and window as JSON")
@user_errors
def localize(record: str | None, start: int | None, end: int | None, symbol: str | None, rhythm: str | None,
             windows_path: str | None, profile: str, annotator: str, as_json: bool) -> None:
    """Print the localization answer for window [--start, --end) of RECORD, exactly as the corpus holds it.

    RECORD is a WFDB record path without extension (e.g. mitdb/100), with its header and annotation
    file beside it. Every --beat in the window becomes the interval from the preceding to the
    following annotated beat (non-beat annotations such as + and ~ are skipped), in seconds from the
    window start, clipped to the window, one decimal as numpy.round(x, 1) gives it (anyECG's
    rounding), overlapping intervals merged. --windows answers a whole file of windows (e.g. a
    released evaluation set) in one process, reading each record's annotations once.
    """
    cache: dict = {}
    if windows_path:
        with open(windows_path, encoding="utf-8") as f:
            for number, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    w = json.loads(line)
                    answer = answer_window(w["record"], int(w["start"]), int(w["end"]), w.get("beat"),
                                           w.get("rhythm"), annotator, cache)
                except (ValueError, KeyError, TypeError) as exc:
                    raise UserError(f"{windows_path}:{number}: {exc}") from None
                except UserError as exc:
                    raise UserError(f"{windows_path}:{number}: {exc.message}") from None
                click.echo(json.dumps({**answer, "profile": profile}))
        return
    if record is None or start is None or end is None:
        raise UserError("give RECORD --start --end (or --windows FILE)")
    answer = answer_window(record, start, end, symbol, rhythm, annotator, cache)
    click.echo(json.dumps({**answer, "profile": profile}) if as_json else answer["answer"])


def answer_window(record: str, start: int, end: int, symbol: str | None, rhythm: str | None, annotator: str,
                  cache: dict) -> dict:
    from .localize.annotated import locate_beats, locate_rhythm
    from .localize.codes import beat_name, rhythm_name
    from .sources.annotated import read_annotations
    from .sources.wfdb_io import read_header

    if (symbol is None) == (rhythm is None):
        raise UserError("give exactly one of a beat symbol or a rhythm code")
    name = beat_name(symbol) if symbol is not None else rhythm_name(rhythm)  # unknown codes: one-line error
    if record not in cache:
        header = f"{record}.hea"
        if not os.path.exists(header):
            raise UserError(f"{header}: no WFDB header (RECORD is the record path without extension)")
        cache[record] = (read_header(header).n_samples, read_annotations(record, annotator))
    n_samples, ann = cache[record]
    if not 0 <= start < end <= n_samples:
        raise UserError(f"{record}: window [{start}, {end}) must satisfy 0 <= start < end <= {n_samples} "
                        "(the record's length)")
    loc = locate_beats(ann, symbol, start, end) if symbol is not None else locate_rhythm(ann, rhythm, start, end,
                                                                                          n_samples)
    return {"record": record, "answer": loc.answer, "intervals": loc.intervals_s, "events": loc.events,
            "abnormal_type": symbol if symbol is not None else f"({rhythm.lstrip('(')}", "abnormal_name": name,
            "ecg_start": start, "ecg_end": end, "fs": ann.fs}

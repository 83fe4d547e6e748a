"""`ecgcorpus localize`: the localization answer for one window of a beat-annotated WFDB record."""

from __future__ import annotations

import json
import os

import click

from .cli_common import UserError, user_errors


@click.command("localize")
@click.argument("record")
@click.option("--start", type=int, required=True, help="first sample of the window (record's native rate)")
@click.option("--end", type=int, required=True, help="end of the window, exclusive (native samples)")
@click.option("--beat", "symbol", default=None,
              help="beat annotation code, e.g. A, V, L, R, S (PhysioNet's table); or use --rhythm")
@click.option("--rhythm", default=None, help="rhythm annotation code instead of a beat, e.g. AFIB")
@click.option("--profile", type=click.Choice(["default", "anyecg"]), default="default", show_default=True,
              help="answer profile (both write anyECG's grammar: 'Duration: 0.4s-3.7s, …' / 'No … Found')")
@click.option("--annotator", default="atr", show_default=True, help="annotation file extension")
@click.option("--json", "as_json", is_flag=True, help="print the answer with its intervals and window as JSON")
@user_errors
def localize(record: str, start: int, end: int, symbol: str | None, rhythm: str | None, profile: str,
             annotator: str, as_json: bool) -> None:
    """Print the localization answer for window [--start, --end) of RECORD, exactly as the corpus holds it.

    RECORD is a WFDB record path without extension (e.g. mitdb/100), with its header and annotation
    file beside it. Every --beat in the window becomes the interval from the preceding to the
    following annotated beat (non-beat annotations such as + and ~ are skipped), in seconds from the
    window start, clipped to the window, one decimal, overlapping intervals merged.
    """
    from .localize.annotated import locate_beats, locate_rhythm
    from .localize.codes import beat_name, rhythm_name
    from .sources.annotated import read_annotations
    from .sources.wfdb_io import read_header

    if (symbol is None) == (rhythm is None):
        raise UserError("give exactly one of --beat SYMBOL or --rhythm CODE")
    name = beat_name(symbol) if symbol is not None else rhythm_name(rhythm)  # unknown codes: one-line error
    header = f"{record}.hea"
    if not os.path.exists(header):
        raise UserError(f"{header}: no WFDB header (RECORD is the record path without extension)")
    n_samples = read_header(header).n_samples
    if not 0 <= start < end <= n_samples:
        raise UserError(f"{record}: window [{start}, {end}) must satisfy 0 <= start < end <= {n_samples} "
                        "(the record's length)")
    ann = read_annotations(record, annotator)
    if symbol is not None:
        loc = locate_beats(ann, symbol, start, end)
    else:
        loc = locate_rhythm(ann, rhythm, start, end, n_samples)
    if as_json:
        click.echo(json.dumps({"answer": loc.answer, "intervals": loc.intervals_s, "events": loc.events,
                               "abnormal_type": symbol if symbol is not None else f"({rhythm.lstrip('(')}",
                               "abnormal_name": name, "ecg_start": start, "ecg_end": end, "fs": ann.fs,
                               "profile": profile}))
    else:
        click.echo(loc.answer)

"""`ecgcorpus audit` and `ecgcorpus show`: look at a built corpus."""

from __future__ import annotations

import json
import sys

import click

from .cli_common import user_errors


@click.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False), help="Also write an HTML report with plots.")
@click.option("--samples", default=12, show_default=True, help="Rendered samples in the HTML sheet.")
@click.option("--strict", is_flag=True, help="Exit 1 if any error-level finding.")
@user_errors
def audit(directory: str, as_json: bool, html_path: str | None, samples: int, strict: bool):
    """Check a built corpus: schema, lock hashes, counts, leakage, duplicates, placeholders, LLM output, PHI."""
    from .audit import audit_corpus
    from .audit.render import print_report, write_html

    report = audit_corpus(directory)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        print_report(report)
    if html_path:
        write_html(report, html_path, _sheet(directory, samples), report.lengths)
        if not as_json:
            click.echo(f"HTML report: {html_path}")
    if strict and report.errors:
        sys.exit(1)


def _sheet(directory: str, n: int) -> list[dict]:
    """The first samples of each config, round robin, for the HTML sample sheet."""
    from .corpus import Corpus

    corpus = Corpus(directory)
    per_config: dict[str, list[dict]] = {}
    for shard in corpus.shards():
        bucket = per_config.setdefault(shard.config, [])
        for batch in corpus.batches(shard):
            if len(bucket) >= n:
                break
            bucket.extend(batch.to_pylist()[: n - len(bucket)])
    out = []
    while len(out) < n and any(per_config.values()):
        for bucket in per_config.values():
            if bucket and len(out) < n:
                out.append(bucket.pop(0))
    return out


@click.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@click.argument("sample_id")
@click.option("--png", "png_path", type=click.Path(dir_okay=False), help="Write a plot of the ECGs (or the image).")
@user_errors
def show(directory: str, sample_id: str, png_path: str | None):
    """Print one sample's conversation (and metadata); --png plots its ECGs or writes its image."""
    from .corpus import Corpus
    from .plot import sample_png

    shard, row = Corpus(directory).find(sample_id)
    click.echo(f"{row['id']}  task={row['task']}  split={row['split']}  shard={shard.relpath}")
    for ecg in row["ecgs"]:
        click.echo(f"  ecg {ecg['record_id']} ({ecg['source']}, patient {ecg['patient_id'] or '-'}) "
                   f"{ecg['fs']:g} Hz, leads {' '.join(ecg['leads'])}, samples {ecg['start']}–{ecg['stop']}")
    for image in row["images"]:
        click.echo(f"  image {image.get('path') or ''} ({len(image['bytes'])} bytes)")
    for turn in row["conversations"]:
        click.echo(f"[{turn['from']}] {turn['value']}")
    click.echo(f"meta: {row['meta']}")
    if png_path:
        with open(png_path, "wb") as f:
            f.write(sample_png(row))
        click.echo(f"wrote {png_path}")

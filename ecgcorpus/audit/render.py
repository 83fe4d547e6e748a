"""Audit output: a rich table on a terminal, JSON, and an HTML report with plots and a sample sheet."""

from __future__ import annotations

import base64
import html
import io
import json

from .checks import AuditReport

_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def print_report(report: AuditReport, console=None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    stats = report.stats
    console.print(f"[bold]{report.root}[/bold]: {stats['samples']} samples, {stats['records']} records, "
                  f"{stats['patients']} patients")
    counts = Table(title="Samples", show_lines=False)
    counts.add_column("by")
    counts.add_column("counts")
    for key in ("by_config", "by_task", "by_split", "by_source"):
        counts.add_row(key[3:], ", ".join(f"{k} {v}" for k, v in sorted(stats[key].items())))
    counts.add_row("question chars", _fmt(stats["question_chars"]))
    counts.add_row("answer chars", _fmt(stats["answer_chars"]))
    top = list(stats["labels"].items())[:8]
    counts.add_row("top labels", ", ".join(f"{k} {v}" for k, v in top) or "-")
    quarantine = stats.get("quarantine") or {}
    if quarantine.get("total"):
        reasons = list(quarantine["by_reason"].items())[:6]
        counts.add_row(f"quarantined ({quarantine['total']})", "; ".join(f"{k} ×{v}" for k, v in reasons))
    console.print(counts)
    findings = Table(title="Findings")
    for col in ("level", "check", "count", "what", "example"):
        findings.add_column(col)
    for f in report.findings:
        findings.add_row(f"[{_STYLE[f.level]}]{f.level}[/]", f.code, str(f.count), f.message,
                         json.dumps(f.examples[0], ensure_ascii=False)[:80] if f.examples else "")
    if not report.findings:
        findings.add_row("[green]ok[/]", "-", "0", "no findings", "")
    console.print(findings)
    verdict = "[bold red]FAIL[/]" if report.errors else "[bold green]PASS[/]"
    console.print(f"{verdict}: {len(report.errors)} error-level finding(s)")


def _fmt(d: dict) -> str:
    return "-" if not d.get("n") else f"mean {d['mean']}, p50 {d['p50']}, p95 {d['p95']}, max {d['max']}"


def _png_tag(png: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _bar_png(items: list[tuple[str, int]], title: str) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 0.3 * max(len(items), 3) + 1))
    names = [k[:40] for k, _ in items][::-1]
    ax.barh(names, [v for _, v in items][::-1], color="tab:blue")
    ax.set_title(title, fontsize=10)
    ax.tick_params(labelsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()


def _hist_png(values: list[int], title: str) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 2.6))
    ax.hist(values, bins=30, color="tab:green")
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("characters", fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()


def write_html(report: AuditReport, path: str, samples: list[dict], lengths: dict[str, list[int]]) -> None:
    """A standalone HTML file: verdict, counts, findings, plots, and a sheet of rendered samples."""
    from ..plot import sample_png

    stats = report.stats
    parts = [
        "<!doctype html><meta charset='utf-8'><title>ecgcorpus audit</title>",
        "<style>body{font-family:system-ui,sans-serif;margin:24px;max-width:1200px}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;font-size:13px;vertical-align:top}"
        ".error{color:#b00;font-weight:bold}.warning{color:#a60}.info{color:#06a}.pass{color:#080}"
        ".sample{border:1px solid #ddd;margin:12px 0;padding:8px}.turn{white-space:pre-wrap;font-size:13px}"
        "img{max-width:100%}</style>",
        f"<h1>Audit of {html.escape(report.root)}</h1>",
        f"<p class='{'error' if report.errors else 'pass'}'>{'FAIL' if report.errors else 'PASS'}: "
        f"{len(report.errors)} error-level finding(s) · {stats['samples']} samples · {stats['records']} records · "
        f"{stats['patients']} patients</p>",
        "<h2>Counts</h2><table>",
    ]
    for key in ("by_config", "by_task", "by_split", "by_source"):
        parts.append(f"<tr><th>{key[3:]}</th><td>{html.escape(', '.join(f'{k}: {v}' for k, v in sorted(stats[key].items())))}</td></tr>")
    parts.append("</table><h2>Findings</h2><table><tr><th>level</th><th>check</th><th>count</th><th>what</th><th>examples</th></tr>")
    for f in report.findings:
        ex = "<br>".join(html.escape(json.dumps(e, ensure_ascii=False)[:200]) for e in f.examples)
        parts.append(f"<tr><td class='{f.level}'>{f.level}</td><td>{f.code}</td><td>{f.count}</td>"
                     f"<td>{html.escape(f.message)}</td><td>{ex}</td></tr>")
    if not report.findings:
        parts.append("<tr><td class='pass' colspan=5>no findings</td></tr>")
    parts.append("</table><h2>Plots</h2>")
    labels = list(stats["labels"].items())[:25]
    if labels:
        parts.append(_png_tag(_bar_png(labels, "label distribution (top 25)"), "label distribution"))
    for name, values in lengths.items():
        if values:
            parts.append(_png_tag(_hist_png(values, f"{name} length"), f"{name} length"))
    parts.append("<h2>Samples</h2>")
    for row in samples:
        turns = "".join(f"<div class='turn'><b>{html.escape(t['from'])}:</b> {html.escape(t['value'])}</div>"
                        for t in row["conversations"])
        parts.append(f"<div class='sample'><div><code>{row['id']}</code> · {html.escape(row['task'])} · "
                     f"{html.escape(row['split'])}</div>{turns}{_png_tag(sample_png(row, dpi=70), row['id'])}</div>")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(parts))

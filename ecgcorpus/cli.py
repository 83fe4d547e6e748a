"""The `ecgcorpus` command line (contract: docs in README, "Command line")."""

from __future__ import annotations

import json
import sys

import click

from . import __version__
from .cli_common import UserError, complete_sources, user_errors


@click.group()
@click.version_option(__version__, prog_name="ecgcorpus")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.option("--verbose", "-v", count=True, help="More log lines on stderr (-v: info, datatrove's too; -vv: debug).")
@click.option("--quiet", "-q", is_flag=True, help="Only errors on stderr: no status lines, no progress bars.")
def main(debug: bool, verbose: int, quiet: bool):
    """Build instruction-tuning corpora for ECG language models from public ECG databases.

    Shell completion (commands, options, source names, config names):
    eval "$(_ECGCORPUS_COMPLETE=bash_source ecgcorpus)" (zsh_source, fish_source for those shells)."""
    from .console import QUIET, set_verbosity

    set_verbosity(QUIET if quiet else verbose)


# --- fixtures ------------------------------------------------------------------------------------

@main.group()
def fixtures():
    """Synthetic, format-exact miniatures of the source databases."""


@fixtures.command("write")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--records", "-n", default=20, show_default=True, help="Records per source database.")
@click.option("--seed", "-s", default=0, show_default=True, help="Random seed (same seed, same bytes).")
@user_errors
def fixtures_write(directory: str, records: int, seed: int):
    """Write a miniature of every source database under DIRECTORY/{ptbxl,mimic-iv-ecg,chapman,...}."""
    from .fixtures import write_fixtures

    if records < 1:
        raise UserError("--records must be at least 1")
    written = write_fixtures(directory, records=records, seed=seed)
    for name, path in written.items():
        click.echo(f"{name:18s} {path}")


# --- sources -------------------------------------------------------------------------------------

@main.group()
def sources():
    """Inspect the source databases: list, scan, read."""


def _parse_options(options: tuple[str, ...]) -> dict:
    parsed = {}
    for item in options:
        key, sep, value = item.partition("=")
        if not sep:
            raise UserError(f"--option {item!r}: expected KEY=VALUE")
        parsed[key] = int(value) if value.lstrip("-").isdigit() else value
    return parsed


_source_options = click.option(
    "--option", "-o", "options", multiple=True, metavar="KEY=VALUE",
    help="Source option, e.g. -o rate=100 for PTB-XL.",
)


@sources.command("list")
def sources_list():
    """The sources ecgcorpus knows, with the layout each expects under its ROOT."""
    from .sources import SOURCES, source_class

    for name in SOURCES:
        cls = source_class(name)
        click.echo(f"{name}  —  {cls.title}  [{cls.license}]")
        for line in cls.layout.splitlines():
            click.echo(f"    {line}")


@sources.command("scan")
@click.argument("source", shell_complete=complete_sources)
@click.argument("root", type=click.Path(exists=True, file_okay=False))
@click.option("--limit", type=int, default=None, help="Stop after N records.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@_source_options
@user_errors
def sources_scan(source: str, root: str, limit: int | None, as_json: bool, options: tuple[str, ...]):
    """One line per record of SOURCE under ROOT: id, patient, fs, samples, leads, labels, report."""
    from .sources import open_source

    src = open_source(source, root, **_parse_options(options))
    count = 0
    for ref in src.scan():
        if limit is not None and count >= limit:
            break
        count += 1
        if as_json:
            click.echo(json.dumps(_ref_json(ref), ensure_ascii=False))
        else:
            labels = ",".join(lab.code for lab in ref.labels) or "-"
            report = (ref.report or "").replace("\n", " | ")
            click.echo(f"{ref.record_id}\t{ref.patient_id or '-'}\t{ref.fs:g}\t{ref.n_samples}\t"
                       f"{' '.join(ref.leads)}\t{labels}\t{report[:80]}")
    for err in src.errors:
        click.echo(f"error: {err}", err=True)
    if src.errors:
        click.echo(f"{count} records, {len(src.errors)} unreadable (listed above)", err=True)


def _ref_json(ref) -> dict:
    d = ref.to_dict()
    d["snomed"] = list(ref.snomed_codes)
    return d


@sources.command("verify")
@click.argument("root", type=click.Path(exists=True, file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON document.")
@click.option("--max-lines", default=50, show_default=True, help="Problems printed (all are counted).")
@user_errors
def sources_verify(root: str, as_json: bool, max_lines: int):
    """Check a release tree against its own SHA256SUMS.txt and RECORDS (exit 1 on any problem)."""
    from .sources.verify import verify_release

    report = verify_release(root)
    if as_json:
        click.echo(json.dumps(report.to_dict()))
    else:
        for file, problem in report.problems[:max_lines]:
            click.echo(f"{file}: {problem}")
        more = len(report.problems) - max_lines
        click.echo((f"… and {more} more\n" if more > 0 else "") +
                   f"{root}: {report.files_checked} files checked against SHA256SUMS.txt, {report.records_checked} "
                   f"records against RECORDS: {len(report.problems)} problem(s)")
    if not report.ok:
        sys.exit(1)


@sources.command("read")
@click.argument("source", shell_complete=complete_sources)
@click.argument("root", type=click.Path(exists=True, file_okay=False))
@click.argument("record_id")
@click.option("--npy", type=click.Path(dir_okay=False), help="Write the signal (float32 mV, leads × samples) here.")
@_source_options
@user_errors
def sources_read(source: str, root: str, record_id: str, npy: str | None, options: tuple[str, ...]):
    """Print one record's metadata as JSON; with --npy also write its signal."""
    import numpy as np

    from .sources import open_source

    src = open_source(source, root, **_parse_options(options))
    ref = src.get(record_id)
    ecg = src.load(ref)
    info = _ref_json(ref)
    info["signal"] = {
        "leads": list(ecg.leads), "fs": ecg.fs, "n_samples": ecg.n_samples, "units": ecg.units,
        "native_dtype": ecg.native_dtype,
        "gain": None if ecg.gain is None else [float(g) for g in ecg.gain],
        "nan_runs": [{"lead": lead, "start": a, "stop": b} for lead, a, b in ecg.nan_runs()],
    }
    if npy:
        np.save(npy, ecg.signal.astype(np.float32))
        info["signal"]["npy"] = npy
    click.echo(json.dumps(info, ensure_ascii=False, indent=2))



# --- labels -------------------------------------------------------------------------------------

@main.group()
def labels():
    """Label vocabularies: how a source's statements map to SNOMED CT."""


@labels.command("map")
@click.argument("source", shell_complete=complete_sources)
@user_errors
def labels_map(source: str):
    """Read statement lines on stdin; print one JSON object per line: text, labels, kind."""
    from .statements import map_statement

    if source != "mimic":
        raise UserError(f"no statement mapper for {source!r}: `labels map` reads MIMIC-IV-ECG machine statements "
                        "(the other sources ship coded labels)")
    for line in sys.stdin:
        if line.strip():
            click.echo(json.dumps(map_statement(line.rstrip("\n")).to_dict(), ensure_ascii=False))


# --- build ---------------------------------------------------------------------------------------

@main.command()
@click.argument("manifest", type=click.Path(dir_okay=False))
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Output directory (default: the manifest's).")
@click.option("--workers", "-j", type=int, default=None, help="Worker processes (default: CPU cores).")
@click.option("--executor", type=click.Choice(["local", "datatrove"]), default="local", show_default=True)
@click.option("--resume/--no-resume", default=True, show_default=True,
              help="Reuse finished shards of the same manifest; --no-resume deletes the output and starts over.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON document (also when it fails).")
@click.option("--dry-run", is_flag=True, help="Plan only: records, missing files, items per config and split, "
              "shards, estimated size. Builds nothing, writes nothing.")
@click.option("--wait", is_flag=True, help="Slurm (--executor datatrove, cluster.backend: slurm): wait for the job "
              "and finalize. Without it the build submits, exits 0, and a second run finalizes.")
@user_errors
def build(manifest: str, out_dir: str | None, workers: int | None, executor: str, resume: bool, as_json: bool,
          dry_run: bool, wait: bool):
    """Build the corpus MANIFEST describes (sharded Parquet, lock file, dataset card, quarantine).

    Exit 1 when a config ends with no samples or quarantines more than output.max_quarantine_rate
    of its work items (the output is written all the same), or when a unit fails on a bug."""
    from .engine.build import BuildIncomplete
    from .engine.build import build as run_build
    from .manifest import load_manifest

    spec = load_manifest(manifest, out_dir=out_dir)
    if workers is not None and workers < 1:
        raise UserError("--workers must be at least 1")
    if dry_run:
        from .engine.dry_run import dry_run as plan_only
        from .engine.dry_run import dry_run_lines

        report = plan_only(spec)
        click.echo(json.dumps(report) if as_json else "\n".join(dry_run_lines(report)))
        return
    from .engine.submission import Submitted

    try:
        summary = run_build(spec, workers=workers, resume=resume, executor=executor, wait=wait)
    except Submitted as exc:
        again = f"ecgcorpus build {manifest} --executor datatrove" + (f" --out {out_dir}" if out_dir else "")
        if as_json:
            click.echo(json.dumps({"ok": True, "submitted": exc.tasks - exc.done, "tasks": exc.tasks,
                                   "job_id": exc.job_id, "finalize": again}))
        else:
            click.echo(f"{exc}; run `{again}` again to finalize (or add --wait)")
        return
    except BuildIncomplete as exc:
        if as_json:
            click.echo(json.dumps(exc.summary.to_dict()))
        else:
            for line in exc.summary.lines()[:-len(exc.summary.problems)]:
                click.echo(line, err=True)
        raise UserError("build incomplete (output written, but): " + "; ".join(exc.summary.problems)) from None
    if as_json:
        click.echo(json.dumps(summary.to_dict()))
        return
    lines = summary.lines()
    if sys.stdout.isatty():
        for line in lines:
            click.echo(line)
    else:
        total = sum(summary.samples.values())
        click.echo(f"built {total} samples ({', '.join(f'{c}/{s} {n}' for (c, s), n in sorted(summary.samples.items()))}); "
                   f"quarantined {summary.quarantined}; {'resumed' if summary.resumed else 'fresh build'}; "
                   f"output {summary.out_dir}"
                   + (f"; skipped: {', '.join(summary.skipped)}" if summary.skipped else "")
                   + "".join(f"; {c}: " + ", ".join(f"{k} {v:g}" for k, v in t.items()) for c, t in summary.stats.items()))

# --- commands that live beside their subsystem (ecgcorpus/cli_*.py) --------------------------------
# Each module defines one click command or group; listed here so `ecgcorpus --help` shows them all.
_SUBCOMMANDS = (
    "ecgcorpus.cli_synth:synth",
    "ecgcorpus.cli_localize:localize",
    "ecgcorpus.cli_audit:audit",
    "ecgcorpus.cli_audit:show",
    "ecgcorpus.cli_export:export",
    "ecgcorpus.cli_export:push",
    "ecgcorpus.llm.cli:llm",
)


def _register_subcommands() -> None:
    import importlib

    for target in _SUBCOMMANDS:
        module, name = target.split(":")
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name == module:  # that subsystem is not part of this version
                continue
            raise
        main.add_command(getattr(mod, name))


_register_subcommands()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""`ecgcorpus export` and `ecgcorpus push`."""

from __future__ import annotations

import click

from .cli_common import user_errors


@click.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@click.option("--format", "fmt", type=click.Choice(["llava", "anyecg", "meit", "sharegpt"]), required=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True,
              help="Folder for {config}_{split}.json(l), ecgs/ and images/ (paths in the files are relative to it).")
@click.option("--signals", type=click.Choice(["npy", "wfdb"]), default="npy", show_default=True,
              help="ECG files: float32 mV .npy (leads × samples) or WFDB records.")
@user_errors
def export(directory: str, fmt: str, out_dir: str, signals: str):
    """Write the corpus in a trainer's format (LLaVA JSON, anyECG JSON, MEIT JSONL, ShareGPT/LLaMA-Factory)."""
    from .export import export_corpus

    for name, n in export_corpus(directory, fmt, out_dir, signals).items():
        click.echo(f"{name}: {n} records")


@click.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@click.argument("repo_id")
@click.option("--private", is_flag=True, help="Create the dataset repository as private.")
@click.option("--dry-run", is_flag=True, help="Print exactly what would be uploaded, upload nothing.")
@click.option("--force", is_flag=True, help="Replace a different build already in the repository.")
@user_errors
def push(directory: str, repo_id: str, private: bool, dry_run: bool, force: bool):
    """Publish DIRECTORY to the Hugging Face Hub as dataset REPO_ID (token from HF_TOKEN)."""
    from .export.push import push as run_push
    from .export.push import upload_plan

    if dry_run:
        plan = upload_plan(directory)
        for item in plan:
            click.echo(f"{item.size:>12,d}  {item.path}")
        click.echo(f"would upload {len(plan)} files ({sum(u.size for u in plan):,d} bytes) to "
                   f"datasets/{repo_id}{' (private)' if private else ''}")
        return
    click.echo(f"pushed: {run_push(directory, repo_id, private=private, force=force)}")

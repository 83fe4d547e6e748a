"""`ecgcorpus export` and `ecgcorpus push`."""

from __future__ import annotations

import click

from .cli_common import user_errors


@click.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@click.option("--format", "fmt", type=click.Choice(["llava", "sharegpt", "anyecg", "meit", "ecgchat", "pulse"]), required=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True,
              help="Folder for {config}_{split}.json(l) and the ECG/image files (paths in the files are relative to it).")
@click.option("--signals", type=click.Choice(["npy", "wfdb", "link", "copy", "source"]), default=None,
              help="ECG files. llava/sharegpt: npy (float32 mV, leads × samples; default) or wfdb. meit/ecgchat: "
                   "wfdb. anyecg: the original records, linked (default) or copied into {dataset}/ folders, "
                   "or referenced where they lie (source).")
@click.option("--manifest", type=click.Path(exists=True, dir_okay=False),
              help="The manifest the corpus was built from (anyecg: where the original records lie).")
@click.option("--lists", is_flag=True, help="anyecg: ecg_path as a list on every row (anyECG's stage3 files).")
@click.option("--config", "configs", multiple=True, help="Export only this config (repeatable; default: all).")
@user_errors
def export(directory: str, fmt: str, out_dir: str, signals: str | None, manifest: str | None, lists: bool,
           configs: tuple[str, ...]):
    """Write the corpus in a trainer's format: LLaVA JSON, ShareGPT/LLaMA-Factory, anyECG JSON (by
    reference, with ecg_dir.json), MEIT JSONL, ECG-Chat's LLaVA-ECG JSON, PULSE's LLaVA-image JSON."""
    from .export import export_corpus

    roots = None
    if manifest:
        from .manifest import load_manifest

        from .sources import open_source

        # where each source's records lie (ECG-QA's are under its ecg_root, not its own folder)
        roots = {spec.key: open_source(spec.name, spec.root, **spec.options).records_root
                 for spec in load_manifest(manifest).sources}
    for name, n in export_corpus(directory, fmt, out_dir, signals, roots=roots, lists=lists,
                                 configs=list(configs) or None).items():
        click.echo(f"{name}: {n} records")


@click.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@click.argument("repo_id")
@click.option("--private/--public", default=None,
              help="Set the repository's visibility (new or existing). Default: new repos public, existing unchanged.")
@click.option("--revision", help="Branch to commit to (default: main).")
@click.option("--create-pr", is_flag=True, help="Open a pull request instead of committing to the branch.")
@click.option("--message", "-m", help="Commit message (default: ecgcorpus build <plan hash>).")
@click.option("--dry-run", is_flag=True, help="Check the repo id and print exactly what would be uploaded; upload nothing.")
@click.option("--force", is_flag=True, help="Replace a different build already in the repository.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (the result, or the upload plan).")
@user_errors
def push(directory: str, repo_id: str, private: bool | None, revision: str | None, create_pr: bool,
         message: str | None, dry_run: bool, force: bool, as_json: bool):
    """Publish DIRECTORY to the Hugging Face Hub as dataset REPO_ID.

    The token comes from HF_TOKEN or the stored `hf auth login`, and is never printed. An
    interrupted push resumes when rerun; unchanged files are not uploaded again."""
    import json

    from .export.push import check_repo_id, upload_plan
    from .export.push import push as run_push

    if dry_run:
        check_repo_id(repo_id)
        plan = upload_plan(directory)
        if as_json:
            click.echo(json.dumps({"repo_id": repo_id, "private": private, "files": [
                {"path": u.path, "bytes": u.size} for u in plan], "bytes": sum(u.size for u in plan)}))
            return
        for item in plan:
            click.echo(f"{item.size:>12,d}  {item.path}")
        click.echo(f"would upload {len(plan)} files ({sum(u.size for u in plan):,d} bytes) to "
                   f"datasets/{repo_id}{' (private)' if private else ''}")
        return
    result = run_push(directory, repo_id, private=private, force=force, revision=revision, create_pr=create_pr,
                      message=message)
    if as_json:
        click.echo(json.dumps(result.to_dict()))
    else:
        click.echo(f"pushed {result.files} files ({result.bytes:,d} bytes): {result.pr_url or result.commit_url}")

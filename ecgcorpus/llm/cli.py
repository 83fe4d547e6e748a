"""``ecgcorpus llm``: the offline Batch API path (write requests, import outputs) and cache facts.

    ecgcorpus llm requests MANIFEST --out requests.jsonl   # what the cache still lacks, as Batch API JSONL
    vllm run-batch -i requests.jsonl -o output.jsonl --model …   # or any Batch API
    ecgcorpus llm import output.jsonl --manifest MANIFEST --requests requests.jsonl
    (repeat: repairs and quality scores need the first answers) … then `ecgcorpus build MANIFEST`
"""

from __future__ import annotations

import click

from ..cli_common import UserError, complete_configs, user_errors


@click.group("llm")
def llm():
    """LLM requests and responses: Batch API files, imports, the response cache."""


def _builders(manifest_path: str, configs: tuple[str, ...]):
    from ..builders import builder_class
    from ..manifest import load_manifest

    manifest = load_manifest(manifest_path)
    specs = [(i, s) for i, s in enumerate(manifest.builders) if _sends_requests(s)
             and (not configs or s.config_name in configs)]
    if not specs:
        raise UserError(f"{manifest_path}: no llm_qa builder" + (f" named {', '.join(configs)}" if configs else ""))
    return manifest, [builder_class(s.type)(s, manifest) for _, s in specs]


def _sends_requests(spec) -> bool:
    """An llm_qa builder, or an image config whose base is one (ecginstruct's image_llm_qa)."""
    return spec.type == "llm_qa" or (spec.type == "image" and spec.params.get("base") == "llm_qa")


@llm.command("requests")
@click.argument("manifest", type=click.Path(dir_okay=False, exists=True))
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="Batch API input JSONL to write.")
@click.option("--config", "configs", multiple=True, shell_complete=complete_configs,
              help="Only this builder config (repeatable).")
@user_errors
def requests_cmd(manifest: str, out: str, configs: tuple[str, ...]):
    """Write the requests MANIFEST's LLM builders still need (cache misses) as Batch API JSONL."""
    from ..engine.plan import make_plan
    from .batch import write_requests
    from .config import resolve_endpoint
    from .fetch import Collect
    from .session import LlmSession

    spec, builders = _builders(manifest, configs)
    collect = Collect()
    for builder in builders:
        asking = getattr(builder, "base", builder)        # an image config asks through its llm_qa base
        endpoint, why = resolve_endpoint(asking.llm, asking.params.model, offline=True)
        if endpoint is None:
            raise UserError(f"{builder.config}: {why}")
        asking.use_session(LlmSession(endpoint, fetch=collect))
    plan = make_plan(spec, {builder.config: builder for builder in builders})
    for builder in builders:
        builder.prefetch(plan.items(builder.config))
    n = write_requests(out, collect.requests.items())
    click.echo(f"{n} requests → {out}" + ("" if n else " (nothing missing: build away)"))


@llm.command("import")
@click.argument("outputs", nargs=-1, required=True, type=click.Path(dir_okay=False, exists=True))
@click.option("--manifest", type=click.Path(dir_okay=False, exists=True), help="Use this manifest's llm.cache.")
@click.option("--cache", "cache_path", type=click.Path(dir_okay=False), help="The cache file (instead of --manifest).")
@click.option("--requests", "requests_path", type=click.Path(dir_okay=False, exists=True),
              help="The input JSONL the outputs answer: its bodies are stored with the responses.")
@user_errors
def import_cmd(outputs: tuple[str, ...], manifest: str | None, cache_path: str | None, requests_path: str | None):
    """Import Batch API / `vllm run-batch` OUTPUTS (JSONL, joined on custom_id) into the response cache."""
    from .batch import import_output, read_requests
    from .cache import ResponseCache

    path = _cache_path(manifest, cache_path)
    requests = read_requests(requests_path) if requests_path else None
    cache = ResponseCache(path)
    try:
        for output in outputs:
            with open(output, encoding="utf-8") as f:
                report = import_output(cache, f, requests)
            click.echo(f"{output}: {report.fetched} responses imported, {len(report.failed)} errors → {path}")
            for key, why in list(report.failed.items())[:5]:
                click.echo(f"  {key[:16]}…: {why}", err=True)
    finally:
        cache.close()


@llm.command("cache")
@click.option("--manifest", type=click.Path(dir_okay=False, exists=True), help="Use this manifest's llm.cache.")
@click.option("--cache", "cache_path", type=click.Path(dir_okay=False), help="The cache file.")
@user_errors
def cache_cmd(manifest: str | None, cache_path: str | None):
    """How many responses the cache holds, and their tokens per model."""
    from .cache import ResponseCache

    path = _cache_path(manifest, cache_path)
    cache = ResponseCache(path)
    try:
        rows = cache._db.execute("SELECT model, mode, COUNT(*), SUM(prompt_tokens), SUM(completion_tokens) "
                                 "FROM responses GROUP BY model, mode ORDER BY model, mode").fetchall()
    finally:
        cache.close()
    click.echo(f"{path}: {sum(r[2] for r in rows)} responses")
    for model, mode, n, prompt, completion in rows:
        click.echo(f"  {model} [{mode}]: {n} responses, {prompt:,} prompt + {completion:,} completion tokens")


def _cache_path(manifest: str | None, path: str | None) -> str:
    if path:
        return path
    if not manifest:
        raise UserError("give --cache FILE or --manifest MANIFEST")
    from ..manifest import load_manifest
    from .config import cache_path, parse_config

    return cache_path(parse_config(load_manifest(manifest).llm))

"""LLM access for the corpus builders: any OpenAI-compatible endpoint (OpenAI, Azure OpenAI, vLLM …).

config   the manifest's ``llm:`` section and the endpoint it resolves to (key from the environment)
request  chat-completion bodies and their content key (cache key = Batch API custom_id)
cache    SQLite: request key → response, so a rerun pays nothing twice
client   online mode: asyncio, bounded concurrency, retries with backoff and Retry-After
batch    Batch API mode: JSONL, upload, create, poll, download, join; import of vllm run-batch output
jobs     request + schema → outcome (validated reply, refusal, failure), with one repair retry
schema   the pydantic models replies must match      pricing  tokens × price table
context  the record text a model may see             render   items → conversations
"""

import importlib

# Names load on first use, so that `ecgcorpus --help` (which imports ecgcorpus.llm.cli) does not
# import the openai SDK.
_EXPORTS = {"Endpoint": "config", "LlmConfig": "config", "parse_config": "config", "resolve_endpoint": "config",
            "LlmError": "errors", "LlmItemError": "errors", "Job": "jobs", "Outcome": "jobs",
            "LlmSession": "session"}


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Endpoint", "Job", "LlmConfig", "LlmError", "LlmItemError", "LlmSession", "Outcome", "parse_config",
           "resolve_endpoint"]

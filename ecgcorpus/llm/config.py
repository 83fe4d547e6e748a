"""The manifest's ``llm:`` section, validated, and the endpoint it resolves to at run time.

The API key is read from the environment only (``api_key_env``, default OPENAI_API_KEY); a manifest
that holds a key is rejected. ``base_url`` falls back to OPENAI_BASE_URL, as the SDK does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..manifest import ManifestError, expand_env

# Fields that change what the model is asked (hence the output). The others only say how it runs;
# the engine may leave them out of the manifest digest.
OUTPUT_FIELDS = ("model", "temperature", "top_p", "max_tokens", "max_tokens_param", "seed",
                 "structured_output", "extra_body")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Price(_Strict):
    input: float = Field(ge=0, description="USD per million prompt tokens")
    output: float = Field(ge=0, description="USD per million completion tokens")
    cached_input: float | None = Field(default=None, ge=0, description="USD per million cached prompt tokens")


class BatchOptions(_Strict):
    completion_window: Literal["24h"] = "24h"
    poll_s: float = Field(default=30, gt=0, description="seconds between status checks")
    max_wait_s: float = Field(default=2 * 86400, gt=0, description="give up waiting after this long (rerun resumes)")
    max_requests: int = Field(default=50_000, ge=1, description="requests per batch file (OpenAI: 50,000)")
    max_bytes: int = Field(default=190 * 2**20, ge=1024, description="bytes per batch file (OpenAI: 200 MB)")
    retry_failed: int = Field(default=1, ge=0, description="resubmit requests that failed in a batch this often")
    dir: str | None = Field(default=None, description="where request/output JSONL files are kept "
                                                     "(default: beside the cache)")


class LlmConfig(_Strict):
    base_url: str | None = Field(default=None, description="OpenAI-compatible endpoint; "
                                 "default $OPENAI_BASE_URL, else the SDK's (api.openai.com)")
    model: str | None = None
    api_key_env: str = Field(default="OPENAI_API_KEY", description="environment variable holding the key")
    mode: Literal["online", "batch", "offline"] = Field(default="online", description="online: requests with "
                                                         "bounded concurrency; batch: the Batch API; offline: never "
                                                         "send, use what `ecgcorpus llm import` put in the cache")
    temperature: float = Field(default=0.0, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    max_tokens: int = Field(default=2048, ge=1)
    max_tokens_param: Literal["max_completion_tokens", "max_tokens"] = "max_completion_tokens"
    seed: int | None = Field(default=None, description="sent to the endpoint (where it supports seeded sampling)")
    structured_output: Literal["json_schema", "json_object", "none"] = "json_schema"
    extra_body: dict[str, Any] = Field(default_factory=dict, description="extra request fields, e.g. vLLM's "
                                       "chat_template_kwargs")
    concurrency: int = Field(default=16, ge=1, le=4096)
    max_retries: int = Field(default=8, ge=0)
    timeout_s: float = Field(default=120, gt=0)
    backoff_s: float = Field(default=1.0, ge=0)
    backoff_max_s: float = Field(default=60, ge=0)
    cache: str | None = Field(default=None, description="SQLite cache file (default: "
                              "$XDG_CACHE_HOME/ecgcorpus/llm-cache.sqlite)")
    prices: dict[str, Price] = Field(default_factory=dict, description="model → USD per million tokens")
    batch_discount: float = Field(default=0.5, ge=0, le=1, description="price factor of Batch API requests")
    batch: BatchOptions = Field(default_factory=BatchOptions)

    @model_validator(mode="before")
    @classmethod
    def _no_keys(cls, data):
        if isinstance(data, dict):
            for key in data:
                if "key" in str(key).lower() and key != "api_key_env":
                    raise ValueError(f"{key}: API keys never go in a manifest; put the key in an environment "
                                     "variable and name it with api_key_env (default OPENAI_API_KEY)")
        return data

    def output_dict(self) -> dict:
        """What determines the generated text (for digests and ``meta``)."""
        return self.model_dump(mode="json", include=set(OUTPUT_FIELDS))


def parse_config(section: Any) -> LlmConfig:
    """The ``llm:`` section (a dict, None, or already an LlmConfig) as an LlmConfig; errors name the key."""
    if isinstance(section, LlmConfig):
        return section
    try:
        return LlmConfig.model_validate(section or {})
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in ("llm", *err["loc"]))
        raise ManifestError(f"{where}: {err['msg']}") from None


@dataclass(frozen=True)
class Endpoint:
    """Where requests go. The key stays out of repr() so that it cannot reach a log or traceback."""

    base_url: str | None          # None: the SDK's default (api.openai.com)
    model: str
    api_key: str = field(repr=False)
    cache_path: str
    config: LlmConfig = field(repr=False)

    def describe(self) -> str:
        return f"{self.model} at {self.base_url or 'api.openai.com'}"

    def scrub(self, text: str) -> str:
        """``text`` with the key masked: error messages end up in quarantine files."""
        return text.replace(self.api_key, "***") if self.api_key and self.api_key != "EMPTY" else text


def default_cache_path() -> str:
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return os.path.join(root, "ecgcorpus", "llm-cache.sqlite")


def resolve_endpoint(config: LlmConfig, model: str | None = None, offline: bool = False
                     ) -> tuple[Endpoint | None, str | None]:
    """(endpoint, None) when one is configured, else (None, why not) — the one line a skipped builder prints.

    ``offline``: no endpoint needed (writing request files, importing outputs): only the model is."""
    base_url = _expand(config.base_url, "llm.base_url") or os.environ.get("OPENAI_BASE_URL") or None
    key = os.environ.get(config.api_key_env) or None
    model = _expand(model or config.model, "llm.model")
    offline = offline or config.mode == "offline"
    missing = []
    if not model:
        missing.append("a model (llm.model" + (f" is {config.model!r}, empty here" if config.model else "") + ")")
    if base_url is None and key is None and not offline:
        missing.append(f"an endpoint (llm.base_url, $OPENAI_BASE_URL, or ${config.api_key_env} for api.openai.com)")
    if missing:
        return None, "no LLM configured: needs " + " and ".join(missing)
    # Local servers (vLLM, the test server) often need no key; the SDK insists on one.
    return Endpoint(base_url, model, key or "EMPTY", cache_path(config), config), None


def cache_path(config: LlmConfig) -> str:
    cache = _expand(config.cache, "llm.cache") or default_cache_path()
    return os.path.abspath(os.path.expanduser(cache))


def _expand(value: str | None, where: str) -> str | None:
    if value is None:
        return None
    return expand_env(value, where).strip() or None

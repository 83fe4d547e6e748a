"""Chat-completion requests as plain JSON bodies, and their content address.

The key of a request is the sha256 of its canonical JSON: the cache key, and the ``custom_id`` of
its Batch API line. Everything that changes the answer (model, messages, schema, sampling) is in
the body; nothing else (endpoint, key, timeouts) is.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .config import LlmConfig


def canonical(body: dict[str, Any]) -> str:
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def request_key(body: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(body).encode()).hexdigest()


def chat_body(config: LlmConfig, model: str, messages: list[dict[str, str]], schema_name: str,
              schema: dict[str, Any]) -> dict[str, Any]:
    """The request body, with structured output as the config asks."""
    body: dict[str, Any] = {"model": model, "messages": messages, "temperature": config.temperature,
                            config.max_tokens_param: config.max_tokens}
    if config.top_p is not None:
        body["top_p"] = config.top_p
    if config.seed is not None:
        body["seed"] = config.seed
    if config.structured_output == "json_schema":
        body["response_format"] = {"type": "json_schema",
                                   "json_schema": {"name": schema_name, "strict": True, "schema": schema}}
    elif config.structured_output == "json_object":
        body["response_format"] = {"type": "json_object"}
    body.update(config.extra_body)
    return body


def repair_body(body: dict[str, Any], bad_content: str, error: str) -> dict[str, Any]:
    """The one retry after an answer that is not valid JSON for the schema: show it, name the error."""
    messages = list(body["messages"]) + [
        {"role": "assistant", "content": bad_content},
        {"role": "user", "content": "That reply is not valid JSON for the required schema "
                                    f"({error}). Reply again with the JSON object only."},
    ]
    return {**body, "messages": messages}

"""LLM errors: one that stops the run (bad key, unknown model, unreachable endpoint) and one per item."""

from __future__ import annotations

from ..errors import EcgCorpusError, SourceError


class LlmError(EcgCorpusError):
    """The endpoint cannot be used at all: the build stops with this one line."""


class LlmItemError(SourceError):
    """One work item got no usable answer (refusal, invalid JSON twice, request failed): it is quarantined."""

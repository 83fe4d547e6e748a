"""Audit a built corpus: schema, lock hashes, counts, leakage, duplicates, placeholders, LLM output, PHI."""

from .checks import Finding, audit_corpus

__all__ = ["Finding", "audit_corpus"]

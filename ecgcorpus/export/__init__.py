"""Export a built corpus to the formats trainers read: LLaVA, anyECG, MEIT, ShareGPT/LLaMA-Factory."""

from .formats import FORMATS, export_corpus

__all__ = ["FORMATS", "export_corpus"]

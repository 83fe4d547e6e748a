"""ecgcorpus: build instruction-tuning corpora for ECG language models from public ECG databases."""

__version__ = "0.1.0"

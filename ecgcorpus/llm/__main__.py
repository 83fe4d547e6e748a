"""``python -m ecgcorpus.llm …``: the ``ecgcorpus llm`` commands, also before cli.py registers them."""

from .cli import llm

llm(prog_name="python -m ecgcorpus.llm")

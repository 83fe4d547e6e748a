"""Generated items → conversations (the learner's side), and → plain text for the quality scorer.

The scorer sees the item itself (question, options, key, answer), not the wrapper drawn at build
time, so its request is known before any sample exists and can be sent from ``plan()``.
"""

from __future__ import annotations

import re

import numpy as np

from ..sample import ECG_TOKEN
from .schema import LETTERS

_SPACE_BEFORE_PUNCT = re.compile(r"\s+([.,;:!?)])")


def item_entries(qtype: str, value) -> list:
    """The units that become samples: each item of a QA set, or a whole conversation."""
    return [value] if qtype == "turns" else list(value.items)


def describe(qtype: str, entry) -> str:
    if qtype == "mcq":
        options = "\n".join(f"{LETTERS[i]}. {o}" for i, o in enumerate(entry.options))
        return (f"Question: {entry.question}\nOptions:\n{options}\nCorrect option: {entry.correct}\n"
                f"Explanation: {entry.explanation}")
    if qtype == "fill":
        return f"Sentence with a gap: {fill_text(entry, '____')}\nMissing words: {entry.answer}"
    if qtype == "close":
        return f"Question: {entry.question}\nAnswer: {entry.answer}\nExplanation: {entry.explanation}"
    if qtype == "turns":
        return "\n".join(f"Turn {i} question: {t.question}\nTurn {i} answer: {t.answer}"
                         for i, t in enumerate(entry.turns, start=1))
    return f"Question: {entry.question}\nAnswer: {entry.answer}"


def fill_text(entry, blank: str) -> str:
    text = " ".join(part for part in (entry.text_before.strip(), blank, entry.text_after.strip()) if part)
    return _SPACE_BEFORE_PUNCT.sub(r"\1", text)


def ecg_prefix(dates: list[str] | None, header: str) -> str:
    """``<ecg>\\n`` for one ECG; one ``ECG i (recorded date): <ecg>`` line per ECG of a group."""
    if not dates:
        return f"{ECG_TOKEN}\n"
    return "".join(header.format(index=i, date=d) + f"{ECG_TOKEN}\n" for i, d in enumerate(dates, start=1))


def conversation(qtype: str, entry, prefix: str, render: dict, rng: np.random.Generator,
                 close_explanation: bool = True) -> tuple[list[dict[str, str]], int | None]:
    """([{from, value}, …], index of the wrapper drawn or None)."""
    wrappers = render.get(qtype)
    index = int(rng.integers(len(wrappers))) if wrappers else None
    wrapper = wrappers[index] if wrappers else ""
    if qtype == "mcq":
        options = "\n".join(f"{LETTERS[i]}. {o}" for i, o in enumerate(entry.options))
        letter = entry.correct
        final = render["final_answer"].format(letter=letter, option=entry.options[LETTERS.index(letter)])
        turns = [(f"{wrapper}\n{entry.question}\n{options}", f"{entry.explanation}\n{final}")]
    elif qtype == "fill":
        turns = [(f"{wrapper}\n{fill_text(entry, render['blank'])}", entry.answer)]
    elif qtype == "close":
        answer = entry.answer.capitalize() + "."
        turns = [(f"{entry.question}\n{wrapper}", f"{answer} {entry.explanation}" if close_explanation else answer)]
    elif qtype == "turns":
        turns = [(t.question, t.answer) for t in entry.turns]
    else:
        turns = [(entry.question, entry.answer)]
    out = []
    for i, (question, answer) in enumerate(turns):
        out += [{"from": "human", "value": (prefix if i == 0 else "") + question}, {"from": "gpt", "value": answer}]
    return out, index

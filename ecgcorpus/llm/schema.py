"""What the model must return, as pydantic models; their JSON schemas go out as structured output.

Each model forbids extra keys and has no defaults, so its JSON schema is valid for OpenAI's strict
mode (every property required, additionalProperties false). Structure carries what a validator would
otherwise check: MCQ options are exactly four and the key is one of A–D; a fill-in item is the text
before the blank, the missing words, and the text after.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, create_model, field_validator

QTYPES = ("mcq", "fill", "close", "open")
LETTERS = "ABCD"


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")
    may_be_empty: ClassVar[tuple[str, ...]] = ()

    @field_validator("*")
    @classmethod
    def _not_blank(cls, value, info: ValidationInfo):
        if isinstance(value, str) and not value.strip() and info.field_name not in cls.may_be_empty:
            raise ValueError("empty text")
        return value


class McqItem(_Out):
    question: str
    options: list[str] = Field(min_length=4, max_length=4)
    correct: Literal["A", "B", "C", "D"]
    explanation: str

    @field_validator("options")
    @classmethod
    def _distinct(cls, options):
        if len({o.strip().lower() for o in options}) != len(options) or not all(o.strip() for o in options):
            raise ValueError("options must be four distinct, non-empty texts")
        return options


class FillItem(_Out):
    text_before: str
    answer: str
    text_after: str
    may_be_empty = ("text_before", "text_after")  # the blank can open or close the sentence


class CloseItem(_Out):
    question: str
    answer: Literal["yes", "no"]
    explanation: str


class OpenItem(_Out):
    question: str
    answer: str


# A conversation is about the tracing: the person has not read the findings the model was given, so
# an exchange that cites them as a source ("the report says", "according to the findings") is refused.
SOURCE_LEAK = re.compile(r"\b(?:the|this|that|a|provided|given|written|machine|ecg)\s+reports?\b"
                         r"|\baccording to the (?:findings|statements|description)\b"
                         r"|\b(?:provided|given|listed|documented) (?:findings|statements)\b", re.I)


class Turn(_Out):
    question: str
    answer: str

    @field_validator("question", "answer")
    @classmethod
    def _no_source(cls, text):
        leak = SOURCE_LEAK.search(text)
        if leak:
            raise ValueError(f"cites the findings it was given as a source ({leak.group(0)!r})")
        return text


class QualityScore(_Out):
    score: int = Field(ge=0, le=5)
    reason: str


ITEM_MODELS: dict[str, type[_Out]] = {"mcq": McqItem, "fill": FillItem, "close": CloseItem, "open": OpenItem}


@lru_cache(maxsize=None)
def qa_set_model(qtype: str, n: int) -> type[BaseModel]:
    """``{"items": [n items of qtype]}``."""
    item = ITEM_MODELS[qtype]
    return create_model(f"{qtype.capitalize()}Set{n}", __base__=_Out,
                        items=(list[item], Field(min_length=n, max_length=n)))


@lru_cache(maxsize=None)
def conversation_model(min_turns: int, max_turns: int) -> type[BaseModel]:
    """``{"turns": [min..max question/answer turns]}``."""
    return create_model(f"Conversation{min_turns}to{max_turns}", __base__=_Out,
                        turns=(list[Turn], Field(min_length=min_turns, max_length=max_turns)))


@lru_cache(maxsize=None)
def json_schema(model: type[BaseModel]) -> dict:
    """The model's JSON schema (cached: pydantic takes milliseconds; treat the result as read-only)."""
    return model.model_json_schema()


def schema_name(model: type[BaseModel]) -> str:
    return re.sub(r"[^a-zA-Z0-9_-]", "_", model.__name__)[:64]


_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.S)


def parse_reply(content: str, model: type[BaseModel]) -> BaseModel:
    """Validate a reply; a Markdown code fence around the JSON is tolerated. Raises ValueError."""
    match = _FENCE.match(content)
    text = match.group(1) if match else content
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc.msg} at char {exc.pos}") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "reply"
        msg = err["msg"].removeprefix("Value error, ")
        raise ValueError(f"{where}: {msg}") from None

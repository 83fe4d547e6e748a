"""Report translation to English: an explicit, cached LLM stage of the report builder.

A PTB-XL report in German or Swedish, as cleaned statements, goes to the configured model once;
the answer (one English statement per input statement, JSON-validated) is cached by request, so
a rebuild is deterministic and pays nothing. Samples say so: ``meta.report_source`` is
``llm_translation`` with the model, and the cost is in the build summary.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from .config import Endpoint, LlmConfig
from .jobs import Job
from .request import chat_body
from .schema import json_schema, schema_name

LANGUAGES = {"de": "German", "sv": "Swedish", "en": "English"}
SYSTEM = ("You translate electrocardiogram report statements written by cardiologists into English. Translate "
          "each statement on its own, keep every finding, hedge and lead name as written, add nothing, and use "
          "standard English ECG terminology (sinus rhythm, left axis deviation, ST depression, AV block). "
          "Answer with JSON only.")
USER = ("The statements below are in {language}. Return one English statement per input statement, in the same "
        "order.\n\n{statements}")


class Translation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    statements: list[str] = Field(description="the English statements, one per input statement, in order")


def translation_job(config: LlmConfig, endpoint: Endpoint, lines: tuple[str, ...], language: str | None) -> Job:
    statements = "\n".join(f"{i + 1}. {line}" for i, line in enumerate(lines))
    messages = [{"role": "system", "content": SYSTEM},
                {"role": "user", "content": USER.format(language=LANGUAGES.get(language or "", "another language"),
                                                        statements=statements)}]
    return Job(chat_body(config, endpoint.model, messages, schema_name(Translation), json_schema(Translation)),
               Translation)

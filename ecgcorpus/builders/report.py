"""Report generation: one sample per record, the question a paraphrase, the answer the report."""

from __future__ import annotations

import csv
from typing import Literal

from pydantic import BaseModel, ConfigDict

from ..prompts import load_prompts
from ..sample import ECG_TOKEN, Sample
from ..sources.ptbxl import PtbXl
from ..types import RecordRef
from .base import BuildContext, Builder, WorkItem, label_meta
from .report_text import render_report, report_in, statement_lines


class ReportParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    profile: Literal["default", "anyecg", "meit", "ecgchat"] = "default"
    faithful: bool = False              # ecgchat: reproduce the original substring replacements
    languages: list[str] | None = ["en"]  # written reports in these languages (null: any, as written);
                                          # others become label text, or are skipped without labels_as_report
    labels_as_report: bool = True       # label-to-text for sources without report text
    ptbxl_translation: str | None = None  # CSV with ecg_id + report_en (e.g. fairseq-signals' translation)
    translate: bool = False             # reports outside `languages` → English through the manifest's llm (cached)


class ReportBuilder(Builder):
    type = "report"
    task = "report"

    Params = ReportParams
    skips_by_group = True

    def __init__(self, spec, manifest):
        super().__init__(spec, manifest)
        self._translations = _read_translations(self.params.ptbxl_translation)
        self.llm = self.endpoint = self._session = None
        self._disabled = None
        if self.params.translate:
            from ..llm.config import parse_config, resolve_endpoint

            self.llm = parse_config(manifest.llm)
            self.endpoint, why = resolve_endpoint(self.llm)
            self._disabled = None if self.endpoint else f"translate: {why}"

    def disabled_reason(self) -> str | None:
        return self._disabled

    def needs_translation(self, ref: RecordRef) -> bool:
        """An LLM translation is asked for, and the written report is outside ``languages``."""
        return (self.params.translate and bool(ref.report_lines) and not self.translated(ref)
                and not report_in(ref, self.params.languages))

    def translation_job(self, ref: RecordRef):
        from ..llm.translate import translation_job

        return translation_job(self.llm, self.endpoint, ref.report_lines, ref.report_lang)

    def session(self):
        if self._session is None:
            from ..llm.session import LlmSession

            self._session = LlmSession(self.endpoint)
        return self._session

    def prefetches(self) -> bool:
        return bool(self.params.translate)

    def prefetch(self, items: list[WorkItem]) -> None:
        """The translations the items need, into the cache (the stage between plan and run)."""
        jobs = [self.translation_job(item.refs[0]) for item in items if self.needs_translation(item.refs[0])]
        if jobs:
            from ..console import announce

            session = self.session()
            session.resolve(jobs)
            announce(f"{self.config}: {len(jobs)} reports to translate, {self.endpoint.describe()} · "
                     f"{session.summary()}")

    def translated(self, ref: RecordRef) -> bool:
        """Whether ``ref``'s report comes from the translation table (PTB-XL records, by ecg_id)."""
        return bool(self._translations) and ref.source == PtbXl.name

    def report_lines(self, ref: RecordRef) -> list[str]:
        if self.translated(ref):
            text = self._translations.get(ref.native_id)
            return [text] if text else []
        if self.needs_translation(ref):
            return list(ref.report_lines)        # stands for its translation, fetched in run()
        return statement_lines(ref, self.params.labels_as_report, self.params.languages)

    def llm_translation(self, ref: RecordRef, ctx: BuildContext) -> tuple[list[str], dict]:
        """The cached English statements of ``ref``'s report, and what ``meta`` records of them."""
        job = self.translation_job(ref)
        (out,) = self.session().resolve([job], send=self.llm.mode == "online", progress=False)
        if not out.ok or len(out.value.statements) != len(ref.report_lines):
            from ..llm.errors import LlmItemError

            got = len(out.value.statements) if out.ok else out.detail
            raise LlmItemError(ref.path, f"translation unusable ({out.status}: {got})", ref.record_id)
        out.usage.count_into(ctx.stats, self.llm, llm_translations=1)
        return [s.strip() for s in out.value.statements], {"model": out.model, "request": out.keys[-1],
                                                          "from": ref.report_lang}

    def skip_reason(self, ref: RecordRef) -> str | None:
        if self.report_lines(ref):
            return None
        langs = self.params.languages
        if ref.report_lines and not report_in(ref, langs):
            return f"report language {ref.report_lang or 'unknown'} not in {langs} (and no labels to write one from)"
        return "no report text (and no labels to write one from)"

    def run(self, item: WorkItem, ctx: BuildContext) -> list[Sample]:
        (ref,) = item.refs
        segment = ctx.segment(ref)
        prompts = load_prompts("report")
        if self.params.profile == "meit":
            # MEIT: a fixed instruction, the user turn otherwise empty.
            template_id = f"meit-{'mimic' if ref.source == 'mimic' else 'ptbxl'}"
            question = prompts["meit_instruction"]["mimic" if ref.source == "mimic" else "ptbxl"]
        else:
            index = int(ctx.rng.integers(len(prompts["questions"])))
            template_id, question = f"report-q{index:02d}", prompts["questions"][index]
        lines, translation = self.report_lines(ref), None
        if self.needs_translation(ref):
            lines, translation = self.llm_translation(ref, ctx)
        answer = render_report(lines, self.params.profile, self.params.faithful)
        return [Sample(
            task=self.task,
            conversations=[{"from": "human", "value": f"{ECG_TOKEN}\n{question}"}, {"from": "gpt", "value": answer}],
            segments=[segment],
            meta={
                "template_id": template_id,
                "labels": label_meta(item.refs),
                "profile": self.params.profile,
                "report_source": "translation" if self.translated(ref) else "llm_translation" if translation else
                                 ("report" if report_in(ref, self.params.languages) else "labels"),
                "report_lang": "en" if self.translated(ref) or translation else
                               (ref.report_lang if report_in(ref, self.params.languages) else "en"),
                **({"translation": translation} if translation else {}),
            },
        )]


def _read_translations(path: str | None) -> dict[str, str]:
    if not path:
        return {}
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        column = next((c for c in ("report_en", "report") if c in (reader.fieldnames or [])), None)
        if "ecg_id" not in (reader.fieldnames or []) or column is None:
            from ..errors import EcgCorpusError

            raise EcgCorpusError(f"{path}: a translation table needs columns ecg_id and report_en (or report)")
        return {str(int(float(row["ecg_id"]))): row[column].strip() for row in reader if row[column].strip()}

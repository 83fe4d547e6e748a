"""The manifest: a YAML recipe for one corpus, validated with errors that name the key and line."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import EcgCorpusError
from .leads import CANONICAL_LEADS

SPLITS = ("train", "validation", "test")


class ManifestError(EcgCorpusError):
    pass


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SourceSpec(_Strict):
    name: str = Field(description="source name, as in `ecgcorpus sources list`")
    root: str
    options: dict[str, Any] = Field(default_factory=dict)
    limit: int | None = Field(default=None, ge=1, description="read only the first N records")
    alias: str | None = Field(default=None, description="key for builders' `sources:` lists (default: name)")

    @property
    def key(self) -> str:
        return self.alias or self.name


class SignalProfile(_Strict):
    fs: float | None = Field(default=None, gt=0, description="resample to this rate; null keeps the native rate")
    leads: list[str] | None = Field(default=None, description="lead subset by name; null keeps the record's leads")
    duration_s: float | None = Field(default=None, gt=0, description="crop/pad to this length; null keeps it whole")
    crop: Literal["start", "center", "random"] = "start"
    pad: bool = Field(default=True, description="zero-pad records shorter than duration_s (else quarantine)")
    normalization: Literal["none", "minmax", "minmax_global", "zscore"] = Field(
        default="none", description="recorded in the card for the trainer; signals are stored raw")
    storage: Literal["auto", "int16", "float32", "float64"] = "auto"

    @field_validator("leads")
    @classmethod
    def _known_leads(cls, leads):
        if leads is not None:
            unknown = [name for name in leads if name not in CANONICAL_LEADS]
            if unknown:
                raise ValueError(f"unknown lead(s) {unknown}; use {' '.join(CANONICAL_LEADS)}")
        return leads


class BuilderSpec(_Strict):
    type: str
    config: str | None = Field(default=None, description="dataset config name (default: the builder type)")
    sources: list[str] | None = Field(default=None, description="source keys this builder reads (default: all)")
    params: dict[str, Any] = Field(default_factory=dict)
    fraction: float = Field(default=1.0, gt=0, le=1, description="share of the work items kept, drawn by a seeded "
                            "hash of each item (to set a corpus's task mix)")

    @property
    def config_name(self) -> str:
        return self.config or self.type


class SplitPolicy(_Strict):
    policy: Literal["patient", "official"] = "patient"
    ratios: dict[Literal["train", "validation", "test"], float] = Field(
        default_factory=lambda: {"train": 0.9, "validation": 0.05, "test": 0.05})

    @field_validator("ratios")
    @classmethod
    def _sum_to_one(cls, ratios):
        if abs(sum(ratios.values()) - 1.0) > 1e-6:
            raise ValueError(f"ratios must sum to 1, got {sum(ratios.values()):g}")
        return ratios


class OutputSpec(_Strict):
    dir: str = "out"
    target_shard_mb: float = Field(default=256, gt=0)
    max_rows_per_shard: int | None = Field(default=None, ge=1)
    row_group_rows: int = Field(default=128, ge=1)
    compression: Literal["zstd", "snappy", "gzip", "none"] = "zstd"
    compression_level: int | None = None
    license: str | None = Field(default=None, description="licence of the corpus itself (default: from the sources)")
    max_quarantine_rate: float = Field(default=0.5, ge=0, le=1, description=(
        "per config: a build whose config quarantines a larger share of its records exits 1"))


class ClusterSpec(_Strict):
    """How `--executor datatrove` runs the units (not part of what is built: excluded from the hash)."""

    backend: Literal["local", "slurm", "ray"] = "local"
    workers: int = Field(default=-1, description="tasks running at once (-1: all / as many as cores)")
    partition: str | None = None        # slurm
    time: str = "04:00:00"              # slurm time limit per task
    cpus_per_task: int = 1
    mem_per_cpu_gb: float = 2
    job_name: str = "ecgcorpus"
    qos: str = "normal"                 # slurm quality of service
    tasks_per_job: int = Field(default=1, ge=1, description="slurm: units run one after another per array "
                               "task (800k MIMIC records in 8,000 units: 80 array tasks at 100)")
    poll_s: float = Field(default=30, gt=0, description="slurm --wait: seconds between looks at the job")
    venv_path: str | None = None        # slurm: environment to activate on the nodes
    sbatch_args: dict[str, Any] = Field(default_factory=dict)


class Manifest(_Strict):
    name: str
    description: str | None = None
    seed: int = 0
    sources: list[SourceSpec]
    profile: SignalProfile = Field(default_factory=SignalProfile)
    builders: list[BuilderSpec]
    splits: SplitPolicy = Field(default_factory=SplitPolicy)
    output: OutputSpec = Field(default_factory=OutputSpec)
    dedupe: Literal["first", "error", "keep"] = Field(default="first", description=(
        "the same ECG (same signal fingerprint) met twice, across sources, aliases or within one: keep the "
        "first and quarantine the others (first), stop the build (error), or keep every copy (keep)"))
    llm: dict[str, Any] | None = None
    cluster: ClusterSpec = Field(default_factory=ClusterSpec)

    def source(self, key: str) -> SourceSpec:
        for spec in self.sources:
            if spec.key == key:
                return spec
        raise ManifestError(f"no source {key!r} in the manifest (have {', '.join(s.key for s in self.sources)})")

    def canonical_json(self) -> str:
        """What the corpus depends on: everything but where it is written, where its inputs lie (their
        content is fingerprinted in the plan) and how it runs."""
        data = self.model_dump(mode="json", exclude={"cluster": True, "output": {"dir", "max_quarantine_rate"},
                                                      "sources": {"__all__": {"root"}}})
        if self.llm is not None:
            data["llm"] = _llm_output_fields(self.llm)
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    def digest(self) -> str:
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()


def _llm_output_fields(section: dict[str, Any]) -> dict[str, Any]:
    """The llm fields that change the generated text (model, sampling, format); endpoint, key name,
    concurrency, retries, cache path and prices only say how it runs, as in the LLM cache's key."""
    from .llm.config import parse_config

    try:
        return parse_config(section).output_dict()
    except ManifestError:
        return section        # invalid: the llm_qa builder reports it; hash it as written


_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def expand_env(value: str, where: str) -> str:
    """``$VAR``, ``${VAR}`` and ``${VAR:-default}``; an unset variable without default is an error."""

    def sub(m: re.Match) -> str:
        name = m.group(1) or m.group(3)
        if name in os.environ:
            return os.environ[name]
        if m.group(2) is not None:
            return m.group(2)
        raise ManifestError(f"{where}: environment variable ${name} is not set")

    return _ENV.sub(sub, value)


def load_manifest(path: str | os.PathLike, out_dir: str | None = None) -> Manifest:
    """Read and validate a manifest; relative roots/dirs are taken relative to the manifest's folder."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError(f"{path}: manifest not found") from None
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise ManifestError(f"{path}{line}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(data, dict):
        raise ManifestError(f"{path}: a manifest is a mapping (name, sources, builders, …)")
    try:
        manifest = Manifest.model_validate(data)
    except ValidationError as exc:
        raise _located(path, node, exc, Manifest, []) from None
    for i, spec in enumerate(manifest.sources):
        _check_source(path, node, i, spec)
    keys = [s.key for s in manifest.sources]
    for i, spec in enumerate(manifest.builders):
        _check_builder(path, node, i, spec, keys)
    if manifest.llm is not None:
        _check_llm(path, node, manifest.llm)
    base = path.parent
    for i, spec in enumerate(manifest.sources):
        root = expand_env(spec.root, f"{path}: sources.{i}.root")
        spec.root = os.path.normpath(base / root) if not os.path.isabs(root) else root
        for key, value in spec.options.items():   # other folders a source reads (ecgqa's ecg_root)
            if key.endswith("_root") and isinstance(value, str):
                folder = expand_env(value, f"{path}: sources.{i}.options.{key}")
                spec.options[key] = os.path.normpath(base / folder) if not os.path.isabs(folder) else folder
    if out_dir is not None:
        manifest.output.dir = out_dir
    else:
        out = expand_env(manifest.output.dir, f"{path}: output.dir")
        manifest.output.dir = os.path.normpath(base / out) if not os.path.isabs(out) else out
    return manifest


def _located(path, node, exc: ValidationError, model: type[BaseModel], prefix: list) -> ManifestError:
    """``file:line: key.path: problem`` for the first error, in our words, not pydantic's."""
    err = exc.errors()[0]
    inner = [p for p in err["loc"]]
    loc = prefix + inner
    line = _line_of(node, loc)
    key = ".".join(str(p) for p in loc)
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        allowed = _allowed_keys(model, inner[:-1])
        msg = f"unknown key (allowed: {', '.join(allowed)})" if allowed else "unknown key"
    elif msg.startswith(("Value error, ", "Assertion failed, ")):
        msg = msg.split(", ", 1)[1]
    return ManifestError(f"{path}:{line}: {key}: {msg}")


def _require_registered(path, node, loc: list, name: str, registry: dict, kind: str) -> None:
    if name not in registry:
        key = ".".join(map(str, loc))
        raise ManifestError(f"{path}:{_line_of(node, loc)}: {key}: unknown {kind} {name!r} "
                            f"(available: {', '.join(registry)})")


def _check_source(path, node, index: int, spec: SourceSpec) -> None:
    """The source exists and its options are its reader's (names and types)."""
    from .sources import SOURCES, options_model

    where = ["sources", index]
    _require_registered(path, node, where + ["name"], spec.name, SOURCES, "source")
    model = options_model(spec.name)
    try:
        model.model_validate(spec.options)
    except ValidationError as exc:
        raise _located(path, node, exc, model, where + ["options"]) from None


def _check_builder(path, node, index: int, spec: "BuilderSpec", source_keys: list[str]) -> None:
    """The builder type exists, its params validate (with the same messages as the top level), and
    every source key it names (``sources``, and params such as localization's ``datasets``) is one
    of the manifest's."""
    from .builders import BUILDERS, builder_class

    where = ["builders", index]
    _require_registered(path, node, where + ["type"], spec.type, BUILDERS, "builder")
    cls = builder_class(spec.type)
    try:
        params = cls.validate_params(spec.params)
    except ValidationError as exc:
        raise _located(path, node, exc, cls.Params, where + ["params"]) from None
    except (ValueError, EcgCorpusError) as exc:
        line = _line_of(node, where + ["params"])
        raise ManifestError(f"{path}:{line}: builders.{index}.params: {str(exc).splitlines()[0]}") from None
    named = {("sources",): list(spec.sources or [])}
    named.update({("params", name): keys for name, keys in cls.source_key_params(params).items()})
    for loc, keys in named.items():
        allowed, whose = ((source_keys, "the manifest's sources") if loc == ("sources",)
                          else (spec.sources or source_keys, "this builder reads"))
        unknown = [k for k in keys if k not in allowed]
        if unknown:
            key = ".".join(map(str, where + list(loc)))
            raise ManifestError(f"{path}:{_line_of(node, where + list(loc))}: {key}: unknown source key(s) "
                                f"{', '.join(map(repr, unknown))} ({whose}: {', '.join(allowed)})")


def _check_llm(path, node, section) -> None:
    from .llm.config import LlmConfig

    try:
        LlmConfig.model_validate(section)
    except ValidationError as exc:
        raise _located(path, node, exc, LlmConfig, ["llm"]) from None
    except EcgCorpusError as exc:
        raise ManifestError(f"{path}:{_line_of(node, ['llm'])}: {exc}") from None


def _line_of(node, loc) -> int:
    """The YAML line of the deepest part of ``loc`` that exists in the document (1-based)."""
    best = node.start_mark.line if node is not None else 0
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == part), None)
            if match is None:
                break
            best, node = match[0].start_mark.line, match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            best = node.start_mark.line
        else:
            break
    return best + 1


def _allowed_keys(model: type[BaseModel], loc) -> list[str]:
    """Field names of the sub-model at ``loc`` (list indices skipped)."""
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return []
        ann = field.annotation
        inner = getattr(ann, "__args__", (ann,))
        sub = next((a for a in inner if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if sub is None:
            return []
        model = sub
    return list(model.model_fields)

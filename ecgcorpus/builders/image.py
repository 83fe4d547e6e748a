"""Image samples (ECGInstruct style): any signal builder's samples with each ECG printed as a paper image.

The base builder (``base``, ``base_params``) plans and runs as usual; every ``<ecg>`` of its
conversation becomes ``<image>``, the image is stored as the Hugging Face Image struct (PNG or
JPEG bytes) and its sidecar goes into ``meta["images"]``.

The signal segments are dropped: an ECGInstruct sample is an image and a conversation, and the
corpus contract is one ``<ecg>`` placeholder per attached signal, so a sample cannot both show
the image and carry the signal under one placeholder. Where each image comes from (record,
native span, rate, leads) is kept in ``meta["ecgs"]``, so the signal can always be re-read.

``standard`` prints a clean page; ``augmented`` draws, per image, each distortion with
``probability`` and a random paper (grid colour, greyscale, header), as PULSE's augmented set
does with ecg-image-kit. Every choice is logged in the sidecar with the image's seed.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..errors import EcgCorpusError
from ..manifest import BuilderSpec
from ..sample import ECG_TOKEN, IMAGE_TOKEN, Sample, Segment
from ..synth import PageOptions, render, resolve_distortions
from ..synth.distortions import NAMES, rng_for
from ..synth.layout import PAPERS_MM, LayoutError, grid_leads, parse_layout
from ..synth.paper import GRID_STYLES
from ..types import RecordRef
from .base import BuildContext, Builder, WorkItem


class ImageParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    base: str = "report"                      # the signal builder whose samples are turned into images
    base_params: dict[str, Any] = Field(default_factory=dict)
    variant: Literal["standard", "augmented"] = "standard"
    layout: str = "auto"                      # 3x4+II for 12 leads, one strip per lead for reduced sets
    layouts: list[str] | None = None          # augmented: each page's layout drawn from these (PULSE varies it)
    # None: PNG for standard pages, JPEG for augmented ones. bench/bench_page_format.py: a standard
    # page is 0.37x the bytes as PNG (line art compresses); an augmented, photo-like page is 4.4x
    # smaller and 5.8x faster to encode as JPEG, and lands near ECGInstruct's ~1.8 MB per page.
    format: Literal["png", "jpeg"] | None = None
    jpeg_quality: int = Field(default=92, ge=30, le=100)
    dpi: int = Field(default=200, ge=100, le=300)
    paper: Literal["letter", "a4"] = "letter"
    speed: float = 25.0
    gain: float = 10.0
    header: Literal["full", "deid", "none"] = "full"
    distortions: list[str] | None = None      # augmented: the pool (default: all)
    probability: float = Field(default=0.5, ge=0.0, le=1.0)   # augmented: chance of each distortion

    @field_validator("base")
    @classmethod
    def _base(cls, v: str) -> str:
        from . import BUILDERS

        if v == "image" or v not in BUILDERS:
            raise ValueError(f"base must be a signal builder type: {', '.join(b for b in BUILDERS if b != 'image')}")
        return v

    @field_validator("distortions")
    @classmethod
    def _distortions(cls, v):
        if v is not None:
            try:
                return resolve_distortions(v)
            except EcgCorpusError as exc:
                raise ValueError(str(exc)) from None
        return v

    @property
    def encoding(self) -> str:
        return self.format or ("jpeg" if self.variant == "augmented" else "png")

    def page(self) -> PageOptions:
        return PageOptions(layout=self.layout, paper=self.paper, dpi=self.dpi, speed=self.speed, gain=self.gain,
                           header=self.header)


class ImageBuilder(Builder):
    type = "image"
    task = "image"
    fixed_shape = False   # image samples carry no signal

    Params = ImageParams

    @classmethod
    def validate_params(cls, params):
        from pydantic import ValidationError

        from . import builder_class

        p = ImageParams.model_validate(params)
        p.page()  # layout / speed / gain errors surface at manifest load, not per record
        for layout in p.layouts or []:
            p.model_copy(update={"layout": layout}).page()
        if p.layouts is not None and (not p.layouts or p.variant != "augmented"):
            raise ValueError("layouts: a non-empty pool, for the augmented variant (standard pages use layout)")
        try:
            builder_class(p.base).validate_params(p.base_params)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(part) for part in ("base_params", *err["loc"]))
            raise ValueError(f"{where}: {err['msg']} (for the {p.base} builder)") from None
        return p

    def __init__(self, spec: BuilderSpec, manifest):
        super().__init__(spec, manifest)
        from . import builder_class

        base_spec = BuilderSpec(type=self.params.base, config=spec.config_name, sources=spec.sources,
                                params=self.params.base_params)
        self.base = builder_class(self.params.base)(base_spec, manifest)

    def skip_reason(self, ref: RecordRef) -> str | None:
        reason = self.base.skip_reason(ref)
        if reason:
            return reason
        leads = tuple(self.manifest.profile.leads or ref.leads)
        for layout in [self.params.layout, *(self.params.layouts or [])]:
            if layout == "auto":
                continue
            try:
                grid_leads(parse_layout(layout), leads)
            except LayoutError as exc:
                return str(exc)
        return None

    def plan(self, refs: list[RecordRef]) -> list[WorkItem]:
        return self.base.plan(refs)

    def disabled_reason(self) -> str | None:
        return self.base.disabled_reason()     # e.g. an llm_qa base without an endpoint

    def prefetch(self, items: list[WorkItem]) -> None:
        self.base.prefetch(items)

    def prefetches(self) -> bool:
        return self.base.prefetches()

    def estimated_row_bytes(self, signal_bytes: int) -> int:
        """One encoded page (the signal is not stored): pixels x mean bytes per pixel measured on
        the ecginstruct fixture build at 200 dpi (PNG: 0.18 standard, 1.17–1.32 augmented)."""
        width_mm, height_mm = PAPERS_MM[self.params.paper]
        pixels = width_mm * height_mm * (self.params.dpi / 25.4) ** 2
        per_pixel = 0.3 if self.params.encoding == "jpeg" else (1.3 if self.params.variant == "augmented" else 0.2)
        return int(pixels * per_pixel)

    def run(self, item: WorkItem, ctx: BuildContext) -> list[Sample]:
        return [self.to_image_sample(sample, ctx) for sample in self.base.run(item, ctx)]

    def to_image_sample(self, sample: Sample, ctx: BuildContext) -> Sample:
        tokens = sum(turn["value"].count(ECG_TOKEN) for turn in sample.conversations)
        if tokens != len(sample.segments):
            raise EcgCorpusError(f"{self.params.base} sample has {tokens} {ECG_TOKEN} for {len(sample.segments)} ECGs")
        ext = "jpg" if self.params.encoding == "jpeg" else "png"
        images, sidecars = [], []
        for k, segment in enumerate(sample.segments):
            seed = int(ctx.rng.integers(2**31))
            options, names = self.choose(seed)
            rendered = render(_recorded_part(segment), segment.ref, options, names, seed)
            data = rendered.encode(self.params.encoding, self.params.jpeg_quality)
            images.append({"bytes": data, "path": f"{segment.ref.source}/{segment.ref.native_id}-{k}.{ext}"})
            sidecars.append(rendered.sidecar)
        conversations = [{"from": t["from"], "value": t["value"].replace(ECG_TOKEN, IMAGE_TOKEN)}
                         for t in sample.conversations]
        meta = dict(sample.meta)
        meta.update({
            "base": self.params.base, "variant": self.params.variant, "images": sidecars,
            "ecgs": [{"record_id": s.ref.record_id, "source": s.ref.source, "source_key": s.ref.source_key,
                      "path": s.ref.record_path, "patient_id": s.ref.patient_id, "start": s.start, "stop": s.native_stop, "fs": float(s.ecg.fs), "leads": list(s.ecg.leads)}
                     for s in sample.segments],
        })
        return Sample(task=sample.task, conversations=conversations, segments=[], images=images, meta=meta,
                      split=sample.split)

    def choose(self, seed: int) -> tuple[PageOptions, list[str]]:
        """The page and distortions of one image: fixed for standard, drawn from ``seed`` for augmented."""
        page = self.params.page()
        if self.params.variant == "standard":
            return page, []
        rng = rng_for(seed, "augment")
        pool = self.params.distortions if self.params.distortions is not None else list(NAMES)
        names = [n for n in pool if rng.random() < self.params.probability]
        styles = list(GRID_STYLES)
        page = page.model_copy(update={
            "grid_colour": "red" if rng.random() < 0.5 else str(rng.choice(styles)),
            "grid": bool(rng.random() < 0.95),
            "grayscale": bool(rng.random() < 0.1),
            "header": page.header if rng.random() < 0.7 else "none",
        })
        if self.params.layouts:
            page = page.model_copy(update={"layout": str(rng.choice(self.params.layouts))})
        return page, names


def _recorded_part(segment: Segment):
    """The profiled ECG without zero padding added past the end of the record."""
    ecg = segment.ecg
    recorded = int(round((segment.native_stop - segment.start) / segment.ref.fs * ecg.fs))
    return ecg.crop(0, recorded) if 0 < recorded < ecg.n_samples else ecg


__all__ = ["ImageBuilder", "ImageParams"]

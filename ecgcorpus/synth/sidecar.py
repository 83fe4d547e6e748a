"""The JSON sidecar of a rendered image: what is where on it, at what scale, after which distortions.

Coordinates are image pixels, x to the right and y down, pixel j covering [j, j+1). ``page_*``
fields are on the undistorted page; ``matrix`` maps page to image coordinates (3×3 homography in
OpenCV's pixel-centre convention: subtract 0.5 before, add 0.5 after).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

SCHEMA = "ecgcorpus.synth/1"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LeadBox(_Strict):
    lead: str
    row: int
    col: int
    rhythm: bool
    t_start: float            # seconds from the first rendered sample
    t_end: float
    box: list[float]          # x0, y0, x1, y1 of the trace, clipped to the image
    quad: list[list[float]]   # the trace box's four corners (tl, tr, br, bl) after distortion, unclipped
    visible: float            # fraction of the transformed box inside the image
    label_box: list[float] | None = None
    page_box: list[float]
    baseline_px: float        # page y of 0 mV
    origin_px: float          # page x of t_start


class Scale(_Strict):
    dpi: int
    px_per_mm: float
    px_per_mv: float
    px_per_s: float
    speed_mm_s: float
    gain_mm_mv: float


class LayoutInfo(_Strict):
    name: str
    rows: int
    cols: int
    rhythm: list[str]


class PaperInfo(_Strict):
    size: str
    width_mm: float
    height_mm: float
    grid: bool
    grid_colour: str
    grayscale: bool


class ImageInfo(_Strict):
    width: int
    height: int
    format: str | None = None


class DistortionLog(_Strict):
    name: str
    params: dict


class Sidecar(_Strict):
    schema_version: str = SCHEMA
    record_id: str
    fs: float
    leads: list[str]
    start_s: float
    duration_s: float
    layout: LayoutInfo
    scale: Scale
    paper: PaperInfo
    image: ImageInfo
    header: dict
    lead_boxes: list[LeadBox]
    distortions: list[DistortionLog]
    background: list[int] | None
    matrix: list[list[float]]
    seed: int
    renderer: str

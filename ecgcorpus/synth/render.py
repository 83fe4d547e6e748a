"""render(): an ECG → a paper-ECG image (BGR array) and its sidecar; encode() → PNG/JPEG bytes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import cv2
import numpy as np

from .. import __version__
from ..errors import EcgCorpusError
from ..types import ECG, RecordRef
from .distortions import distort
from .geometry import transform_box
from .header import draw_footer, draw_header, header_columns
from .layout import auto_layout, parse_layout, plan_page
from .options import PageOptions
from .png import encode_png
from .paper import paper_image
from .sidecar import ImageInfo, LayoutInfo, LeadBox, PaperInfo, Scale, Sidecar
from .trace import draw_leads


@dataclass
class Rendered:
    image: np.ndarray      # BGR uint8
    sidecar: dict

    def encode(self, fmt: str = "png", quality: int = 92) -> bytes:
        self.sidecar["image"]["format"] = fmt
        return encode(self.image, fmt, quality)


@contextmanager
def single_threaded_opencv() -> Iterator[None]:
    """OpenCV on one thread for the page: some of its parallel kernels round at the borders of
    their stripes, and the stripes depend on the thread count, so a page must not depend on how
    many threads the calling process happens to run (a 1-worker build runs in the main process)."""
    before = cv2.getNumThreads()
    if before == 1:
        yield
        return
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(before)


def render(ecg: ECG, ref: RecordRef | None = None, options: PageOptions | None = None,
           distortions=(), seed: int = 0, overrides: dict[str, dict] | None = None) -> Rendered:
    """Print ``ecg`` on paper as ``options`` say, then apply the named distortions with ``seed``.
    The pixels depend on nothing else: not on the process, nor on its thread count."""
    with single_threaded_opencv():
        return _render(ecg, ref, options or PageOptions(), distortions, seed, overrides)


def _render(ecg: ECG, ref: RecordRef | None, options: PageOptions, distortions, seed: int,
            overrides: dict[str, dict] | None) -> Rendered:
    ecg = ecg.reorder()
    start = int(round(options.start_s * ecg.fs))
    if start >= ecg.n_samples:
        raise EcgCorpusError(f"{ecg.record_id}: start {options.start_s:g} s is past the end ({ecg.duration_s:g} s)")
    signal = ecg.signal[:, start:]
    layout = parse_layout(auto_layout(ecg.leads) if options.layout == "auto" else options.layout)
    plan = plan_page(layout, ecg.leads, signal.shape[1] / ecg.fs, options.paper, options.speed, options.gain)
    px_per_mm = options.dpi / 25.4
    width, height = int(round(plan.width_mm * px_per_mm)), int(round(plan.height_mm * px_per_mm))

    page = paper_image(height, width, px_per_mm, options.grid_colour, options.grid)
    drawn = draw_leads(page, dict(zip(ecg.leads, signal)), ecg.fs, plan, px_per_mm,
                       options.labels, options.calibration, options.separators)
    columns = header_columns(ecg.record_id, ref, options.header)
    draw_header(page, columns, px_per_mm)
    if options.header != "none":
        draw_footer(page, plan, px_per_mm, f"{ecg.fs:g} Hz")
    if options.grayscale:
        page = cv2.cvtColor(cv2.cvtColor(page, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)

    result = distort(page, px_per_mm, distortions, seed, overrides)
    size = (result.image.shape[1], result.image.shape[0])
    boxes = []
    for lead in drawn:
        box, quad, visible = transform_box(lead.box, result.matrix, size)
        label = transform_box(lead.label_box, result.matrix, size)[0] if lead.label_box else None
        p = lead.panel
        boxes.append(LeadBox(
            lead=p.lead, row=p.row, col=p.col, rhythm=p.rhythm, t_start=round(p.t_start, 4), t_end=round(p.t_end, 4),
            box=_r(box), quad=[_r(q) for q in quad], visible=round(visible, 4),
            label_box=_r(label) if label else None, page_box=_r(lead.box),
            baseline_px=round(lead.baseline_px, 3), origin_px=round(lead.origin_px, 3)))
    sidecar = Sidecar(
        record_id=ecg.record_id, fs=float(ecg.fs), leads=list(ecg.leads), start_s=start / ecg.fs,
        duration_s=round(plan.duration_s, 4),
        layout=LayoutInfo(name=layout.name, rows=layout.rows, cols=layout.cols, rhythm=list(layout.rhythm)),
        scale=Scale(dpi=options.dpi, px_per_mm=round(px_per_mm, 6), px_per_mv=round(px_per_mm * plan.gain, 6),
                    px_per_s=round(px_per_mm * plan.speed, 6), speed_mm_s=plan.speed, gain_mm_mv=plan.gain),
        paper=PaperInfo(size=plan.paper, width_mm=plan.width_mm, height_mm=plan.height_mm, grid=options.grid,
                        grid_colour=options.grid_colour, grayscale=options.grayscale),
        image=ImageInfo(width=size[0], height=size[1]),
        header={"mode": options.header, "lines": [line for col in columns for line in col]},
        lead_boxes=boxes, distortions=result.log, background=result.background,
        matrix=[[round(float(v), 9) for v in row] for row in result.matrix], seed=int(seed),
        renderer=f"ecgcorpus.synth {__version__}",
    )
    return Rendered(result.image, sidecar.model_dump(mode="json"))


def encode(image: np.ndarray, fmt: str = "png", quality: int = 92) -> bytes:
    if fmt == "png":
        return encode_png(image)
    if fmt not in ("jpeg", "jpg"):
        raise EcgCorpusError(f"image format {fmt!r}: use png or jpeg")
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise EcgCorpusError(f"OpenCV could not encode the image as {fmt}")
    return buf.tobytes()


def _r(values, nd: int = 2) -> list[float]:
    return [round(float(v), nd) for v in values]

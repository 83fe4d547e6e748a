"""Paper-ECG images: layouts, paper grid, traces, header, distortions, JSON sidecar (OpenCV + numpy)."""

from .distortions import DISTORTIONS, NAMES as DISTORTION_NAMES, resolve as resolve_distortions
from .layout import PAPERS_MM, auto_layout, parse_layout
from .options import PageOptions
from .render import Rendered, encode, render

__all__ = ["DISTORTIONS", "DISTORTION_NAMES", "PAPERS_MM", "PageOptions", "Rendered", "auto_layout", "encode",
           "parse_layout", "render", "resolve_distortions"]

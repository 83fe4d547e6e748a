"""What a page looks like before any distortion: layout, paper, scale, header."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .layout import GAINS_MM_MV, SPEEDS_MM_S, LayoutError, parse_layout
from .paper import GRID_STYLES


class PageOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    layout: str = Field(default="auto", description="ROWSxCOLS[+LEAD,…] (3x4+II, 6x2, 12x1, 2x1, 1x1) or auto")
    paper: Literal["letter", "a4"] = "letter"
    dpi: int = Field(default=200, ge=100, le=300)
    speed: float = Field(default=25.0, description="paper speed, mm/s (25 or 50)")
    gain: float = Field(default=10.0, description="mm/mV (5, 10 or 20)")
    grid_colour: str = "red"
    grid: bool = True
    grayscale: bool = False
    header: Literal["full", "deid", "none"] = "full"   # none: no header and no footer text
    labels: bool = True
    calibration: bool = True
    separators: bool = True
    start_s: float = Field(default=0.0, ge=0, description="first second of the record to print")

    @field_validator("layout")
    @classmethod
    def _layout(cls, v: str) -> str:
        if v != "auto":
            try:
                parse_layout(v)
            except LayoutError as exc:
                raise ValueError(str(exc)) from None
        return v

    @field_validator("speed", "gain", "grid_colour")
    @classmethod
    def _one_of(cls, v, info):
        allowed = _ALLOWED[info.field_name]
        if v not in allowed:
            raise ValueError(f"use one of {', '.join(f'{a:g}' if isinstance(a, float) else str(a) for a in allowed)}")
        return v


_ALLOWED = {"speed": SPEEDS_MM_S, "gain": GAINS_MM_MV, "grid_colour": tuple(GRID_STYLES)}

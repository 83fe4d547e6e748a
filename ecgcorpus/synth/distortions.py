"""The distortion registry and pipeline: paper marks, damage and light → one geometric warp → photometric.

Each distortion draws its parameters from its own generator, seeded by (seed, name), so turning
one on or off never changes the others; the parameters are logged and, with the seed, reproduce
the image exactly.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..errors import EcgCorpusError
from . import damage, geometry, marks, photo
from .sheet import Sheet


@dataclass(frozen=True)
class Distortion:
    name: str
    stage: str          # paper (drawn on / shading / lighting the sheet) | geometry (a homography) | photo (whole image)
    sample: Callable
    apply: Callable     # paper: (sheet, params, rng); geometry: (params, size) → (matrix, size); photo: (img, params, rng) → img
    about: str


DISTORTIONS: dict[str, Distortion] = {d.name: d for d in (
    Distortion("qr", "paper", marks.sample_qr, marks.apply_qr, "a printed QR-like code patch"),
    Distortion("handwriting", "paper", marks.sample_handwriting, marks.apply_handwriting,
               "handwritten words and pen strokes"),
    Distortion("stamp", "paper", marks.sample_stamp, marks.apply_stamp, "an ink stamp with uneven ink"),
    Distortion("wrinkles", "paper", damage.sample_wrinkles, damage.apply_wrinkles, "crumpled-paper shading"),
    Distortion("creases", "paper", damage.sample_creases, damage.apply_creases, "fold lines with shading"),
    Distortion("rotation", "geometry", geometry.sample_rotation, geometry.rotation_matrix, "rotation by a few degrees"),
    Distortion("perspective", "geometry", geometry.sample_perspective, geometry.perspective_matrix,
               "a camera's perspective (corners moved)"),
    Distortion("crop", "geometry", geometry.sample_crop, geometry.crop_matrix, "cropped or padded margins"),
    Distortion("color", "paper", photo.sample_color, photo.apply_color, "colour temperature, brightness, contrast, gamma"),
    # Noise before blur: grain and specks are softened by the optics like the print is (and the
    # image stays compressible, which matters for PNG size and write time).
    Distortion("noise", "photo", photo.sample_noise, photo.apply_noise, "Gaussian and salt-and-pepper noise"),
    Distortion("blur", "photo", photo.sample_blur, photo.apply_blur, "Gaussian blur"),
    Distortion("jpeg", "photo", photo.sample_jpeg, photo.apply_jpeg, "JPEG compression artefacts"),
)}
NAMES: tuple[str, ...] = tuple(DISTORTIONS)


@dataclass
class Distorted:
    image: np.ndarray
    matrix: np.ndarray                 # page px → image px (3×3, cv2 centre convention)
    log: list[dict[str, Any]] = field(default_factory=list)
    background: list[int] | None = None


def resolve(names) -> list[str]:
    """Names in pipeline order; ``all`` expands; unknown names are an error."""
    wanted = set()
    for name in names or ():
        for part in str(name).split(","):
            part = part.strip()
            if not part:
                continue
            if part == "all":
                wanted.update(NAMES)
            elif part in DISTORTIONS:
                wanted.add(part)
            else:
                raise EcgCorpusError(f"unknown distortion {part!r}; known: {', '.join(NAMES)}, all")
    return [n for n in NAMES if n in wanted]


def rng_for(seed: int, name: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def distort(page: np.ndarray, px_per_mm: float, names, seed: int,
            overrides: dict[str, dict] | None = None) -> Distorted:
    """Apply the named distortions (pipeline order) to a rendered page."""
    names = resolve(names)
    overrides = overrides or {}
    log = []
    sheet = Sheet(page, px_per_mm)
    matrix, size = np.eye(3), (page.shape[1], page.shape[0])
    geometric = []
    for name in names:
        d = DISTORTIONS[name]
        rng = rng_for(seed, name)
        if d.stage == "paper":
            params = {**d.sample(rng, sheet), **overrides.get(name, {})}
            d.apply(sheet, params, rng)
        elif d.stage == "geometry":
            params = {**d.sample(rng, size, px_per_mm), **overrides.get(name, {})}
            step, size = d.apply(params, size)
            matrix = step @ matrix
            geometric.append(name)
        else:
            continue
        log.append({"name": name, "params": params})
    sheet.settle()
    image, background = sheet.image, None
    if geometric:
        rng = rng_for(seed, "background")
        key = str(rng.choice(list(geometry.BACKGROUNDS)))
        background = [int(np.clip(v + rng.normal(0, 6), 0, 255)) for v in geometry.BACKGROUNDS[key]]
        image = geometry.warp(image, matrix, size, sheet.lit(background))
    image = sheet.develop(image)
    for name in names:
        d = DISTORTIONS[name]
        if d.stage != "photo":
            continue
        rng = rng_for(seed, name)
        params = {**d.sample(rng, px_per_mm), **overrides.get(name, {})}
        image = d.apply(image, params, rng)
        log.append({"name": name, "params": params})
    return Distorted(image, matrix, log, background)

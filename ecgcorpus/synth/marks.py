"""Things printed or written on the paper: a QR-like patch, handwriting, stamps."""

from __future__ import annotations

import cv2
import numpy as np

from .layout import MARGIN_MM
from .sheet import Sheet
from .text import FONT, SCRIPT, put_text, text_box

INKS = {"blue": (150, 60, 25), "black": (35, 30, 30), "red": (45, 40, 185), "purple": (140, 45, 110),
        "green": (60, 120, 30)}   # BGR
# Our own short clinical scribbles (not from any dataset).
# Handwritten notes carry no finding: a vision model trained on these pages must not learn to
# read a diagnosis ("AF?", "ST elev?") off a note that has nothing to do with the trace.
WORDS = ("see prev.", "repeat ECG", "call Dr. K", "reviewed", "initials", "seen", "compare", "bed 12",
         "pre-op", "file", "copy to GP", "pt ID ok", "ward 4", "fax", "2nd copy", "scan", "OPD", "signed",
         "for review", "clinic", "re-do leads", "ok", "urgent", "night shift")
STAMP_WORDS = ("RECEIVED", "REVIEWED", "COPY", "CONFIDENTIAL", "VERIFIED", "FILED", "SCANNED", "ARCHIVE")
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


# --- QR-like patch ---------------------------------------------------------------------------------

def sample_qr(rng: np.random.Generator, sheet: Sheet) -> dict:
    size = float(rng.uniform(15, 22))
    width_mm = sheet.width / sheet.px_per_mm
    return {"x_mm": round(width_mm - MARGIN_MM - size - float(rng.uniform(0, 6)), 2),
            "y_mm": round(float(rng.uniform(1.5, 4)), 2), "size_mm": round(size, 2),
            "modules": int(rng.choice([21, 25, 29])), "payload": int(rng.integers(2**31))}


def apply_qr(sheet: Sheet, p: dict, rng: np.random.Generator) -> None:
    modules = qr_modules(p["modules"], np.random.default_rng(p["payload"]))
    quiet = 2
    padded = np.pad(modules, quiet)
    size = int(round(p["size_mm"] * sheet.px_per_mm))
    patch = cv2.resize(np.where(padded, 0, 255).astype(np.uint8), (size, size), interpolation=cv2.INTER_NEAREST)
    x, y = int(round(p["x_mm"] * sheet.px_per_mm)), int(round(p["y_mm"] * sheet.px_per_mm))
    roi = sheet.image[y:y + size, x:x + size]
    roi[:] = patch[:roi.shape[0], :roi.shape[1], None]


def qr_modules(n: int, rng: np.random.Generator) -> np.ndarray:
    """An n×n module matrix laid out like a QR symbol: finder, timing and alignment patterns, random data."""
    m = rng.random((n, n)) < 0.5
    m[:8, :8] = m[:8, -8:] = m[-8:, :8] = False      # separators around the finders
    for r, c in ((0, 0), (0, n - 7), (n - 7, 0)):
        m[r:r + 7, c:c + 7] = True
        m[r + 1:r + 6, c + 1:c + 6] = False
        m[r + 2:r + 5, c + 2:c + 5] = True
    m[6, 8:n - 8] = m[8:n - 8, 6] = (np.arange(8, n - 8) % 2 == 0)
    if n >= 25:                                        # version ≥ 2: one alignment pattern
        a = n - 9
        m[a - 2:a + 3, a - 2:a + 3] = True
        m[a - 1:a + 2, a - 1:a + 2] = False
        m[a, a] = True
    return m


# --- handwriting ---------------------------------------------------------------------------------

def sample_handwriting(rng: np.random.Generator, sheet: Sheet) -> dict:
    w_mm, h_mm = sheet.width / sheet.px_per_mm, sheet.height / sheet.px_per_mm
    ink = str(rng.choice(["blue", "black", "red"], p=[0.6, 0.3, 0.1]))
    words = [{"text": str(rng.choice(WORDS)), "x_mm": round(float(rng.uniform(0.05, 0.75) * w_mm), 2),
              "y_mm": round(float(rng.uniform(0.15, 0.95) * h_mm), 2),
              "height_mm": round(float(rng.uniform(3.5, 6.5)), 2), "angle": round(float(rng.uniform(-15, 15)), 2)}
             for _ in range(int(rng.integers(2, 6)))]
    strokes = [{"kind": str(rng.choice(["underline", "circle", "arrow", "tick"])),
                "x_mm": round(float(rng.uniform(0.1, 0.9) * w_mm), 2), "y_mm": round(float(rng.uniform(0.2, 0.9) * h_mm), 2),
                "size_mm": round(float(rng.uniform(8, 30)), 2), "angle": round(float(rng.uniform(-30, 30)), 2)}
               for _ in range(int(rng.integers(1, 4)))]
    return {"ink": ink, "words": words, "strokes": strokes}


def apply_handwriting(sheet: Sheet, p: dict, rng: np.random.Generator) -> None:
    ink = INKS[p["ink"]]
    pxmm = sheet.px_per_mm
    for w in p["words"]:
        height = w["height_mm"] * pxmm
        width, cap, descent = text_box(w["text"], height, SCRIPT)
        mask = np.zeros((int(cap + descent + height), int(width + height)), np.uint8)
        put_text(mask, w["text"], height / 2, cap + height / 4, height, 255, SCRIPT, max(1, int(round(0.3 * pxmm))))
        mask = _wobble(mask, rng, 0.08 * height)
        _stamp_mask(sheet.image, _rotate(mask, w["angle"]), w["x_mm"] * pxmm, w["y_mm"] * pxmm, ink, 0.9)
    thick = max(1, int(round(0.35 * pxmm)))
    for s in p["strokes"]:
        pts = _stroke_points(s, rng) * pxmm
        cv2.polylines(sheet.image, [np.rint(pts * 16).astype(np.int32)], False, ink, thick, cv2.LINE_AA, 4)


def _stroke_points(s: dict, rng: np.random.Generator) -> np.ndarray:
    """A pen stroke in mm, with a hand's slow wobble."""
    size = s["size_mm"]
    t = np.linspace(0, 1, 80)
    if s["kind"] == "circle":
        a = 2 * np.pi * t * 1.08
        pts = np.stack([0.5 * size * np.cos(a), 0.32 * size * np.sin(a)], 1)
    elif s["kind"] == "underline":
        pts = np.stack([size * t, 0.6 * np.sin(3 * t)], 1)
    elif s["kind"] == "tick":
        pts = np.stack([size * 0.4 * t, np.where(t < 0.3, t, 0.6 - t) * size * 0.5], 1)
    else:  # arrow: a shaft and a head
        shaft = np.stack([size * t, np.zeros_like(t)], 1)
        head = np.array([[size - 3, -2.0], [size, 0.0], [size - 3, 2.0]])
        pts = np.concatenate([shaft, head])
    wobble = np.cumsum(rng.normal(0, 0.08, pts.shape), axis=0)
    pts = pts + wobble - wobble.mean(0)
    a = np.deg2rad(s["angle"])
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return pts @ rot.T + [s["x_mm"], s["y_mm"]]


# --- stamps --------------------------------------------------------------------------------------

def sample_stamp(rng: np.random.Generator, sheet: Sheet) -> dict:
    w_mm, h_mm = sheet.width / sheet.px_per_mm, sheet.height / sheet.px_per_mm
    day = f"{int(rng.integers(1, 29)):02d} {rng.choice(MONTHS)} {int(rng.integers(1990, 2024))}"
    return {"lines": [str(rng.choice(STAMP_WORDS)), day], "shape": str(rng.choice(["rect", "ellipse"])),
            "width_mm": round(float(rng.uniform(38, 60)), 2), "x_mm": round(float(rng.uniform(0.1, 0.7) * w_mm), 2),
            "y_mm": round(float(rng.uniform(0.2, 0.8) * h_mm), 2), "angle": round(float(rng.uniform(-25, 25)), 2),
            "ink": str(rng.choice(["red", "blue", "purple"])), "opacity": round(float(rng.uniform(0.55, 0.85)), 3)}


def apply_stamp(sheet: Sheet, p: dict, rng: np.random.Generator) -> None:
    pxmm = sheet.px_per_mm
    w = int(p["width_mm"] * pxmm)
    h = int(w * 0.45)
    mask = np.zeros((h, w), np.uint8)
    line = max(2, int(round(0.6 * pxmm)))
    if p["shape"] == "rect":
        cv2.rectangle(mask, (line, line), (w - line - 1, h - line - 1), 255, line, cv2.LINE_AA)
        cv2.rectangle(mask, (3 * line, 3 * line), (w - 3 * line - 1, h - 3 * line - 1), 255, max(1, line // 2), cv2.LINE_AA)
    else:
        cv2.ellipse(mask, (w // 2, h // 2), (w // 2 - line, h // 2 - line), 0, 0, 360, 255, line, cv2.LINE_AA)
    big, small = h * 0.22, h * 0.13
    for text, size, yy in ((p["lines"][0], big, h * 0.47), (p["lines"][1], small, h * 0.75)):
        tw = text_box(text, size, FONT)[0]
        scale = min(1.0, 0.8 * w / max(tw, 1))
        put_text(mask, text, (w - tw * scale) / 2, yy, size * scale, 255, FONT)
    # Uneven ink: a coarse random field knocks holes into the impression.
    speckle = cv2.resize(rng.random((max(2, h // 6), max(2, w // 6))).astype(np.float32), (w, h))
    mask = (mask * np.clip(speckle * 1.6, 0, 1)).astype(np.uint8)
    _stamp_mask(sheet.image, _rotate(mask, p["angle"]), p["x_mm"] * pxmm, p["y_mm"] * pxmm, INKS[p["ink"]],
                p["opacity"])


# --- helpers -------------------------------------------------------------------------------------

def _rotate(mask: np.ndarray, angle: float) -> np.ndarray:
    """Rotate a mask about its centre into a canvas big enough to hold it."""
    h, w = mask.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(h * sin + w * cos) + 2, int(h * cos + w * sin) + 2
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    return cv2.warpAffine(mask, m, (nw, nh), flags=cv2.INTER_LINEAR)


def _wobble(mask: np.ndarray, rng: np.random.Generator, amplitude: float) -> np.ndarray:
    """A hand's unsteadiness: a smooth random displacement of the strokes, and a random slant."""
    h, w = mask.shape
    shift = [cv2.resize(rng.normal(0, amplitude, (3, max(2, w // max(int(h), 1) * 2))).astype(np.float32), (w, h),
                        interpolation=cv2.INTER_CUBIC) for _ in range(2)]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    slant = float(rng.uniform(-0.25, 0.05))
    return cv2.remap(mask, xs + shift[0] + slant * (ys - h / 2), ys + shift[1], cv2.INTER_LINEAR)


def _stamp_mask(image: np.ndarray, mask: np.ndarray, x: float, y: float, ink, opacity: float) -> None:
    """Blend ``ink`` into ``image`` through ``mask`` (0..255) with its top-left at (x, y); clipped at edges."""
    H, W = image.shape[:2]
    x0, y0 = int(round(x)), int(round(y))
    a0, b0 = max(0, -x0), max(0, -y0)
    x1, y1 = min(W, x0 + mask.shape[1]), min(H, y0 + mask.shape[0])
    if x1 <= max(x0, 0) or y1 <= max(y0, 0):
        return
    m = mask[b0:b0 + y1 - max(y0, 0), a0:a0 + x1 - max(x0, 0)].astype(np.float32) * (opacity / 255.0)
    roi = image[max(y0, 0):y1, max(x0, 0):x1]
    # Ink absorbs light: multiply (a blue stamp over a black trace leaves the trace black).
    absorb = 1.0 - np.array(ink, np.float32) / 255.0
    roi[:] = (roi * (1.0 - m[..., None] * absorb)).astype(np.uint8)

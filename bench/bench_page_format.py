"""PNG or JPEG for paper-ECG pages: bytes per page and encode time, in the same run.

Renders standard and augmented pages (the image builder's variants) from the genuine PTB-XL
records of tests/data and encodes each page both ways (PNG: libdeflate, our encoder; JPEG: OpenCV
at the builder's default quality). ECGInstruct's pages average about 1.8 MB; the ratios below say
how far each format is from that and from the other.

    python bench/bench_page_format.py [--images 6] [--dpi 200]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import pathlib  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

from ecgcorpus.builders.image import ImageParams  # noqa: E402
from ecgcorpus.sources import open_source  # noqa: E402
from ecgcorpus.synth import PageOptions, render  # noqa: E402

DATA = pathlib.Path(__file__).resolve().parents[1] / "tests" / "data" / "ptbxl"
ECGINSTRUCT_MB = 1.8


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=6)
    ap.add_argument("--dpi", type=int, default=200)
    args = ap.parse_args()
    quality = ImageParams.model_fields["jpeg_quality"].default
    src = open_source("ptbxl", DATA, rate=500)
    pages = []
    for ref in src.scan():
        try:
            ecg = src.load(ref)
        except Exception:
            continue                                   # the test copy holds 12 of the table's records
        pages.append((ecg, ref))
        if len(pages) == args.images:
            break
    augmented = ["wrinkles", "creases", "rotation", "crop", "color", "noise"]
    results = {}
    for variant, distortions in (("standard", []), ("augmented", augmented)):
        sizes = {"png": [], "jpeg": []}
        seconds = {"png": [], "jpeg": []}
        for i, (ecg, ref) in enumerate(pages):
            rendered = render(ecg, ref, PageOptions(dpi=args.dpi), distortions, seed=i)
            for fmt in ("png", "jpeg"):          # alternate, so both see the same load
                t0 = time.perf_counter()
                data = rendered.encode(fmt, quality)
                seconds[fmt].append(time.perf_counter() - t0)
                sizes[fmt].append(len(data))
        for fmt in ("png", "jpeg"):
            results[f"{variant}_{fmt}_mb"] = statistics.mean(sizes[fmt]) / 1e6
            results[f"{variant}_{fmt}_encode_s"] = statistics.median(seconds[fmt])
        results[f"{variant}_size_ratio_png_vs_jpeg"] = statistics.mean(sizes["png"]) / statistics.mean(sizes["jpeg"])
        results[f"{variant}_time_ratio_png_vs_jpeg"] = (statistics.median(seconds["png"])
                                                        / statistics.median(seconds["jpeg"]))
        results[f"{variant}_png_vs_ecginstruct"] = results[f"{variant}_png_mb"] / ECGINSTRUCT_MB
        results[f"{variant}_jpeg_vs_ecginstruct"] = results[f"{variant}_jpeg_mb"] / ECGINSTRUCT_MB
    for key, value in results.items():
        print(f"{key:42s} {value:.3f}")
    print("RESULT bench_page_format " + " ".join(f"{k}={v:.3f}" for k, v in results.items()))


if __name__ == "__main__":
    main()

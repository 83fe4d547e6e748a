"""Paper-ECG image speed: ecgcorpus.synth (OpenCV) against a matplotlib rendering of the same page.

The reference draws what ecg-image-kit draws with matplotlib (1 mm / 5 mm grid lines one by
one, 12 lead segments + the lead II rhythm strip, calibration pulses, labels, header text) and
saves a PNG at the same DPI: the straightforward way, measured here in the same run. Ours is
timed plain, with ecg-image-kit's full feature set (its 7.1 s "wrinkles +
augmentation + header + QR", i.e. header, QR code, wrinkles and creases, and its augmentation:
rotation, crop, colour temperature, noise) and with every distortion we have (that set plus
handwriting, stamp, perspective, blur, JPEG artefacts), each image written as PNG. Single core: the reference runs in a second process, strictly alternating with
ours, so both see the same machine load and matplotlib's allocations do not reshape our heap.

    python bench/bench_synth.py [--images 8] [--dpi 200]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import multiprocessing  # noqa: E402
import pathlib  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from ecgcorpus.engine.worker import prepare_worker  # noqa: E402
from ecgcorpus.sources import open_source  # noqa: E402
from ecgcorpus.synth import PageOptions, render  # noqa: E402
from ecgcorpus.synth.layout import PULSE_GAP_MM, PULSE_S, parse_layout, plan_page  # noqa: E402

DATA = pathlib.Path(__file__).resolve().parents[1] / "tests" / "data" / "ptbxl"
ECG_IMAGE_KIT_S = {"plain": 2.0, "full": 7.1}   # ecg-image-kit's own s/image, median of 8 runs
# What ecg-image-kit's "full" run turned on (wrinkles, augmentation, header, QR), in our names: its
# wrinkles are our wrinkles and creases, its augmentation our rotation, crop, color and noise, and
# its print_header our default header. Handwritten text was not part of that run.
KIT_FEATURES = ["qr", "wrinkles", "creases", "rotation", "crop", "color", "noise"]


def ours(ecg, ref, dpi: int, distortions, seed: int, out: pathlib.Path) -> tuple[float, float, float]:
    """(render, PNG encode, file write) seconds; the page's cost is their sum."""
    t0 = time.perf_counter()
    rendered = render(ecg, ref, PageOptions(dpi=dpi), distortions, seed)
    t1 = time.perf_counter()
    data = rendered.encode("png")
    t2 = time.perf_counter()
    out.write_bytes(data)
    return t1 - t0, t2 - t1, time.perf_counter() - t2


def matplotlib_page(ecg, ref, dpi: int, out: pathlib.Path) -> float:
    """The same page the matplotlib way: grid lines, ax.plot per panel, ax.text, savefig PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = time.perf_counter()
    plan = plan_page(parse_layout("3x4+II"), ecg.leads, ecg.duration_s)
    w, h = plan.width_mm, plan.height_mm
    fig = plt.figure(figsize=(w / 25.4, h / 25.4), dpi=dpi)
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_xlim(0, w)
    ax.set_ylim(h, 0)
    ax.axis("off")
    for k in range(int(w) + 1):
        ax.axvline(k, color="#e66e6e" if k % 5 == 0 else "#f8c4c4", lw=0.6 if k % 5 == 0 else 0.3, zorder=0)
    for k in range(int(h) + 1):
        ax.axhline(k, color="#e66e6e" if k % 5 == 0 else "#f8c4c4", lw=0.6 if k % 5 == 0 else 0.3, zorder=0)
    signal = ecg.signal
    for p in plan.panels:
        i0, i1 = int(p.t_start * ecg.fs), int(p.t_end * ecg.fs)
        mv = signal[ecg.leads.index(p.lead), i0:i1]
        x = p.x0_mm + (np.arange(mv.size) / ecg.fs) * plan.speed
        ax.plot(x, p.baseline_mm - mv * plan.gain, color="black", lw=0.9)
        ax.text(p.x0_mm + 1, p.baseline_mm - 7, p.lead, fontsize=9)
    for y in plan.row_baselines_mm:
        x0 = plan.pulse_x0_mm
        xs = [x0, x0 + PULSE_GAP_MM, x0 + PULSE_GAP_MM, x0 + PULSE_GAP_MM + PULSE_S * plan.speed,
              x0 + PULSE_GAP_MM + PULSE_S * plan.speed, x0 + 2 * PULSE_GAP_MM + PULSE_S * plan.speed]
        ax.plot(xs, [y, y, y - plan.gain, y - plan.gain, y, y], color="black", lw=0.9)
    for k, line in enumerate([f"ID: {ref.record_id}", f"Age: {ref.age}  Sex: {ref.sex}", f"Date: {ref.acquired}"]):
        ax.text(8, 11 + 5 * k, line, fontsize=9)
    ax.text(plan.trace_x0_mm, h - 8, f"{plan.speed:g} mm/s    {plan.gain:g} mm/mV", fontsize=9)
    fig.savefig(out, dpi=dpi)
    plt.close(fig)
    return time.perf_counter() - t



def reference_process(conn, dpi: int) -> None:
    """Serve matplotlib pages on request: the path to write in, the seconds it took out."""
    prepare_worker()
    src = open_source("ptbxl", str(DATA))
    ref = src.get("ptbxl:1")
    ecg = src.load(ref)
    while (path := conn.recv()) is not None:
        conn.send(matplotlib_page(ecg, ref, dpi, pathlib.Path(path)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=8)
    ap.add_argument("--dpi", type=int, default=200)
    args = ap.parse_args()
    prepare_worker()                     # one thread, allocator keeps freed pages: as in a build worker
    src = open_source("ptbxl", str(DATA))
    ref = src.get("ptbxl:1")
    ecg = src.load(ref)
    conn, child_end = multiprocessing.Pipe()
    reference = multiprocessing.get_context("spawn").Process(target=reference_process, args=(child_end, args.dpi))
    reference.start()

    def matplotlib_elsewhere(path: pathlib.Path) -> float:
        conn.send(str(path))
        return conn.recv()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        ours(ecg, ref, args.dpi, ["all"], 0, tmp / "warm.png")          # imports, page cache, font tables
        matplotlib_elsewhere(tmp / "warm-mpl.png")
        plain, kit, full, mpl, sizes = [], [], [], [], []
        for k in range(args.images):                                     # interleaved: same machine load for all
            plain.append(ours(ecg, ref, args.dpi, [], k, tmp / f"plain-{k}.png"))
            kit.append(ours(ecg, ref, args.dpi, KIT_FEATURES, k, tmp / f"kit-{k}.png"))
            full.append(ours(ecg, ref, args.dpi, ["all"], k, tmp / f"full-{k}.png"))
            mpl.append(matplotlib_elsewhere(tmp / f"mpl-{k}.png"))
            sizes.append((tmp / f"kit-{k}.png").stat().st_size)
        conn.send(None)
        reference.join()
    s_plain, s_kit, s_full = (statistics.median(sum(t) for t in v) for v in (plain, kit, full))
    s_mpl = statistics.median(mpl)
    kit_render, kit_encode, kit_write = (statistics.median(t[i] for t in kit) for i in range(3))
    print(f"{args.images} images each, {args.dpi} dpi letter, 3x4+II, PTB-XL record 1, one core, PNG written")
    print(f"matplotlib reference (plain page): {s_mpl:.3f} s/image")
    print(f"ecgcorpus.synth plain:             {s_plain:.3f} s/image  ({s_mpl / s_plain:.1f}x faster)")
    print(f"ecgcorpus.synth ecg-image-kit set: {s_kit:.3f} s/image  ({', '.join(KIT_FEATURES)}; PNG "
          f"{statistics.median(sizes) / 1e6:.1f} MB)")
    print(f"   of which (medians) render {kit_render:.3f} s, PNG encode {kit_encode:.3f} s, file write {kit_write:.3f} s")
    print(f"ecgcorpus.synth all distortions:   {s_full:.3f} s/image  ({s_mpl / s_full:.1f}x faster than the "
          f"reference's plain page)")
    print(f"against ecg-image-kit's recorded times ({ECG_IMAGE_KIT_S['plain']} s plain, "
          f"{ECG_IMAGE_KIT_S['full']} s full): {ECG_IMAGE_KIT_S['plain'] / s_plain:.0f}x plain, "
          f"{ECG_IMAGE_KIT_S['full'] / s_kit:.0f}x its full set, {ECG_IMAGE_KIT_S['full'] / s_full:.0f}x with all of ours "
          f"(target: its full set <= 0.15 s/image, 50x)")
    print(f"RESULT bench_synth ratio_plain_vs_matplotlib={s_mpl / s_plain:.1f} "
          f"ratio_full_vs_matplotlib_plain={s_mpl / s_full:.1f} s_per_image_plain={s_plain:.3f} "
          f"s_per_image_kit_set={s_kit:.3f} kit_render={kit_render:.3f} kit_png_encode={kit_encode:.3f} "
          f"kit_write={kit_write:.3f} ratio_kit_set_vs_matplotlib_plain={s_mpl / s_kit:.1f} "
          f"s_per_image_all={s_full:.3f} s_per_image_matplotlib={s_mpl:.3f} "
          f"ratio_kit_set_vs_ecg_image_kit_full={ECG_IMAGE_KIT_S['full'] / s_kit:.0f} "
          f"ratio_all_vs_ecg_image_kit_full={ECG_IMAGE_KIT_S['full'] / s_full:.0f}")


if __name__ == "__main__":
    main()

"""`ecgcorpus synth`: paper-ECG images of single records."""

from __future__ import annotations

import json
import os

import click
from pydantic import ValidationError

from .cli_common import UserError, complete_sources, user_errors

_FORMATS = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg"}


@click.group()
def synth():
    """Synthesize paper-ECG images (layouts, grid, header, distortions) with JSON sidecars."""


@synth.command("image")
@click.argument("source", shell_complete=complete_sources)
@click.argument("root", type=click.Path(exists=True, file_okay=False))
@click.argument("record_id")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False),
              help="Image file (.png, .jpg); its sidecar is written to FILE.json.")
@click.option("--layout", default="auto", show_default=True,
              help="ROWSxCOLS[+LEAD,…]: 3x4+II, 3x4, 6x2, 12x1, 2x1, 1x1 … (auto: 3x4+II for 12 leads, "
                   "one strip per lead for reduced sets).")
@click.option("--distort", "distort", multiple=True, metavar="NAME",
              help="Distortion to apply (repeat, or comma-separate; 'all' for every one): qr, handwriting, "
                   "stamp, wrinkles, creases, rotation, perspective, crop, color, noise, blur, jpeg.")
@click.option("--seed", default=0, show_default=True, help="Seed of the distortions (same seed, same bytes).")
@click.option("--count", default=1, show_default=True,
              help="Render K variants with seeds S…S+K−1; FILE gets a -k suffix (out-0.png, out-1.png, …).")
@click.option("--dpi", default=200, show_default=True, help="Resolution, 100–300.")
@click.option("--paper", type=click.Choice(["letter", "a4"]), default="letter", show_default=True)
@click.option("--speed", type=float, default=25.0, show_default=True, help="Paper speed, mm/s (25 or 50).")
@click.option("--gain", type=float, default=10.0, show_default=True, help="Gain, mm/mV (5, 10 or 20).")
@click.option("--grid-colour", default="red", show_default=True, help="red, pink, blue, green, orange or gray.")
@click.option("--no-grid", is_flag=True, help="Plain paper without the grid.")
@click.option("--grayscale", is_flag=True, help="Print in shades of grey.")
@click.option("--header", type=click.Choice(["full", "deid", "none"]), default="full", show_default=True,
              help="Header text: full, de-identified (pseudonym, age band, no date) or none.")
@click.option("--start", "start_s", type=float, default=0.0, show_default=True,
              help="First second of the record to print.")
@click.option("--option", "-o", "options", multiple=True, metavar="KEY=VALUE",
              help="Source option, e.g. -o rate=100 for PTB-XL.")
@user_errors
def image(source, root, record_id, out, layout, distort, seed, count, dpi, paper, speed, gain, grid_colour,
          no_grid, grayscale, header, start_s, options):
    """Render one record of SOURCE under ROOT as a paper ECG image, with a JSON sidecar (FILE.json)
    holding the layout, scale, lead boxes and distortion parameters."""
    from .cli import _parse_options
    from .sources import open_source
    from .synth import PageOptions, render, resolve_distortions

    fmt = _FORMATS.get(os.path.splitext(out)[1].lower())
    if fmt is None:
        raise UserError(f"--out {out}: use a .png, .jpg or .jpeg file name")
    if count < 1:
        raise UserError("--count must be at least 1")
    names = resolve_distortions(distort)
    try:
        page = PageOptions(layout=layout, paper=paper, dpi=dpi, speed=speed, gain=gain, grid_colour=grid_colour,
                           grid=not no_grid, grayscale=grayscale, header=header, start_s=start_s)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise UserError(f"--{str(err['loc'][0]).replace('_', '-')}: {err['msg']}") from None
    src = open_source(source, root, **_parse_options(options))
    ref = src.get(record_id)
    ecg = src.load(ref)
    folder = os.path.dirname(os.path.abspath(out))
    os.makedirs(folder, exist_ok=True)
    for k in range(count):
        path = out if count == 1 else "{}-{}{}".format(*os.path.splitext(out)[:1], k, os.path.splitext(out)[1])
        rendered = render(ecg, ref, page, names, seed + k)
        data = rendered.encode(fmt)
        with open(path, "wb") as f:
            f.write(data)
        with open(path + ".json", "w", encoding="utf-8") as f:
            json.dump(rendered.sidecar, f, indent=1)
        size = rendered.sidecar["image"]
        click.echo(f"{path}  {size['width']}x{size['height']}  seed {seed + k}  "
                   f"distortions: {', '.join(names) or 'none'}  (+ {os.path.basename(path)}.json)")

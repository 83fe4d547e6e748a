"""Paper-ECG images: layouts and boxes, digitization round trip, distortions, sidecar, CLI, image builder."""

import json

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from ecgcorpus.errors import EcgCorpusError
from ecgcorpus.sources import open_source
from ecgcorpus.synth import DISTORTION_NAMES, PageOptions, parse_layout, render
from ecgcorpus.synth.header import header_columns
from ecgcorpus.synth.sidecar import Sidecar
from ecgcorpus.synth.trace import stroke_polylines, trace_thickness

FAST = dict(dpi=100)
INK_ONLY = dict(grid=False, header="none", labels=False, calibration=False, separators=False)


@pytest.fixture(scope="module")
def ptbxl(data_dir):
    src = open_source("ptbxl", str(data_dir / "ptbxl"))
    ref = src.get("ptbxl:1")
    return ref, src.load(ref)


@pytest.fixture(scope="module")
def mitdb(data_dir):
    src = open_source("wfdb-annotated", str(data_dir / "mitdb"))
    ref = next(iter(src.scan()))
    return ref, src.load(ref).crop(0, 3600)


def dark(image: np.ndarray, level: int = 128) -> np.ndarray:
    return image.max(axis=2) < level


# --- layouts ------------------------------------------------------------------------------------

@pytest.mark.parametrize("layout, rows, cols, per_col, span", [
    ("3x4+II", 3, 4, ["I II III", "aVR aVL aVF", "V1 V2 V3", "V4 V5 V6"], 2.5),
    ("6x2", 6, 2, ["I II III aVR aVL aVF", "V1 V2 V3 V4 V5 V6"], 5.0),
    ("12x1", 12, 1, ["I II III aVR aVL aVF V1 V2 V3 V4 V5 V6"], 10.0),
])
def test_layouts_place_leads_in_standard_cells(ptbxl, layout, rows, cols, per_col, span):
    ref, ecg = ptbxl
    car = render(ecg, ref, PageOptions(layout=layout, **FAST)).sidecar
    grid = [b for b in car["lead_boxes"] if not b["rhythm"]]
    assert [" ".join(b["lead"] for b in grid if b["col"] == c) for c in range(cols)] == per_col
    for b in grid:
        assert b["t_start"] == pytest.approx(b["col"] * span) and b["t_end"] - b["t_start"] == pytest.approx(span)
    # Rows go down the page; panels of one row go left to right without overlapping.
    by_row = {r: sorted((b for b in grid if b["row"] == r), key=lambda b: b["col"]) for r in range(rows)}
    assert [by_row[r][0]["baseline_px"] for r in range(rows)] == sorted(by_row[r][0]["baseline_px"] for r in range(rows))
    for panels in by_row.values():
        assert all(a["page_box"][2] <= b["page_box"][0] + 1 for a, b in zip(panels, panels[1:]))
    rhythm = [b for b in car["lead_boxes"] if b["rhythm"]]
    assert [b["lead"] for b in rhythm] == (["II"] if "+II" in layout else [])
    assert all(b["t_end"] == pytest.approx(10.0) for b in rhythm)


@pytest.mark.parametrize("layout", ["3x4+II", "6x2", "12x1"])
def test_lead_boxes_contain_their_traces(ptbxl, layout):
    ref, ecg = ptbxl
    rendered = render(ecg, ref, PageOptions(layout=layout, **FAST, **INK_ONLY))
    ink = dark(rendered.image)
    inside = np.zeros_like(ink)
    for b in rendered.sidecar["lead_boxes"]:
        x0, y0, x1, y1 = b["box"]
        region = ink[int(y0):int(np.ceil(y1)), int(x0):int(np.ceil(x1))]
        assert region.sum() > 0.5 * (x1 - x0)            # the trace is there, about one dark pixel per column
        inside[int(y0):int(np.ceil(y1)), int(x0):int(np.ceil(x1))] = True
    assert ink.sum() > 1000 and not (ink & ~inside).any()  # no ink outside every box


def test_reduced_lead_strips(mitdb):
    ref, ecg = mitdb
    car = render(ecg, ref, PageOptions(**FAST)).sidecar
    assert car["layout"]["name"] == "2x1" and [b["lead"] for b in car["lead_boxes"]] == ["II", "V5"]
    assert car["lead_boxes"][0]["t_end"] == pytest.approx(10.0)
    one = render(ecg.select(["V5"]), ref, PageOptions(layout="1x1", **FAST)).sidecar
    assert [b["lead"] for b in one["lead_boxes"]] == ["V5"]


def test_speed_gain_and_paper_set_the_scale(ptbxl):
    ref, ecg = ptbxl
    car = render(ecg, ref, PageOptions(speed=50, gain=20, paper="a4", **FAST)).sidecar
    assert car["scale"]["px_per_s"] == pytest.approx(50 * 100 / 25.4, rel=1e-5)
    assert car["scale"]["px_per_mv"] == pytest.approx(20 * 100 / 25.4, rel=1e-5)
    assert (car["image"]["width"], car["image"]["height"]) == (round(297 * 100 / 25.4), round(210 * 100 / 25.4))
    assert car["duration_s"] == pytest.approx(5.0)         # 50 mm/s: half as many seconds fit on the page


@pytest.mark.parametrize("text", ["3x", "4x3x", "0x4", "3x4+XYZ", "13x1+II"])
def test_bad_layouts_are_refused(text):
    with pytest.raises(EcgCorpusError):
        parse_layout(text)


def test_layout_that_cannot_hold_the_leads_is_refused(ptbxl):
    ref, ecg = ptbxl
    with pytest.raises(EcgCorpusError, match="4 panels for 12 leads"):
        render(ecg, ref, PageOptions(layout="2x2", **FAST))


# --- digitization round trip --------------------------------------------------------------------

def digitize(image, lead, scale):
    """Darkness-weighted row centroid per column inside the lead's box → (columns, mV)."""
    red = image[:, :, 2].astype(float)
    x0, y0, x1, y1 = lead["page_box"]
    cols = np.arange(int(np.ceil(x0)) + 3, int(np.floor(x1)) - 1)   # skip the separator tick
    rows = np.arange(int(np.floor(y0)), int(np.ceil(y1)))
    if lead["label_box"]:
        a, b, c, d = (int(round(v)) for v in lead["label_box"])
        red[b - 2:d + 2, a - 2:c + 2] = 255
    weight = np.clip((200 - red[np.ix_(rows, cols)]) / 200, 0, 1)     # black ink 1, red grid 0
    y = (weight * (rows[:, None] + 0.5)).sum(0) / np.maximum(weight.sum(0), 1e-9)
    ok = weight.sum(0) > 0.5
    return cols[ok], (lead["baseline_px"] - y[ok]) / scale["px_per_mv"]


def column_truth(cols, lead, scale, mv, fs, half_width):
    """What a stroke of this width shows in each column: the middle of the signal's range there."""
    out = []
    for j in cols:
        ta = lead["t_start"] + (j - half_width - lead["origin_px"]) / scale["px_per_s"]
        tb = ta + (1 + 2 * half_width) / scale["px_per_s"]
        v = np.concatenate([mv[int(np.ceil(ta * fs)):int(np.floor(tb * fs)) + 1],
                            np.interp([ta * fs, tb * fs], np.arange(mv.size), mv)])
        out.append((v.min() + v.max()) / 2)
    return np.array(out)


@pytest.mark.parametrize("thickness", [1, 2, 3, 4, 5, 6])
def test_strokes_are_as_wide_as_asked_in_every_direction(thickness):
    """Ink per px of length across a straight stroke, at six angles (OpenCV's own thickness 2 inks 3.4 px)."""
    for degrees in (0, 20, 45, 70, 90, 135):
        a = np.deg2rad(degrees)
        ends = np.array([[100 - 60 * np.cos(a), 100 - 60 * np.sin(a)], [100 + 60 * np.cos(a), 100 + 60 * np.sin(a)]])
        page = np.full((200, 200, 3), 255, np.uint8)
        stroke_polylines(page, [np.rint(ends * 16).astype(np.int32)], (0, 0, 0), thickness)
        ink = (255 - page[:, :, 0].astype(float)) / 255
        width = ink[60:141, 60:141].sum() / (81 / max(abs(np.cos(a)), abs(np.sin(a))))   # the window's length
        assert abs(width - thickness) < (0.4 if thickness == 1 else 0.6 if thickness <= 3 else 1.0), (thickness, degrees, width)


def test_undistorted_trace_reads_back_from_pixels(ptbxl):
    """Measured at 200 dpi on PTB-XL record 1 (leads I, aVL, V3, V6, rhythm II): r ≥ 0.998, median error
    0.0016 mV, 95th percentile 0.0059 mV (1/20 of a pixel: 78.7 px per mV); worst lead 0.0021 / 0.0069."""
    ref, ecg = ptbxl
    rendered = render(ecg, ref, PageOptions(dpi=200))
    scale = rendered.sidecar["scale"]
    half = (trace_thickness(scale["px_per_mm"]) - 1) / 2        # the stroke inks `thickness` px of columns
    checked = 0
    for lead in rendered.sidecar["lead_boxes"]:
        if lead["lead"] not in ("I", "aVL", "V3", "V6") and not lead["rhythm"]:
            continue
        cols, read = digitize(rendered.image, lead, scale)
        truth = column_truth(cols, lead, scale, ecg.signal[ecg.leads.index(lead["lead"])], ecg.fs, half)
        err = np.abs(read - truth)
        assert cols.size > 0.95 * (lead["page_box"][2] - lead["page_box"][0] - 4)
        assert np.corrcoef(read, truth)[0, 1] > 0.995, lead["lead"]
        assert np.median(err) < 0.003 and np.percentile(err, 95) < 0.01, lead["lead"]
        checked += 1
    assert checked == 5


# --- distortions --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def clean(ptbxl):
    ref, ecg = ptbxl
    return render(ecg, ref, PageOptions(**FAST)).image


@pytest.mark.parametrize("name", DISTORTION_NAMES)
def test_each_distortion_changes_pixels_deterministically(ptbxl, clean, name):
    ref, ecg = ptbxl
    a = render(ecg, ref, PageOptions(**FAST), [name], seed=11)
    b = render(ecg, ref, PageOptions(**FAST), [name], seed=11)
    c = render(ecg, ref, PageOptions(**FAST), [name], seed=12)
    assert a.encode() == b.encode()
    assert a.sidecar == b.sidecar and a.sidecar["distortions"][0]["name"] == name
    assert a.encode() != c.encode()
    if a.image.shape == clean.shape:
        diff = np.abs(a.image.astype(int) - clean).max(axis=2)
        assert diff.max() > 15 and (diff > 2).mean() > 0.002
    h, w = a.image.shape[:2]
    for box in a.sidecar["lead_boxes"]:
        x0, y0, x1, y1 = box["box"]
        assert 0 <= x0 <= x1 <= w and 0 <= y0 <= y1 <= h and 0 <= box["visible"] <= 1


def test_png_writer_is_lossless_and_standard(ptbxl):
    """encode_png (numpy filter + ISA-L) decodes, with OpenCV and with Pillow, to exactly the rendered pixels."""
    import io

    from PIL import Image

    from ecgcorpus.synth.png import encode_png

    ref, ecg = ptbxl
    image = render(ecg, ref, PageOptions(**FAST), ["all"], seed=3).image
    data = encode_png(image)
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data == encode_png(image.copy())
    assert np.array_equal(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), image)
    pil = Image.open(io.BytesIO(data))
    assert pil.mode == "RGB" and np.array_equal(np.asarray(pil)[:, :, ::-1], image)
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    assert np.array_equal(cv2.imdecode(np.frombuffer(encode_png(grey), np.uint8), cv2.IMREAD_GRAYSCALE), grey)
    with pytest.raises(ValueError, match="8-bit"):
        encode_png(image.astype(np.float32))


@pytest.mark.parametrize("sigma", [3.0, 6.0, 9.0])
def test_noise_grain_has_the_logged_sigma(sigma):
    from ecgcorpus.synth.photo import apply_noise

    grey = np.full((400, 600, 3), 128, np.uint8)
    out = apply_noise(grey, {"sigma": sigma, "salt_pepper": 0.0}, np.random.default_rng(1))
    grain = out[:, :, 0].astype(float) - 128
    assert abs(grain.mean()) < 0.3 and abs(grain.std() / sigma - 1) < 0.08
    assert np.array_equal(out[:, :, 0], out[:, :, 2])          # luminance grain: same on every channel


def test_turning_one_distortion_on_keeps_the_others_parameters(ptbxl):
    ref, ecg = ptbxl
    few = render(ecg, ref, PageOptions(**FAST), ["blur", "rotation"], seed=5).sidecar["distortions"]
    more = render(ecg, ref, PageOptions(**FAST), ["all"], seed=5).sidecar["distortions"]
    by_name = {d["name"]: d["params"] for d in more}
    assert [d["name"] for d in more] == list(DISTORTION_NAMES)
    assert all(by_name[d["name"]] == d["params"] for d in few)


def test_rotation_turns_the_boxes(ptbxl):
    ref, ecg = ptbxl
    for angle in (6.0, -6.0):
        car = render(ecg, ref, PageOptions(**FAST), ["rotation"], seed=1,
                     overrides={"rotation": {"angle_deg": angle}}).sidecar
        for box in car["lead_boxes"]:
            (x0, y0), (x1, y1) = box["quad"][0], box["quad"][1]   # top edge, left to right
            assert np.degrees(np.arctan2(-(y1 - y0), x1 - x0)) == pytest.approx(angle, abs=0.01)  # quads are rounded to 0.01 px
        # The rhythm strip (bottom, full width) moves down on its left end when turned anticlockwise.
        rhythm = next(b for b in car["lead_boxes"] if b["rhythm"])
        assert np.sign(rhythm["quad"][3][1] - rhythm["quad"][2][1]) == np.sign(angle)


@pytest.mark.parametrize("names", [["rotation"], ["perspective"], ["crop"], ["rotation", "perspective", "crop"]])
def test_boxes_follow_geometric_distortions(ptbxl, names):
    """With only traces printed, every dark pixel after the warp lies in some transformed lead quad."""
    ref, ecg = ptbxl
    for seed in (2, 3):
        rendered = render(ecg, ref, PageOptions(**FAST, **INK_ONLY), names, seed=seed)
        car = rendered.sidecar
        # Ink only on the sheet (the desk around a warped page may be dark too).
        page = np.ones((round(car["paper"]["height_mm"] * car["scale"]["px_per_mm"]),
                        round(car["paper"]["width_mm"] * car["scale"]["px_per_mm"])), np.uint8)
        sheet = cv2.warpPerspective(page, np.array(car["matrix"]), rendered.image.shape[1::-1], flags=cv2.INTER_NEAREST)
        ink = dark(rendered.image, 100) & cv2.erode(sheet, np.ones((5, 5), np.uint8)).astype(bool)
        inside = np.zeros(ink.shape, np.uint8)
        for box in car["lead_boxes"]:
            cv2.fillConvexPoly(inside, np.rint(np.array(box["quad"]) - 0.5).astype(np.int32), 1)
        inside = cv2.dilate(inside, np.ones((5, 5), np.uint8)).astype(bool)
        assert ink.sum() > 1000
        assert (ink & ~inside).sum() <= 0.002 * ink.sum()


# --- header and sidecar --------------------------------------------------------------------------

def test_deidentified_header_hides_id_age_and_date(ptbxl):
    ref, _ = ptbxl
    full = [line for col in header_columns(ref.record_id, ref, "full") for line in col]
    deid = [line for col in header_columns(ref.record_id, ref, "deid") for line in col]
    assert any("ptbxl:1" in line for line in full) and any("1984" in line for line in full)
    assert not any("ptbxl:1" in line or "1984" in line or "Age: 56" in line for line in deid)
    assert any("Age: 50-59" in line for line in deid)
    assert header_columns(ref.record_id, ref, "none") == []


def test_mimic_header_prints_the_machine_measurements(data_dir):
    src = open_source("mimic", str(data_dir / "mimic-iv-ecg"))
    ref = next(r for r in src.scan() if r.extra.get("measurements"))
    lines = [line for col in header_columns(ref.record_id, ref, "full") for line in col]
    rr = ref.extra["measurements"]["rr_interval"]
    assert any(f"Vent. rate: {60000 / rr:.0f} bpm" in line for line in lines) and len(lines) <= 6


def test_sidecar_schema(ptbxl):
    ref, ecg = ptbxl
    rendered = render(ecg, ref, PageOptions(**FAST), ["rotation", "noise"], seed=9)
    data = json.loads(json.dumps(rendered.sidecar))
    car = Sidecar.model_validate(data)
    assert car.schema_version == "ecgcorpus.synth/1" and car.seed == 9 and car.record_id == "ptbxl:1"
    assert [d.name for d in car.distortions] == ["rotation", "noise"]
    assert car.layout.name == "3x4+II" and len(car.lead_boxes) == 13
    assert np.array(car.matrix).shape == (3, 3)
    with pytest.raises(Exception):
        Sidecar.model_validate({**data, "unexpected": 1})


# --- CLI --------------------------------------------------------------------------------------------

def test_cli_writes_image_and_sidecar(data_dir, tmp_path):
    from ecgcorpus.cli import main

    runner = CliRunner()
    out = tmp_path / "ecg.png"
    args = ["synth", "image", "ptbxl", str(data_dir / "ptbxl"), "ptbxl:2", "--out", str(out), "--dpi", "100"]
    result = runner.invoke(main, args + ["--distort", "rotation", "--distort", "noise,blur", "--seed", "4"])
    assert result.exit_code == 0, result.output
    car = json.loads((tmp_path / "ecg.png.json").read_text())
    assert cv2.imread(str(out)).shape == (car["image"]["height"], car["image"]["width"], 3)
    assert [d["name"] for d in car["distortions"]] == ["rotation", "noise", "blur"] and car["seed"] == 4

    result = runner.invoke(main, args[:-4] + ["--out", str(tmp_path / "v.jpg"), "--dpi", "100", "--count", "3",
                                              "--seed", "7", "--distort", "all", "--layout", "6x2"])
    assert result.exit_code == 0, result.output
    seeds = [json.loads((tmp_path / f"v-{k}.jpg.json").read_text())["seed"] for k in range(3)]
    assert seeds == [7, 8, 9] and (tmp_path / "v-2.jpg").read_bytes()[:2] == b"\xff\xd8"
    assert not (tmp_path / "v.jpg").exists()

    bad = runner.invoke(main, args[:-4] + ["--out", str(tmp_path / "x.gif")])
    assert bad.exit_code == 1 and "x.gif" in bad.output
    bad = runner.invoke(main, args + ["--distort", "smudge"])
    assert bad.exit_code == 1 and "smudge" in bad.output


# --- image builder ----------------------------------------------------------------------------------

MANIFEST = """\
name: images
seed: 3
sources:
  - {{name: ptbxl, root: "{root}", limit: 4}}
profile: {{duration_s: 10}}
splits: {{ratios: {{train: 0.5, validation: 0.25, test: 0.25}}}}
builders:
  - {{type: image, config: img, params: {{base: report, dpi: 100}}}}
  - {{type: image, config: img_aug, params: {{base: report, variant: augmented, dpi: 100, probability: 0.6,
                                             format: jpeg, layouts: ["3x4+II", "6x2", "12x1"]}}}}
output: {{dir: "{out}"}}
"""


def test_image_builder_builds_loadable_image_samples(data_dir, tmp_path):
    from datasets import load_dataset
    from PIL import Image

    from ecgcorpus.engine.build import build
    from ecgcorpus.manifest import load_manifest

    path = tmp_path / "m.yaml"
    path.write_text(MANIFEST.format(root=data_dir / "ptbxl", out=tmp_path / "out"))
    summary = build(load_manifest(path), workers=1, progress=False)
    assert sum(n for (config, _), n in summary.samples.items() if config == "img") == 4
    for config, fmt in (("img", "PNG"), ("img_aug", "JPEG")):
        ds = load_dataset("parquet", data_dir=str(tmp_path / "out" / "data" / config), split="train")
        row = ds[0]
        image = row["images"][0]
        assert isinstance(image, Image.Image) and image.format == fmt and image.size[0] > 1000
        human = row["conversations"][0]["value"]
        assert human.count("<image>") == 1 and "<ecg>" not in human and row["ecgs"] == []
        meta = json.loads(row["meta"])
        assert meta["ecgs"][0]["record_id"].startswith("ptbxl:") and meta["base"] == "report"
        car = Sidecar.model_validate(meta["images"][0])
        assert (car.image.width, car.image.height) == image.size
    # augmented pages draw their layout from the pool (PULSE varies it); standard ones keep theirs
    layouts = {config: {json.loads(m)["images"][0]["layout"]["name"] for m in load_dataset(
        "parquet", data_dir=str(tmp_path / "out" / "data" / config), split="train")["meta"]} for config in ("img", "img_aug")}
    assert layouts["img"] == {"3x4+II"} and layouts["img_aug"] <= {"3x4+II", "6x2", "12x1"}
    again = tmp_path / "again"
    build(load_manifest(path, out_dir=str(again)), workers=1, progress=False)
    first = sorted((tmp_path / "out" / "data").rglob("*.parquet"))
    assert [p.read_bytes() for p in first] == [(again / p.relative_to(tmp_path / "out")).read_bytes() for p in first]


def test_image_builder_refuses_unknown_base_and_distortion(data_dir, tmp_path):
    from ecgcorpus.manifest import load_manifest
    from ecgcorpus.builders import builder_class

    manifest = load_manifest(_write(tmp_path, data_dir))
    for params in ({"base": "image"}, {"base": "nope"}, {"distortions": ["smudge"]}, {"layout": "3x"},
                   {"layouts": ["3x4+II"]}, {"variant": "augmented", "layouts": ["3x"]},
                   {"variant": "augmented", "layouts": []}):
        spec = manifest.builders[0].model_copy(update={"params": params})
        with pytest.raises(Exception):
            builder_class("image")(spec, manifest)


def _write(tmp_path, data_dir):
    path = tmp_path / "m.yaml"
    path.write_text(MANIFEST.format(root=data_dir / "ptbxl", out=tmp_path / "out"))
    return path


def test_image_shards_are_sized_by_image_bytes(data_dir, tmp_path):
    """A 2 MB shard target holds ~1 augmented page at 100 dpi but 3+ clean ones: the plan sizes shards
    by the encoded image, not by the signal (which image samples do not store)."""
    from ecgcorpus.engine.plan import make_plan
    from ecgcorpus.manifest import load_manifest

    path = tmp_path / "m.yaml"
    path.write_text(MANIFEST.format(root=data_dir / "ptbxl", out=tmp_path / "out")
                    .replace('output: {dir: "', 'output: {target_shard_mb: 2, dir: "')
                    .replace("format: jpeg", "format: png"))
    rows = {}
    for unit in make_plan(load_manifest(path)).units:
        rows[unit.config] = max(rows.get(unit.config, 0), len(unit.items))
    assert rows["img_aug"] == 1 and rows["img"] >= 2

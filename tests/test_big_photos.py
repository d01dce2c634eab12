"""Big photos in little memory: `pycolorize colorize` reads only the photo's lightness
(data.images.load_lightness), runs the net, makes the colour in float32 bands of rows
(Colorizer.colorize_bands) and truncates each band to 8 bits as it comes. Its files must hold the
very pixels of the float path it replaced (load_image, Colorizer.colorize, truncation of rgb * 255),
for any input format and shape; its peak memory must stay far below that path's; and the
benchmark's photo part reports the whole command's time, its parts and its peak."""
import argparse
import os

import numpy as np
import pytest
from PIL import Image

from pycolorize import cli, models
from pycolorize.cli.benchmark import command as bench
from pycolorize.colorization import resample
from pycolorize.colorization.colorizer import Colorizer, _resize_rows_read, lightness
from pycolorize.data import images

from test_colorizer import MINI, random_net

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY_DEPLOY = os.path.join(ROOT, "prototxt", "tiny_deploy.prototxt")


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    d = tmp_path_factory.mktemp("mini")
    deploy = d / "deploy.prototxt"
    weights = str(d / "w.caffemodel.h5")
    random_net(deploy, models.deploy_net(MINI, size=64)).save(weights)
    return str(deploy), weights


def old_path(colorizer, path):
    """What `pycolorize colorize` wrote before: the photo as float64 RGB, colorized, then truncated."""
    rgb = colorizer.colorize(images.load_image(path))
    return (np.clip(rgb, 0, 1) * 255).astype(np.uint8)


def photo(shape, rng):
    """A smooth photo with noise (so that colour and lightness vary on every scale)."""
    h, w = shape[:2]
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    base = np.stack([np.sin(7 * x + 3 * y), np.cos(5 * y - 2 * x), np.sin(11 * x * y + 1)], -1)
    return np.clip(0.5 + 0.4 * base + 0.1 * rng.standard_normal((h, w, 3)), 0, 1)


def write(path, mode, shape, rng):
    """An image file of Pillow `mode` (16-bit gray as "I;16") of `shape` (H, W)."""
    rgb = photo(shape, rng)
    if mode == "I;16":
        a = (rgb.mean(-1) * 65535).astype(np.uint16)
        Image.fromarray(a).save(path)  # Pillow writes a 16-bit gray PNG
        assert Image.open(path).mode.startswith("I")
        return
    im = Image.fromarray((rgb * 255).astype(np.uint8))
    if mode == "RGBA":
        im.putalpha(Image.fromarray((rng.random(shape[:2]) * 255).astype(np.uint8)))
    elif mode != "RGB":
        im = im.convert(mode)
    im.save(path)


CASES = [("RGB", (37, 53)),      # odd sides, smaller than the canvas: the photo is not resized (s = 1)
         ("RGB", (301, 223)),    # resized for the canvas; more rows than a band (256)
         ("RGB", (1, 300)),      # a one-row strip
         ("RGB", (700, 3)),      # a thin column, three bands
         ("L", (129, 95)),       # gray
         ("RGBA", (90, 131)),    # alpha (dropped)
         ("LA", (45, 70)),       # gray + alpha
         ("P", (66, 80)),        # palette (converted to RGB, band by band)
         ("I;16", (150, 97))]    # 16-bit gray PNG (float64 in [0, 1] from the decoder)


@pytest.mark.parametrize("mode,shape", CASES)
def test_the_command_writes_the_float_paths_pixels(model, tmp_path, mode, shape):
    deploy, weights = model
    src = str(tmp_path / "in.png")
    write(src, mode, shape, np.random.default_rng(len(CASES) * shape[0] + shape[1]))
    out = str(tmp_path / "out.png")
    assert cli.main(["colorize", src, "-o", out, "--prototxt", deploy, "--weights", weights, "--size", "64",
                     "--samples", "2", "--uncertainty", "--quiet"]) == 0
    c = Colorizer(deploy, weights, size=64)
    got = np.asarray(Image.open(out))
    assert got.shape == shape + (3,) and got.dtype == np.uint8
    np.testing.assert_array_equal(got, old_path(c, src))
    # the samples and the uncertainty map: what the old command wrote from a second pass of the net
    image = images.load_image(src)
    pred = c.prediction_for(image)
    for i, sample in enumerate(c.samples(image, n=2, prediction=pred)):
        np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / f"out_sample{i}.png")),
                                      (np.clip(sample, 0, 1) * 255).astype(np.uint8))
    u = (np.clip(c.uncertainty(image, prediction=pred), 0, 1) * 255).astype(np.uint8)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "out_uncertainty.png")), np.repeat(u[..., None], 3, -1))


def test_other_formats_and_transfers_keep_the_pixels(model, tmp_path):
    deploy, weights = model
    rng = np.random.default_rng(5)
    src, ref = str(tmp_path / "in.png"), str(tmp_path / "ref.png")
    write(src, "RGB", (120, 170), rng)
    write(ref, "RGB", (40, 60), rng)
    c = Colorizer(deploy, weights, size=64)
    common = ["--prototxt", deploy, "--weights", weights, "--size", "64", "--quiet", "--reference", ref]
    for transfer in ("energy", "quantile"):
        out = str(tmp_path / f"{transfer}.png")
        assert cli.main(["colorize", src, "-o", out, "--transfer", transfer] + common) == 0
        want = c.colorize(images.load_image(src), reference=images.load_image(ref), transfer_mode=transfer)
        np.testing.assert_array_equal(np.asarray(Image.open(out)), (np.clip(want, 0, 1) * 255).astype(np.uint8))
    # a lossless format other than PNG: the same pixels; JPEG: the name's format, Pillow's defaults
    assert cli.main(["colorize", src, "-o", str(tmp_path / "o.tiff"), "--transfer", "quantile"] + common) == 0
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "o.tiff")), np.asarray(Image.open(tmp_path / "quantile.png")))
    assert cli.main(["colorize", src, "-o", str(tmp_path / "o.jpg")] + common) == 0
    with Image.open(tmp_path / "o.jpg") as im:
        assert im.format == "JPEG" and im.size == (170, 120)


def test_bands_and_threads_give_the_same_numbers(model):
    deploy, weights = model
    rng = np.random.default_rng(2)
    image = (photo((203, 157), rng) * 255).astype(np.uint8)
    c = Colorizer(deploy, weights, size=64, band_rows=7)
    pred = c.prepare(image)
    whole = c.render(pred)
    for threads in (1, 3):
        bands = list(c.colorize_bands(pred, threads=threads))
        assert [r.start for r, _ in bands] == list(range(0, 203, 7))
        np.testing.assert_array_equal(np.concatenate([b for _, b in bands]), whole)
        u = np.concatenate([b for _, b in c.uncertainty_bands(pred, threads=threads)])
        np.testing.assert_array_equal(u, c.uncertainty_map(pred))
    # nor on the bands' height (the command chooses it by the photo's width)
    for rows in (1, 5, 64, 1000):
        bands = list(c.colorize_bands(pred, threads=2, band_rows=rows))
        assert bands[0][0] == slice(0, min(rows, 203))
        np.testing.assert_array_equal(np.concatenate([b for _, b in bands]), whole)
    # the lightness handed over as it is: the same Prediction's colours as from the photo
    gray = lightness(image)
    np.testing.assert_array_equal(c.render(c.prepare_lightness(gray)), whole)
    with pytest.raises(ValueError, match="float32"):
        c.prepare_lightness(gray.astype(np.float64))


@pytest.mark.parametrize("shape,size", [((4000, 3000), (256, 192)), ((301, 223), (57, 42)), ((9, 700), (1, 52)),
                                        ((50, 50), (50, 50))])
def test_the_gray_is_resized_bit_for_bit_from_the_rows_it_reads(shape, size):
    gray = np.random.default_rng(0).random(shape, dtype=np.float32)
    np.testing.assert_array_equal(_resize_rows_read(gray, *size), resample.resize_for_network(gray, *size))


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "P", "CMYK", "1", "I;16"])
def test_load_lightness_is_the_lightness_of_load_image(tmp_path, mode):
    path = str(tmp_path / ("x.tiff" if mode == "CMYK" else "x.png"))
    write(path, mode, (70, 2100), np.random.default_rng(3))
    got = images.load_lightness(path)
    assert got.dtype == np.float32 and got.shape == (70, 2100)
    np.testing.assert_array_equal(got, lightness(images.load_image(path)))
    # and in bands of a few rows (the band size is the decoder's business, never the numbers')
    with Image.open(path) as im:
        im.load()
        np.testing.assert_array_equal(images._lightness_of(im, band_pixels=3 * 2100), got)


def test_pixel_limit(model, tmp_path, capsys):
    deploy, weights = model
    src = str(tmp_path / "in.png")
    write(src, "RGB", (40, 50), np.random.default_rng(0))
    args = ["colorize", src, "-o", str(tmp_path / "o.png"), "--prototxt", deploy, "--weights", weights, "--size", "64"]
    assert cli.main(args + ["--max-megapixels", "0.001"]) == 1
    assert "50 x 40 pixels, more than the limit (1000)" in capsys.readouterr().err
    saved = Image.MAX_IMAGE_PIXELS
    try:
        Image.MAX_IMAGE_PIXELS = 100  # Pillow's own limit is lifted while the command runs, then restored
        assert cli.main(args + ["--max-megapixels", "0", "--timings", "--overwrite"]) == 0
        assert Image.MAX_IMAGE_PIXELS == 100
    finally:
        Image.MAX_IMAGE_PIXELS = saved
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith(f"timings {src}: "))
    assert [w for w in line.split() if w in ("decode", "network", "(forward", "colour", "encode")] == [
        "decode", "network", "(forward", "colour", "encode"]
    assert "timings: model " in out and float(out.split("timings: peak memory ")[1].split()[0]) > 0


def bench_args(**kw):
    return argparse.Namespace(**dict(dict(photo=(300, 200), prototxt=TINY_DEPLOY, threads=2, gpu=None), **kw))


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("w") / "w.caffemodel.h5")
    bench.make_weights(path, TINY_DEPLOY)
    return path


def test_benchmark_photo_part_reports_the_whole_command(tiny_weights, tmp_path, capsys):
    bench.photo_part(bench_args(), tiny_weights, str(tmp_path), canvas=64)
    out = capsys.readouterr().out
    assert "Large photo: 300x200 (0.1 megapixels" in out and "`pycolorize colorize`" in out and "size=64" in out

    def seconds(word):
        return float(out.split(word + " ")[1].split()[0])
    total = seconds("total")
    parts = [seconds(w) for w in ("decode", "the network", "upsampling and colour", "encode", "the model's load")]
    assert all(p >= 0 for p in parts) and seconds("the network") > 0 and sum(parts) <= total
    assert float(out.split("peak memory ")[1].split()[0]) > 100  # the whole process: the interpreter, numpy, the net


@pytest.mark.skipif("libasan" in os.environ.get("LD_PRELOAD", ""),
                    reason="under AddressSanitizer's preloaded allocator (redzones, a quarantine of freed memory) "
                           "resident memory is not the program's own")
def test_peak_memory_of_a_big_photo(tiny_weights, tmp_path):
    """The colorize command's peak resident memory beyond a tiny photo's, for a 3000 x 2000 photo
    (the tiny net: what is measured is the photo's own memory). The float path took 342 MB for it
    (57 bytes a pixel: float64 RGB, float32 output, the truncation's float copies); this one 132 MB
    (the lightness and the 8-bit output, 8 bytes a pixel, and two threads' bands of 256 rows)."""
    small, big = str(tmp_path / "small.png"), str(tmp_path / "big.png")
    bench.write_photo(small, 60, 40)
    bench.write_photo(big, 3000, 2000)
    base = bench.run_photo(TINY_DEPLOY, tiny_weights, small, str(tmp_path / "o1.png"), 64, threads=2)
    res = bench.run_photo(TINY_DEPLOY, tiny_weights, big, str(tmp_path / "o2.png"), 64, threads=2)
    photo_mb = res["peak_mb"] - base["peak_mb"]
    assert photo_mb < 220, f"the 6-megapixel photo took {photo_mb:.0f} MB beyond a tiny one's"
    assert Image.open(tmp_path / "o2.png").size == (3000, 2000)

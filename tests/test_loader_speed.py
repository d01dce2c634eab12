"""The training loader's fast path gives the examples the float64 one gave: make_example computes the
crop alone from uint8 pixels (the input in float32 within 1e-6, the targets bit for bit, so every
one-hot bin is the same), the cropped resize matches the whole one, simplejpeg's pixels are
Pillow's, and the fast path is in fact faster."""
import io
import time

import numpy as np
import pytest
from PIL import Image

from pycolorize import data
from pycolorize.colorization import color, resample
from pycolorize.data import loader, pixels
from pycolorize.data.images import decode_image


def reference_example(rgb, rng, crop=256, short_side=256, mirror=True, samples=128, margin=16, mean_shift=0.0,
                      variant="hue_chroma", chroma_weight=False, short_side_max=0, exposure=0.0):
    """make_example as it was (commit 85e6b0b): float64 RGB, the whole photo resized, then cropped."""
    h, w = rgb.shape[:2]
    if short_side_max:
        scale = int(rng.integers(short_side, short_side_max + 1)) / min(h, w)
    else:
        scale = min(1.0, short_side / min(h, w))
    if scale != 1.0:
        h, w = max(1, int(round(h * scale))), max(1, int(round(w * scale)))
        rgb = resample.resize_for_network(rgb, h, w)
    if min(h, w) < crop:
        raise loader.TooSmall(f"{rgb.shape[1]}x{rgb.shape[0]} after resizing, smaller than the {crop}x{crop} crop")
    y0, x0 = rng.integers(0, h - crop + 1), rng.integers(0, w - crop + 1)
    window = rgb[y0:y0 + crop, x0:x0 + crop]
    if mirror and rng.random() < 0.5:
        window = window[:, ::-1]
    pts = rng.integers(margin, crop - margin, size=(samples, 2))
    if exposure:
        window = np.clip(window * np.exp(rng.uniform(-exposure, exposure)), 0.0, 1.0)
    gray = color.gray(window)
    ex = {"data": (gray - mean_shift).astype(np.float32)[None], "centroids": pts.astype(np.float32)}
    ex.update(loader.targets(window[pts[:, 0], pts[:, 1]], variant))
    if chroma_weight:
        ex["chroma_weight"] = loader.lightness_weight(gray[pts[:, 0], pts[:, 1]])
    return ex


def photos():
    """Photos as a decoder gives them: JPEG-decoded scikit-image photos at ImageNet's sizes, and
    gray, gray + alpha, RGBA and 16-bit gray arrays."""
    skimage_data = pytest.importorskip("skimage.data")
    rng = np.random.default_rng(3)
    out = []
    for name, (w, h) in zip(("astronaut", "chelsea", "coffee", "rocket"), [(500, 375), (375, 500), (500, 333), (301, 257)]):
        im = Image.fromarray(getattr(skimage_data, name)()).resize((w, h), Image.BICUBIC)
        buf = io.BytesIO()
        im.save(buf, format="JPEG", quality=90)
        out.append(decode_image(io.BytesIO(buf.getvalue())))
    out.append((rng.random((300, 280)) * 255).astype(np.uint8))
    out.append((rng.random((270, 300, 2)) * 255).astype(np.uint8))
    out.append((rng.random((290, 310, 4)) * 255).astype(np.uint8))
    out.append((rng.random((300, 300)) * 65535).astype(np.uint16))
    return out


ARGS = [dict(),  # the paper's: 256 crop of a 256 short side, hue/chroma
        dict(crop=224, variant="lab_k32", chroma_weight=True),
        dict(crop=128, short_side=200, variant="lab_16x16", mean_shift=0.4488, mirror=False),
        dict(crop=176, short_side=176, short_side_max=400, variant="lab_l2"),  # scale jitter, up and down
        dict(crop=192, short_side=256, exposure=0.4, chroma_weight=True),
        dict(crop=256, short_side=300, exposure=0.2, short_side_max=360, samples=64, margin=8)]


@pytest.mark.parametrize("args", ARGS, ids=range(len(ARGS)))
def test_crop_only_examples_match_the_float64_whole_photo_ones(args):
    worst = 0.0
    for k, px in enumerate(photos()):
        rgb = color.to_rgb(px)  # what Source.read gave make_example before
        for seed in range(4):
            try:
                ref = reference_example(rgb, np.random.default_rng([seed, k]), **args)
            except loader.TooSmall as e:
                with pytest.raises(loader.TooSmall, match=str(e).split(" after")[0]):
                    data.make_example(px, np.random.default_rng([seed, k]), **args)
                continue
            for given in (px, rgb):  # the decoder's pixels (the Loader's) and float RGB (any caller's)
                ex = data.make_example(given, np.random.default_rng([seed, k]), **args)
                assert ex.keys() == ref.keys()
                for key in ref:
                    assert ex[key].dtype == ref[key].dtype and ex[key].shape == ref[key].shape, key
                    if key == "data":
                        worst = max(worst, float(np.abs(ex[key].astype(np.float64) - ref[key]).max()))
                    else:  # centroids, one-hot bins, chroma, (a, b), chroma weights: the same bits
                        np.testing.assert_array_equal(ex[key], ref[key], err_msg=f"photo {k} seed {seed} {key}")
    assert worst <= 1e-6, worst


def test_a_window_of_the_resize_is_that_window_of_the_whole_resize():
    rng = np.random.default_rng(0)
    for _ in range(50):
        a = (rng.random(tuple(rng.integers(20, 120, 2)) + (3,)) * 255).astype(np.uint8)
        h, w = (int(v) for v in rng.integers(10, 200, 2))  # shrinking and enlarging
        whole = resample.resize_for_network(a / 255.0, h, w)
        top, left = int(rng.integers(0, h)), int(rng.integers(0, w))
        rows, cols = int(rng.integers(1, h - top + 1)), int(rng.integers(1, w - left + 1))
        win = resample.resize_window(a, h, w, top, left, rows, cols, scale=1 / 255)
        assert win.dtype == np.float32
        np.testing.assert_allclose(win, whole[top:top + rows, left:left + cols], atol=1e-6, rtol=0)
        ys, xs = rng.integers(0, h, 40), rng.integers(0, w, 40)
        np.testing.assert_array_equal(resample.resize_points(a, h, w, ys, xs, divide=255), whole[ys, xs])
        np.testing.assert_array_equal(resample.weights_at(a.shape[0], h, ys)[1],
                                      resample.axis_weights(a.shape[0], h)[1][ys])


def jpeg(array, **kw):
    buf = io.BytesIO()
    (array if isinstance(array, Image.Image) else Image.fromarray(array)).save(buf, format="JPEG", **kw)
    return buf.getvalue()


def test_simplejpeg_gives_pillows_pixels():
    if pixels.simplejpeg is None:
        pytest.skip("simplejpeg is not installed (Pillow decodes every JPEG)")
    rng = np.random.default_rng(1)
    smooth = np.clip(np.cumsum(rng.normal(0, 6, (333, 259, 3)), axis=1) + 128, 0, 255).astype(np.uint8)
    cases = {"4:2:0": jpeg(smooth, quality=90), "4:4:4": jpeg(smooth, quality=95, subsampling=0),
             "4:2:2": jpeg(smooth, quality=75, subsampling=1), "progressive": jpeg(smooth, progressive=True),
             "optimized": jpeg(smooth, optimize=True, quality=50), "gray": jpeg(smooth[..., 0]),
             "noise": jpeg((rng.random((97, 131, 3)) * 255).astype(np.uint8), quality=85),
             "cmyk": jpeg(Image.fromarray(smooth).convert("CMYK"))}
    try:
        cases["restart markers"] = jpeg(smooth, restart_marker_blocks=4)
    except (TypeError, ValueError, OSError):  # an older Pillow
        pass
    for name, blob in cases.items():
        np.testing.assert_array_equal(pixels.decode_bytes(blob), decode_image(io.BytesIO(blob)), err_msg=name)
    # damaged: whatever simplejpeg would make of it, Pillow decides (its pixels, or its error)
    cut = cases["4:2:0"][:len(cases["4:2:0"]) // 2]
    try:
        expected = decode_image(io.BytesIO(cut))
    except Exception:
        with pytest.raises(ValueError, match="not a readable image"):
            pixels.decode_bytes(cut, "cut.jpg")
    else:
        np.testing.assert_array_equal(pixels.decode_bytes(cut), expected)


def test_a_file_reads_as_load_image_reads_it(tmp_path):
    rgb = (np.random.default_rng(2).random((40, 50, 3)) * 255).astype(np.uint8)
    for name in ("a.jpg", "a.png", "a.webp"):
        Image.fromarray(rgb).save(tmp_path / name)
        np.testing.assert_array_equal(color.to_rgb(pixels.load_pixels(str(tmp_path / name))),
                                      data.load_image(str(tmp_path / name)))
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8 not really")
    with pytest.raises(ValueError, match="bad.jpg: not a readable image"):
        pixels.load_pixels(str(tmp_path / "bad.jpg"))
    with pytest.raises(FileNotFoundError):
        pixels.load_pixels(str(tmp_path / "missing.jpg"))


def test_the_fast_path_is_faster_than_the_float64_one():
    px = photos()[0]  # 500x375, JPEG-decoded
    rgb = color.to_rgb(px)

    def timed(fn):
        best = float("inf")
        for _ in range(3):
            t = time.perf_counter()
            for seed in range(5):
                fn(np.random.default_rng(seed))
            best = min(best, time.perf_counter() - t)
        return best
    slow = timed(lambda rng: reference_example(color.to_rgb(px), rng))
    fast = timed(lambda rng: data.make_example(px, rng))
    assert fast * 3 < slow, (fast, slow)  # about 10x on a quiet machine
    assert rgb.dtype == np.float64


def test_benchmark_loader_part_without_pytorch(monkeypatch, capsys):
    """`pycolorize benchmark --parts loader` on a few files, PyTorch hidden: our figures alone, said so."""
    from pycolorize.cli.benchmark import loader as bench

    monkeypatch.setitem(__import__("sys").modules, "torch", None)  # import torch fails as if not installed
    table = bench.run(images=12, workers=[1, 2], runs=1, skip=1, batches=2)
    out = capsys.readouterr().out
    assert "PyTorch not installed" in out and "12 JPEGs" in out and "tar shards" in out
    assert sorted(table) == [("folder", 1), ("folder", 2), ("tar", 1), ("tar", 2)]
    assert all(len(v["ours"]) == 1 and v["ours"][0] > 0 and v["torch"] == [] for v in table.values())
    rows = [line for line in out.splitlines() if line.strip().startswith(("folder |", "tar |"))]
    assert len(rows) == 4 and all(line.rstrip().endswith("-") for line in rows)

"""The data pipeline: sources (list, folder, HDF5; the folder and list rules are in test_images),
any image format, the paper's sampling and targets, reproducibility whatever the worker count,
exact resume, and bad images skipped once."""
import io
import os
import re
import sys
import warnings
from statistics import NormalDist

import h5py
import numpy as np
import pytest
from PIL import Image

from pycolorize import data
from pycolorize.colorization import color
from pycolorize.data import pixels as pixels_mod
from pycolorize.data import sources as sources_mod
from pycolorize.data import shards
from pycolorize.data.shards import Item
from pycolorize.engine.core import Error


def save(path, array, **kw):
    Image.fromarray(array).save(path, **kw)
    return str(path)


@pytest.fixture
def photos(tmp_path):
    rng = np.random.RandomState(0)
    d = tmp_path / "photos"
    (d / "sub").mkdir(parents=True)
    for i in range(5):
        save(d / f"im{i}.png", (rng.rand(80 + 10 * i, 96, 3) * 255).astype(np.uint8))
    save(d / "sub" / "gray.png", (rng.rand(90, 90) * 255).astype(np.uint8))
    save(d / "sub" / "rgba.png", (rng.rand(90, 100, 4) * 255).astype(np.uint8))
    save(d / "sub" / "photo.jpg", (rng.rand(100, 120, 3) * 255).astype(np.uint8), quality=90)
    (d / "sub" / "broken.jpg").write_bytes(b"not a jpeg at all")
    save(d / "sub" / "small.png", np.zeros((20, 30, 3), np.uint8))
    return d


def test_any_image_becomes_rgb01(tmp_path):
    g16 = (np.arange(64 * 64).reshape(64, 64) * 16).astype(np.uint16)
    p = str(tmp_path / "g16.png")
    Image.fromarray(g16).save(p)
    rgb = data.load_image(p)
    assert rgb.shape == (64, 64, 3) and rgb.dtype == np.float64
    np.testing.assert_allclose(rgb[..., 0], g16 / 65535.0, atol=1e-12)  # 16-bit precision kept
    assert color.to_rgb(np.zeros((4, 4, 4), np.uint8)).shape == (4, 4, 3)
    assert color.to_rgb(np.full((2, 2), 255, np.uint8)).max() == 1.0
    with pytest.raises(ValueError, match="not an image"):
        color.to_rgb(np.zeros((2, 2, 7)))


def test_sources(photos, tmp_path):
    # open_source's three kinds (the folder and list rules themselves: tests/test_images.py)
    assert len(data.open_source({"type": "folder", "path": str(photos)})) == 10
    (tmp_path / "list.txt").write_text("im1.png 3\n")
    src = data.open_source({"type": "list", "path": str(tmp_path / "list.txt"), "root": str(photos)})
    assert len(src) == 1 and src.read(0).shape == (90, 96, 3)
    h5 = tmp_path / "im.h5"
    with h5py.File(h5, "w") as f:
        f["images"] = (np.random.RandomState(1).rand(3, 70, 70, 3) * 255).astype(np.uint8)
    s = data.open_source({"type": "hdf5", "path": str(h5)})
    assert len(s) == 3 and s.read(2).shape == (70, 70, 3)
    with pytest.raises(ValueError, match="unknown source type"):
        data.open_source({"type": "lmdb"})


def test_example_sampling_and_targets():
    rgb = np.zeros((300, 400, 3))
    rgb[..., 0] = 1.0  # pure red: hue 0, chroma 1
    rgb[:, 200:] = [0.0, 0.5, 0.5]  # cyan-ish half: hue 0.5, chroma 0.5
    ex = data.make_example(rgb, np.random.default_rng(0), crop=64, short_side=96, samples=50, margin=8)
    assert ex["data"].shape == (1, 64, 64) and ex["centroids"].shape == (50, 2)
    c = ex["centroids"]
    assert c.min() >= 8 and c.max() < 56 and np.all(c == np.round(c))
    hue_bin, chroma = ex["hist_h"].argmax(1), ex["chroma"]
    red, cyan = np.isclose(chroma, 1.0, atol=1e-6), np.isclose(chroma, 0.5, atol=1e-6)
    assert red.sum() > 5 and cyan.sum() > 5  # (the resized border between the halves mixes the two)
    assert np.all(hue_bin[red] == 0) and np.all(hue_bin[cyan] == 16)
    assert np.all(ex["hist_c"].argmax(1)[red] == 31) and np.all(ex["hist_c"].argmax(1)[cyan] == 16)
    assert ex["hist_c"].sum(1).tolist() == [1.0] * 50
    lab = data.make_example(rgb, np.random.default_rng(0), crop=64, short_side=96, samples=10, variant="lab_16x16")
    assert lab["hist_ab"].shape == (10, 256)
    l2 = data.make_example(rgb, np.random.default_rng(0), crop=64, short_side=96, samples=10, variant="lab_l2")
    assert np.abs(l2["ab"]).max() < 1.5
    with pytest.raises(data.TooSmall):
        data.make_example(np.zeros((50, 60, 3)), np.random.default_rng(0), crop=64)


def test_every_crop_position_is_drawn_and_each_sample_reads_its_own_pixel():
    # an image 2 rows and 3 columns larger than the crop, not resized: the crop's corner takes each of
    # the 3 x 4 positions (the last row and column too), flipped or not, and the targets are those of
    # the source pixels under the samples (found here by search, not by the loader's arithmetic)
    rng = np.random.default_rng(1)
    rgb = rng.random((10, 11, 3))
    gray = rgb.mean(axis=2)
    crop, seen = 8, set()
    for _ in range(300):
        ex = data.make_example(rgb, rng, crop=crop, short_side=64, samples=6, margin=1, variant="lab_l2")
        got = ex["data"][0]
        found = [(y, x, f) for y in range(3) for x in range(4) for f in (False, True)
                 if np.allclose(got, gray[y:y + crop, x:x + crop][:, ::-1] if f else gray[y:y + crop, x:x + crop],
                                atol=1e-6)]
        assert len(found) == 1, found
        y0, x0, flip = found[0]
        seen.add(found[0])
        window = rgb[y0:y0 + crop, x0:x0 + crop][:, ::-1] if flip else rgb[y0:y0 + crop, x0:x0 + crop]
        py, px = ex["centroids"].astype(int).T
        assert py.min() >= 1 and px.min() >= 1 and py.max() <= crop - 2 and px.max() <= crop - 2
        np.testing.assert_allclose(ex["ab"], data.targets(window[py, px], "lab_l2")["ab"], atol=1e-6)
    assert seen == {(y, x, f) for y in range(3) for x in range(4) for f in (False, True)}


def test_sample_positions_reach_both_margins():
    rng = np.random.default_rng(2)
    pts = np.concatenate([data.make_example(np.random.default_rng(i).random((20, 20, 3)), rng, crop=16, short_side=20,
                                            samples=64, margin=3)["centroids"] for i in range(20)])
    assert pts.min() == 3 and pts.max() == 16 - 3 - 1  # margin .. crop - margin - 1, both ends drawn


def test_lightness_weight_by_hand():
    g = np.array([0.0, 0.1, 1 / 3, 0.5, 2 / 3, 0.9, 1.0])
    np.testing.assert_allclose(data.lightness_weight(g), [0.0, 0.3, 1.0, 1.0, 1.0, 0.3, 0.0], atol=1e-6)
    assert data.lightness_weight(g).dtype == np.float32


def batches(loader, n):
    out = [next(loader) for _ in range(n)]
    return out


def test_loader_is_reproducible_skips_bad_images_and_resumes(photos):
    log = io.StringIO()
    src = data.folder_source(str(photos))
    kw = dict(batch=3, crop=64, short_side=80, samples=16, margin=4, seed=7)
    with data.Loader(src, workers=1, log=log, **kw) as a:
        first = batches(a, 7)  # more than one epoch (8 good images)
        state_after_3 = None
    with data.Loader(src, workers=4, log=io.StringIO(), **kw) as b:
        second = batches(b, 3)
        state_after_3 = b.state()
        second += batches(b, 4)
    for x, y in zip(first, second):
        for k in x:
            np.testing.assert_array_equal(x[k], y[k])
    assert first[0]["data"].shape == (3, 1, 64, 64) and first[0]["hist_h"].shape == (48, 32)
    assert first[0]["chroma"].shape == (48,)
    # the two bad images are named once each, though the run went through them twice
    text = log.getvalue()
    lines = text.splitlines()
    assert sum("broken.jpg" in line for line in lines) == 1 and sum("small.png" in line for line in lines) == 1
    assert "smaller than the 64x64 crop" in text
    with data.Loader(src, workers=2, log=io.StringIO(), **kw) as c:
        c.restore(state_after_3)
        resumed = batches(c, 4)
    for x, y in zip(resumed, first[3:]):
        for k in x:
            np.testing.assert_array_equal(x[k], y[k])


def test_loader_reports_a_source_with_no_usable_image(tmp_path):
    d = tmp_path / "bad"
    d.mkdir()
    (d / "a.png").write_bytes(b"junk")
    with data.Loader(data.folder_source(str(d)), batch=1, crop=32, margin=2, log=io.StringIO()) as loader:
        with pytest.raises(RuntimeError, match="no usable image"):
            next(loader)


def test_a_rank_whose_share_is_all_bad_images_goes_on_and_a_bad_source_still_stops_every_rank(tmp_path):
    # 3 images, 1 unreadable, batch 1 on 2 ranks: some epochs deal rank 1 only the bad one; the
    # source is fine, so it must go on (other epochs deal it good ones)
    d = tmp_path / "mixed"
    d.mkdir()
    for i in range(2):
        save(d / f"im{i}.png", (np.random.RandomState(i).rand(40, 40, 3) * 255).astype(np.uint8))
    (d / "zz_bad.png").write_bytes(b"junk")
    src = data.folder_source(str(d))
    shares = {}
    for rank in (0, 1):
        with data.Loader(src, batch=1, crop=32, margin=2, seed=3, log=io.StringIO(), shard=(rank, 2)) as loader:
            shares[rank] = [next(loader) for _ in range(12)]
    assert all(len(v) == 12 for v in shares.values())
    bad = tmp_path / "bad2"
    bad.mkdir()
    (bad / "a.png").write_bytes(b"junk")
    (bad / "b.png").write_bytes(b"junk")
    with data.Loader(data.folder_source(str(bad)), batch=1, crop=32, margin=2, log=io.StringIO(), shard=(1, 2)) as loader:
        with pytest.raises(RuntimeError, match="rank 1 of 2: in 8 epochs, no usable image"):
            next(loader)


def test_short_side_jitter_resizes_up_and_down_within_the_range():
    # the released from-scratch trainer's scale augmentation: the short side drawn from a range,
    # the image resized to it whether larger or smaller; off (0), images are only ever shrunk
    from pycolorize.data import loader as data

    rgb = np.random.default_rng(0).random((60, 90, 3))
    seen = set()
    orig = data.resize_for_network

    def spy(image, h, w):
        seen.add(min(h, w))
        return orig(image, h, w)

    data.resize_for_network = spy
    try:
        for seed in range(40):
            ex = data.make_example(rgb, np.random.default_rng(seed), crop=48, short_side=50, short_side_max=80,
                                   samples=4, margin=2)
            assert ex["data"].shape == (1, 48, 48)
        assert seen <= set(range(50, 81)) and min(seen) < 60 < max(seen) and len(seen) > 10
        seen.clear()
        data.make_example(rgb, np.random.default_rng(0), crop=48, short_side=256, samples=4, margin=2)
        assert not seen  # no jitter: a 60-px image is not enlarged
    finally:
        data.resize_for_network = orig


def test_exposure_jitter_scales_lightness_and_chroma_keeps_hue():
    # colour-free photometric augmentation: the crop's RGB times e^u, u in [-x, x], clipped
    rgb = np.random.default_rng(1).uniform(0.05, 0.6, (40, 50, 3))  # x e^0.4 stays below 1: no clipping
    kw = dict(crop=32, short_side=64, samples=200, margin=0)
    off, on = np.random.default_rng(3), np.random.default_rng(3)
    data.make_example(rgb, off, exposure=0.0, **kw)
    data.make_example(rgb, on, exposure=0.3, **kw)
    assert off.random() != on.random()  # on: one draw more, after the rest
    off, ref = np.random.default_rng(3), np.random.default_rng(3)
    data.make_example(rgb, off, exposure=0.0, **kw)  # off: no draw spent (the stream as before it existed)
    ref.integers(0, 40 - 32 + 1), ref.integers(0, 50 - 32 + 1), ref.random(), ref.integers(0, 32, size=(200, 2))
    assert off.random() == ref.random()
    factors = set()
    for seed in range(20):
        ex = data.make_example(rgb, np.random.default_rng(seed), **kw)
        jit = data.make_example(rgb, np.random.default_rng(seed), exposure=0.4, **kw)
        np.testing.assert_array_equal(ex["centroids"], jit["centroids"])  # the same crop, mirror and samples
        f = jit["data"] / ex["data"]
        assert np.allclose(f, f.flat[0], rtol=1e-5)  # one factor for the whole crop
        factors.add(round(float(f.flat[0]), 4))
        np.testing.assert_allclose(jit["chroma"], ex["chroma"] * f.flat[0], rtol=1e-5)
        np.testing.assert_array_equal(jit["hist_h"], ex["hist_h"])  # hue kept
    assert min(factors) >= np.exp(-0.4) - 1e-6 and max(factors) <= np.exp(0.4) + 1e-6
    assert min(factors) < 0.9 and max(factors) > 1.1
    bright = data.make_example(np.full((40, 50, 3), 0.9), np.random.default_rng(0), exposure=2.0, **kw)
    assert bright["data"].max() <= 1.0  # clipped to [0, 1]


# ---- pixels: the decoder's uint8 pixels, simplejpeg for clean JPEGs, Pillow for the rest --------



def encoded(array, fmt="JPEG", **kw):
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format=fmt, **kw)
    return buf.getvalue()


class SimplejpegSpy:
    """simplejpeg, recording what it decoded and what it gave back."""

    def __init__(self, real):
        self.real, self.decoded, self.returned = real, [], []

    def decode_jpeg_header(self, data):
        return self.real.decode_jpeg_header(data)

    def decode_jpeg(self, data, **kw):
        self.decoded.append(kw)
        out = self.real.decode_jpeg(data, **kw)
        self.returned.append(out)
        return out


@pytest.fixture
def jpeg_spy(monkeypatch):
    if pixels_mod.simplejpeg is None:
        pytest.skip("simplejpeg is not installed")
    spy = SimplejpegSpy(pixels_mod.simplejpeg)
    monkeypatch.setattr(pixels_mod, "simplejpeg", spy)
    return spy


def test_clean_jpegs_are_decoded_by_simplejpeg_into_pillows_pixels(jpeg_spy):
    # Pillow's decode of the same bytes is the answer; the array returned is simplejpeg's own
    rng = np.random.RandomState(4)
    colour = encoded((rng.rand(17, 23, 3) * 255).astype(np.uint8), quality=85)
    gray = encoded((rng.rand(17, 23) * 255).astype(np.uint8), quality=85)
    for data_, shape in ((colour, (17, 23, 3)), (gray, (17, 23))):
        px = pixels_mod.decode_bytes(data_)
        assert px.dtype == np.uint8 and px.shape == shape
        np.testing.assert_array_equal(px, np.asarray(Image.open(io.BytesIO(data_))))
        assert len(jpeg_spy.returned) == 1 and np.shares_memory(px, jpeg_spy.returned[0])
        jpeg_spy.returned.clear()


def test_other_formats_cmyk_and_damaged_jpegs_go_to_pillow(jpeg_spy):
    # a PNG, a CMYK JPEG and a truncated JPEG: Pillow's pixels (or Pillow's error), not simplejpeg's
    rng = np.random.RandomState(5)
    png = encoded((rng.rand(9, 11, 3) * 255).astype(np.uint8), "PNG")
    np.testing.assert_array_equal(pixels_mod.decode_bytes(png), np.asarray(Image.open(io.BytesIO(png))))
    buf = io.BytesIO()
    Image.fromarray((rng.rand(9, 11, 3) * 255).astype(np.uint8)).convert("CMYK").save(buf, "JPEG")
    cmyk = buf.getvalue()
    np.testing.assert_array_equal(pixels_mod.decode_bytes(cmyk), np.asarray(Image.open(io.BytesIO(cmyk)).convert("RGB")))
    assert jpeg_spy.returned == []
    whole = encoded((rng.rand(40, 40, 3) * 255).astype(np.uint8))
    cut = whole[:len(whole) // 2]
    try:
        expected = np.asarray(Image.open(io.BytesIO(cut)).convert("RGB"))
    except OSError:
        expected = None
    if expected is None:
        with pytest.raises(Error, match="^image: not a readable image"):
            pixels_mod.decode_bytes(cut)
    else:
        np.testing.assert_array_equal(pixels_mod.decode_bytes(cut), expected)
    assert jpeg_spy.returned == []  # strict: libjpeg's warning sends it to Pillow


def test_without_simplejpeg_pillow_decodes_jpegs(monkeypatch):
    # Pillow's own decode of the bytes is the answer
    monkeypatch.setattr(pixels_mod, "simplejpeg", None)
    data_ = encoded((np.random.RandomState(6).rand(8, 12, 3) * 255).astype(np.uint8))
    np.testing.assert_array_equal(pixels_mod.decode_bytes(data_), np.asarray(Image.open(io.BytesIO(data_))))


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_decode_bytes_pixel_limit_exactly_met_and_exceeded_by_one(fmt, monkeypatch):
    data_ = encoded(np.full((5, 7, 3), 120, np.uint8), fmt)  # 35 pixels, 7 wide and 5 high
    assert pixels_mod.decode_bytes(data_, "x", max_pixels=35).shape == (5, 7, 3)
    with pytest.raises(Error, match=r"^shard\.tar:a\.jpg: 7 x 5 pixels, more than the limit \(34\)$"):
        pixels_mod.decode_bytes(data_, "shard.tar:a.jpg", max_pixels=34)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 34)  # no limit given: Pillow's, named as such
    with warnings.catch_warnings(), pytest.raises(Error, match=r"^shard\.tar:a\.jpg: 7 x 5 pixels, more than PIL.Image.MAX_IMAGE_PIXELS \(34\)$"):
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        pixels_mod.decode_bytes(data_, "shard.tar:a.jpg")


@pytest.mark.parametrize("fmt, limit", [("JPEG", 10), ("PNG", 20)])
def test_decode_bytes_default_limit_is_pillows(monkeypatch, fmt, limit):
    # a JPEG over twice Pillow's limit, which Pillow would call a decompression bomb, is refused by
    # the size check first; a PNG between the limit and twice it passes Pillow's check and fails ours
    import warnings
    data_ = encoded(np.full((5, 7, 3), 120, np.uint8), fmt)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", limit)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with pytest.raises(Error, match=rf"^image: 7 x 5 pixels, more than PIL.Image.MAX_IMAGE_PIXELS \({limit}\)$"):
            pixels_mod.decode_bytes(data_)


def test_decode_bytes_and_load_pixels_name_what_is_unreadable(tmp_path):
    with pytest.raises(Error, match=r"^image: not a readable image \(UnidentifiedImageError"):
        pixels_mod.decode_bytes(b"junk")
    p = tmp_path / "x.png"
    p.write_bytes(b"junk")
    with pytest.raises(Error, match=rf"^{p}: not a readable image"):
        pixels_mod.load_pixels(str(p))
    a = (np.random.RandomState(0).rand(4, 5, 4) * 255).astype(np.uint8)
    p.write_bytes(encoded(a, "PNG"))
    np.testing.assert_array_equal(pixels_mod.load_pixels(str(p)), a)  # RGBA as written


# ---- samples ------------------------------------------------------------------------------------

def test_sample_photos_are_the_packages_own_rgb_photos():
    # the answers: matplotlib's and scikit-image's own arrays
    skdata = pytest.importorskip("skimage.data")
    cbook = pytest.importorskip("matplotlib.cbook")
    from pycolorize.data.samples import sample_photo
    with cbook.get_sample_data("grace_hopper.jpg") as f:
        np.testing.assert_array_equal(sample_photo("grace_hopper"), np.asarray(Image.open(f)))
    np.testing.assert_array_equal(sample_photo("coffee"), skdata.coffee())
    logo = sample_photo("logo")  # RGBA in scikit-image: its alpha is dropped
    assert logo.shape == skdata.logo().shape[:2] + (3,)
    np.testing.assert_array_equal(logo, skdata.logo()[..., :3])
    left, right, _ = skdata.stereo_motorcycle()
    np.testing.assert_array_equal(sample_photo("motorcycle_left"), left)
    np.testing.assert_array_equal(sample_photo("motorcycle_right"), right)
    assert not np.array_equal(left, right)


# ---- sources ------------------------------------------------------------------------------------

def test_source_defaults_and_its_kind(tmp_path):
    calls = []
    src = data.Source(iter(["a", "b"]), lambda i: calls.append(i) or f"read {i}")
    assert src.names == ["a", "b"] and len(src) == 2 and src.name(1) == "b"
    assert src.kind == "image" and src.held_out == [] and src.file is None
    assert src.pixels(1) == "read 1" and calls == [1]  # no pixels(): read()
    assert src.reopen() is src
    other = data.Source(["x"], lambda i: None, kind="image+label", held_out=("h",), file="F",
                        pixels=lambda i: ("px", i), reopen=lambda: "again")
    assert other.kind == "image+label" and other.held_out == ["h"] and other.file == "F"
    assert other.pixels(0) == ("px", 0) and other.reopen() == "again"
    with pytest.raises(ValueError, match=r"^a source's kind is 'image' or 'image\+label', not 'video'$"):
        data.Source([], lambda i: None, kind="video")


def test_folder_and_list_sources_read_float_rgb_and_uint8_pixels(tmp_path):
    # the pixels written to PNG, and those / 255 as RGB
    a = (np.random.RandomState(2).rand(6, 8, 3) * 255).astype(np.uint8)
    d = tmp_path / "f"
    d.mkdir()
    save(d / "a.png", a)
    save(d / "b.bmp", a[::-1])
    src = data.folder_source(str(d))
    assert src.names == [str(d / "a.png"), str(d / "b.bmp")]
    np.testing.assert_array_equal(src.read(0), a / 255.0)
    px = src.pixels(1)
    assert px.dtype == np.uint8
    np.testing.assert_array_equal(px, a[::-1])
    assert data.folder_source(str(d), extensions=(".bmp",)).names == [str(d / "b.bmp")]
    lst = tmp_path / "l.txt"
    lst.write_text("f/a.png 0\n\nf/gone.png\n")
    src = data.list_source(str(lst))
    np.testing.assert_array_equal(src.pixels(0), a)
    np.testing.assert_array_equal(src.read(0), a / 255.0)
    with pytest.raises(FileNotFoundError, match=rf"^{lst}:3: no such file: {tmp_path / 'f' / 'gone.png'}$"):
        src.pixels(1)


def test_hdf5_source_one_dataset(tmp_path):
    # N images in one dataset: uint8 pixels as stored, RGB / 255 from read(); gray (N, H, W) too
    rgb = (np.random.RandomState(1).rand(3, 5, 6, 3) * 255).astype(np.uint8)
    gray16 = (np.random.RandomState(2).rand(2, 5, 6) * 65535).astype(np.uint16)
    h5 = tmp_path / "a.h5"
    with h5py.File(h5, "w") as f:
        f["images"] = rgb
        f["gray"] = gray16
        f["floats"] = rgb[:, :, :, 0] / 255.0
        f["flat"] = np.zeros((4, 5))
        f["five"] = np.zeros((1, 2, 3, 4, 5))
    s = sources_mod.hdf5_source(str(h5))
    assert s.names == [f"{h5}:/images[{i}]" for i in range(3)]
    assert isinstance(s.file, h5py.File) and s.file.filename == str(h5)
    np.testing.assert_array_equal(s.read(2), rgb[2] / 255.0)
    assert s.pixels(1).dtype == np.uint8
    np.testing.assert_array_equal(s.pixels(1), rgb[1])
    g = sources_mod.hdf5_source(str(h5), "gray")
    np.testing.assert_array_equal(g.pixels(0), gray16[0])  # integers as stored
    np.testing.assert_allclose(g.read(1), np.repeat(gray16[1][..., None] / 65535.0, 3, axis=-1))
    fl = sources_mod.hdf5_source(str(h5), "floats")
    np.testing.assert_array_equal(fl.pixels(0), np.repeat(rgb[0, :, :, :1] / 255.0, 3, axis=-1))  # floats as read()
    again = s.reopen()
    assert again is not s and again.file is not s.file and again.names == s.names
    np.testing.assert_array_equal(again.pixels(0), rgb[0])
    assert sources_mod.hdf5_source(str(h5), "gray").reopen().names == g.names
    for name, shape in (("flat", (4, 5)), ("five", (1, 2, 3, 4, 5))):
        with pytest.raises(ValueError, match=rf"^{h5}:/{name}: expected \(N, H, W\[, C\]\) images, got shape {re.escape(str(shape))}$"):
            sources_mod.hdf5_source(str(h5), name)


def test_hdf5_source_group_of_images_and_missing_dataset(tmp_path):
    # a group: one image each, sorted by name; a missing dataset lists the first ten names there
    h5 = tmp_path / "g.h5"
    imgs = {k: (np.random.RandomState(i).rand(4 + i, 3, 3) * 255).astype(np.uint8) for i, k in enumerate("cab")}
    with h5py.File(h5, "w") as f:
        for k, v in imgs.items():
            f[f"photos/{k}"] = v
        for i in range(11):
            f[f"k{i:02d}"] = np.zeros(1)
    s = sources_mod.hdf5_source(str(h5), "photos")
    assert s.names == [f"{h5}:/photos/{k}" for k in "abc"]
    for i, k in enumerate("abc"):
        np.testing.assert_array_equal(s.pixels(i), imgs[k])
        np.testing.assert_array_equal(s.read(i), imgs[k] / 255.0)
    listed = ", ".join(["k00", "k01", "k02", "k03", "k04", "k05", "k06", "k07", "k08", "k09"])
    with pytest.raises(ValueError, match=rf"^{h5}: no 'images' in the file \(has: {listed}\)$"):
        sources_mod.hdf5_source(str(h5))


def test_open_source_checks_each_key_and_defaults_to_a_folder(tmp_path):
    d = tmp_path / "f"
    d.mkdir()
    save(d / "a.png", np.zeros((4, 4, 3), np.uint8))
    assert data.open_source({"path": str(d)}).names == [str(d / "a.png")]  # the folder type by default
    for key in ("holdout", "holdout_seed", "shuffle"):
        assert len(data.open_source({"type": "folder", "path": str(d), key: 0})) == 1  # 0 is a whole number >= 0
        for bad in (-1, True, "3", 1.5):
            with pytest.raises(ValueError, match=rf"^data config: source '{key}' must be a whole number >= 0, got "):
                data.open_source({"type": "folder", "path": str(d), key: bad})
    for key in ("type", "path", "root", "dataset", "list"):
        with pytest.raises(ValueError, match=rf"^data config: source '{key}' must be a string, got 7$"):
            data.open_source({"type": "folder", "path": str(d), key: 7})
    with pytest.raises(ValueError, match=r"^data config: 'source' must be a mapping such as \{type: folder, path: \.\.\.\}, got \['x'\]$"):
        data.open_source(["x"])
    with pytest.raises(ValueError, match=r"^unknown source type 'lmdb'; use folder, list, hdf5, tar"):
        data.open_source({"type": "lmdb", "path": "x"})
    with pytest.raises(ValueError, match=r"^data config: the hdf5 source needs a 'path'$"):
        data.open_source({"type": "hdf5"})


def test_gray_images_choose_resize_and_skip_as_documented(tmp_path):
    # the answer built here: the folder's images in name order, the seeded permutation's first
    # `count`, each gray and resized so that its short side is at most `short_side` (never enlarged)
    from pycolorize.colorization.resample import resize_for_network

    folder = tmp_path / "g"
    folder.mkdir()
    rng = np.random.RandomState(3)
    sizes = {"a.png": (300, 600), "b.png": (100, 80), "c.png": (256, 260), "d.png": (520, 400)}
    for name, (h, w) in sizes.items():
        Image.fromarray((rng.rand(h, w, 3) * 255).astype(np.uint8)).save(folder / name)
    (folder / "e.png").write_bytes(b"not a png")  # found by its name, unreadable
    names = sorted(sizes) + ["e.png"]

    def expected(name, short_side):
        rgb = data.load_image(str(folder / name))
        h, w = rgb.shape[:2]
        s = short_side / min(h, w)
        if s < 1:
            rgb = resize_for_network(rgb, int(round(h * s)), int(round(w * s)))
        return color.gray(rgb)

    for seed, count, short_side in ((0, 5, 256), (7, 3, 90), (2, 2, 1000)):
        skipped, reads = [], []
        got = data.sources.gray_images(str(folder), count, short_side=short_side, seed=seed,
                                       on_skip=lambda name, e: skipped.append((os.path.basename(name), type(e))),
                                       on_read=lambda: reads.append(1))
        chosen = [names[i] for i in np.random.default_rng(seed).permutation(len(names))[:count]]
        want = [expected(n, short_side) for n in chosen if n != "e.png"]
        assert len(got) == len(want) and len(reads) == len(chosen), (seed, chosen)
        for g, w in zip(got, want):
            assert g.shape == w.shape
            np.testing.assert_allclose(g, w, rtol=0, atol=1e-12)
        assert skipped == ([("e.png", Error)] if "e.png" in chosen else []), skipped
    # the defaults: a short side of at most 256, the seed 0
    default = data.sources.gray_images(str(folder), 4)
    chosen = [names[i] for i in np.random.default_rng(0).permutation(len(names))[:4]]
    assert [g.shape for g in default] == [expected(n, 256).shape for n in chosen if n != "e.png"]
    assert max(min(g.shape) for g in default) == 256
    for name in sizes:
        (folder / name).unlink()
    with pytest.raises(ValueError, match=f"^{re.escape(str(folder))}: no usable images$"):
        data.sources.gray_images(str(folder), 3)


def test_tar_source_keeps_the_shuffle_block(tmp_path):
    import tarfile
    shard = tmp_path / "s-0.tar"
    with tarfile.open(shard, "w") as t:
        body = encoded(np.zeros((4, 4, 3), np.uint8), "PNG")
        info = tarfile.TarInfo("k.png")
        info.size = len(body)
        t.addfile(info, io.BytesIO(body))
    assert shards.tar_source(str(shard)).shuffle == 256  # the documented default
    assert shards.tar_source(str(shard), shuffle=5).shuffle == 5
    assert data.open_source({"type": "tar", "path": str(shard), "shuffle": 7}).shuffle == 7


# ---- the loader's state, order and shards (a source of numbered images, an example that says which) ----

def numbered_source(n):
    # image i is a 1x1 picture whose value is i: the example below reads back which image it got
    return data.Source([f"img{i}" for i in range(n)], lambda i: np.full((1, 1, 3), float(i)))


def which(image, rng, **kw):
    return {"data": np.array([[image[0, 0, 0]]], np.float32), "draw": np.array([rng.random()])}


def served(loader, n):
    return [next(loader) for _ in range(n)]


def test_loader_state_and_restore_round_trip():
    with data.Loader(numbered_source(5), batch=2, seed=4, example=which, log=io.StringIO()) as ld:
        assert ld.state() == {"epoch": 0, "index": 0, "seed": 4}
        ld.restore({"epoch": "3", "index": 2, "seed": "9"})
        assert ld.state() == {"epoch": 3, "index": 2, "seed": 9}
        ld.restore({"epoch": 1, "index": 0})  # no seed: kept
        assert ld.state() == {"epoch": 1, "index": 0, "seed": 9}
        ld.restore({"epoch": 2, "index": 4, "seed": 1, "shard": "3", "member": 5})  # a tar source's position
        assert ld.state() == {"epoch": 2, "index": 4, "seed": 1, "shard": 3, "member": 5}
        for half in ({"shard": 3}, {"member": 5}):  # both or neither
            ld.restore(dict({"epoch": 0, "index": 1}, **half))
            assert ld.state() == {"epoch": 0, "index": 1, "seed": 1}
        next(ld)
        with pytest.raises(RuntimeError, match=r"^restore\(\) before iterating$"):
            ld.restore({"epoch": 0, "index": 0})


def test_each_epoch_is_a_permutation_and_the_state_counts_positions():
    # 5 images, batch 1: every epoch serves each once, in an order of its own; the state after k
    # batches of an epoch is (epoch, k)
    with data.Loader(numbered_source(5), batch=1, seed=3, example=which, log=io.StringIO()) as ld:
        epochs = []
        for e in range(3):
            got = []
            for k in range(5):
                got.append(int(next(ld)["data"][0, 0, 0]))
                assert ld.state() == {"epoch": e, "index": k + 1, "seed": 3}
            assert sorted(got) == [0, 1, 2, 3, 4]
            epochs.append(got)
        next(ld)
        assert ld.state() == {"epoch": 3, "index": 1, "seed": 3}
    assert len({tuple(e) for e in epochs}) == 3


def test_each_example_draws_from_a_generator_seeded_by_seed_epoch_and_position():
    # the module doc: every random choice comes from default_rng((seed, epoch, position))
    with data.Loader(numbered_source(3), batch=1, seed=6, example=which, log=io.StringIO()) as ld:
        for e in range(2):
            for pos in range(3):
                assert next(ld)["draw"][0] == np.random.default_rng((6, e, pos)).random()


def test_restore_into_another_position_and_seed_serves_what_a_fresh_loader_serves_there():
    src = numbered_source(7)
    with data.Loader(src, batch=3, seed=11, example=which, log=io.StringIO()) as fresh:
        stream = served(fresh, 6)  # more than two epochs
        states = []
    with data.Loader(src, batch=3, seed=11, example=which, log=io.StringIO()) as ld:
        for _ in range(4):
            next(ld)
            states.append(ld.state())
    for k in (1, 2, 3):  # resume after batch k (one crosses into the next epoch)
        with data.Loader(src, batch=3, seed=0, example=which, log=io.StringIO()) as ld:
            ld.restore(states[k - 1])
            assert ld.state()["seed"] == 11
            for want, got in zip(stream[k:], served(ld, 6 - k)):
                np.testing.assert_array_equal(want["data"], got["data"])
                np.testing.assert_array_equal(want["draw"], got["draw"])


def test_ranks_serve_their_slices_of_the_global_batch():
    # the module doc: rank r's batch k is one process's global batch k, rows r * batch .. (r + 1) * batch - 1
    src = numbered_source(5)  # not a multiple of the batch: blocks run across epochs
    with data.Loader(src, batch=6, seed=2, example=which, log=io.StringIO()) as one:
        whole = [b["data"][:, 0, 0] for b in served(one, 5)]
    for ranks, batch in ((2, 3), (3, 2)):
        for r in range(ranks):
            with data.Loader(src, batch=batch, seed=2, example=which, log=io.StringIO(), shard=(r, ranks)) as ld:
                for k, b in enumerate(served(ld, 5)):
                    np.testing.assert_array_equal(b["data"][:, 0, 0], whole[k][r * batch:(r + 1) * batch])


class FakeStream:
    """A stream source: records how the loader asks for each epoch, gives 2 numbered items each."""
    kind, stream, shuffle = "image", True, 1

    def __init__(self):
        self.asked = []

    def epoch_items(self, epoch, seed, rank, ranks, batch, start):
        self.asked.append((epoch, seed, rank, ranks, batch, start))
        for j in range(2):
            yield Item((99, epoch, j), f"item{epoch}.{j}", 10 * epoch + j, {"epoch": epoch, "index": j + 1})

    def read(self, i):
        return np.full((1, 1, 3), float(i))


def test_a_stream_source_is_asked_for_this_ranks_items_of_each_epoch():
    src = FakeStream()
    with data.Loader(src, batch=1, seed=8, example=which, log=io.StringIO(), shard=(1, 3)) as ld:
        ld.restore({"epoch": 2, "index": 1, "seed": 5, "shard": 0, "member": 1})
        got = [int(b["data"][0, 0, 0]) for b in served(ld, 4)]
    assert got == [20, 21, 30, 31]
    assert src.asked[:2] == [(2, 5, 1, 3, 1, {"epoch": 2, "index": 1, "shard": 0, "member": 1}),
                             (3, 5, 1, 3, 1, None)]


def test_the_loader_reads_what_a_source_declares(monkeypatch):
    # not a source, a stream that lacks its part, pairs without their example maker: one clear error each
    class Plain:
        def __len__(self):
            return 1

    with pytest.raises(TypeError, match="is not a source: a source declares its kind"):
        data.Loader(Plain(), batch=1)
    class NoShuffle:
        kind, stream = "image", True

        def epoch_items(self, *a):
            return iter(())

    with pytest.raises(TypeError, match="a stream source gives epoch_items"):
        data.Loader(NoShuffle(), batch=1)
    pairs = data.Source(["x"], lambda i: (np.zeros((4, 4, 3)), np.zeros((4, 4))), kind=data.sources.IMAGE_LABEL)
    with pytest.raises(ValueError, match="needs its example maker"):
        data.Loader(pairs, batch=1)
    # worker processes for the package's own example maker (where fork is safe), threads for a caller's
    # unless asked, and what is asked either way
    monkeypatch.delenv(data.loader.WORKERS_ENV, raising=False)
    fork = sys.platform.startswith("linux")
    src = numbered_source(2)
    assert data.Loader(src, batch=1).processes == fork
    assert data.Loader(src, batch=1, example=which).processes is False
    assert data.Loader(src, batch=1, example=which, processes=True).processes == fork
    assert data.Loader(src, batch=1, processes=False).processes is False


def test_an_unreadable_image_is_named_in_the_log():
    def reader(i):
        if i == 1:
            raise OSError("broken")
        return np.full((1, 1, 3), float(i))
    log = io.StringIO()
    src = data.Source(["a.png", "b.png", "c.png"], reader)
    with data.Loader(src, batch=2, seed=0, example=which, log=log) as ld:
        assert sorted(next(ld)["data"][:, 0, 0].tolist()) == [0.0, 2.0]
    assert log.getvalue() == "pycolorize.data: skipping b.png: broken\n"


# ---- make_example and targets against answers computed here ---------------------------------------

from pycolorize.colorization import resample  # noqa: E402


def test_targets_of_known_colours_by_hand():
    # red: hue 0, chroma 1; green: hue 1/3 -> bin 10; (0, .25, .5): hue 3.5/6 -> bin 18, chroma .5 -> bin 16; gray: 0, 0
    rgb = np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0.25, 0.5], [0.5, 0.5, 0.5]])
    t = data.targets(rgb, "hue_chroma")
    assert sorted(t) == ["chroma", "hist_c", "hist_h"]
    assert t["hist_h"].dtype == np.float32 and t["hist_h"].shape == (4, 32) and t["hist_c"].shape == (4, 32)
    assert t["hist_h"].argmax(1).tolist() == [0, 10, 18, 0] and t["hist_c"].argmax(1).tolist() == [31, 31, 16, 0]
    assert t["hist_h"].sum(1).tolist() == [1.0] * 4 and t["hist_c"].sum(1).tolist() == [1.0] * 4
    assert t["chroma"].dtype == np.float32 and t["chroma"].tolist() == [1.0, 1.0, 0.5, 0.0]


def test_lab_targets_are_the_bins_of_a_and_b():
    # blue, green and a muted brown have different a and b bins; bins from color's Lab and binning
    rgb = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [0.5, 0.4, 0.3]])
    lab = color.rgb_to_lab(rgb)
    a32, b32 = color.lab_bin(lab[:, 1], 32), color.lab_bin(lab[:, 2], 32)
    assert np.all(a32 != b32)
    t = data.targets(rgb, "lab_k32")
    assert sorted(t) == ["hist_a", "hist_b"] and t["hist_a"].shape == (3, 32) and t["hist_a"].dtype == np.float32
    assert t["hist_a"].argmax(1).tolist() == a32.tolist() and t["hist_b"].argmax(1).tolist() == b32.tolist()
    j = data.targets(rgb, "lab_16x16")["hist_ab"]
    assert j.shape == (3, 256) and j.sum(1).tolist() == [1.0] * 3
    assert j.argmax(1).tolist() == (color.lab_bin(lab[:, 1], 16) * 16 + color.lab_bin(lab[:, 2], 16)).tolist()
    ab = data.targets(rgb, "lab_l2")["ab"]
    assert ab.dtype == np.float32 and ab.shape == (3, 2)
    np.testing.assert_allclose(ab, lab[:, 1:] / 100.0, rtol=1e-6)
    with pytest.raises(ValueError, match="unknown variant"):
        data.targets(rgb, "rgb")


def test_make_example_defaults():
    # 300 x 300 -> 256 x 256 (short side 256): the 256 crop is the whole resize, mirrored half the time;
    # 128 samples in 16 .. 239; the hue/chroma targets; no weight, no shift, no exposure
    rgb = np.random.default_rng(0).random((300, 300, 3))
    whole = resample.resize_for_network(rgb, 256, 256).mean(axis=2)
    flips, pts = set(), []
    for seed in range(12):
        ex = data.make_example(rgb, np.random.default_rng(seed))
        assert sorted(ex) == ["centroids", "chroma", "data", "hist_c", "hist_h"]
        assert ex["data"].shape == (1, 256, 256) and ex["data"].dtype == np.float32
        assert ex["centroids"].shape == (128, 2) and ex["centroids"].dtype == np.float32
        assert ex["hist_h"].shape == (128, 32) and ex["chroma"].shape == (128,)
        flip = bool(np.allclose(ex["data"][0], whole[:, ::-1], atol=1e-6))
        assert flip or np.allclose(ex["data"][0], whole, atol=1e-6)
        flips.add(flip)
        pts.append(ex["centroids"])
    assert flips == {False, True}
    pts = np.concatenate(pts)
    assert pts.min() == 16 and pts.max() == 239


def _ab_at(rgb, ys, xs):
    return color.rgb_to_lab(rgb[ys, xs])[:, 1:] / 100.0


@pytest.mark.parametrize("kind", ["uint8 rgb", "uint8 rgba", "uint8 gray", "uint8 gray+alpha", "uint16 gray",
                                  "uint16 rgb", "float rgb"])
def test_make_example_reads_any_image_array_as_to_rgb_does(kind):
    # not resized (8 x 11, crop 8): the input is mean(R, G, B) of the window, the targets those of the
    # pixels under the samples, each computed naively from to_rgb's float64 RGB
    rng = np.random.RandomState(7)
    a = {"uint8 rgb": lambda: (rng.rand(8, 11, 3) * 255).astype(np.uint8),
         "uint8 rgba": lambda: (rng.rand(8, 11, 4) * 255).astype(np.uint8),
         "uint8 gray": lambda: (rng.rand(8, 11) * 255).astype(np.uint8),
         "uint8 gray+alpha": lambda: (rng.rand(8, 11, 2) * 255).astype(np.uint8),
         "uint16 gray": lambda: (rng.rand(8, 11) * 65535).astype(np.uint16),
         "uint16 rgb": lambda: (rng.rand(8, 11, 3) * 65535).astype(np.uint16),
         "float rgb": lambda: rng.rand(8, 11, 3)}[kind]()
    before = a.copy()
    rgb = color.to_rgb(a)
    seen = set()
    for seed in range(16):
        ex = data.make_example(a, np.random.default_rng(seed), crop=8, short_side=64, samples=20, margin=1,
                               variant="lab_l2", chroma_weight=True)
        assert ex["data"].shape == (1, 8, 8) and ex["data"].dtype == np.float32
        found = [(x0, f) for x0 in range(4) for f in (False, True)
                 if np.allclose(ex["data"][0], (lambda w: w[:, ::-1] if f else w)(rgb[:, x0:x0 + 8].mean(axis=2)),
                                atol=1e-6)]
        assert len(found) == 1, found
        (x0, flip), = found
        seen.add(found[0])
        py, px = ex["centroids"].astype(int).T
        xs = x0 + (7 - px if flip else px)
        np.testing.assert_allclose(ex["ab"], _ab_at(rgb, py, xs), atol=1e-6)
        g = rgb[py, xs].mean(axis=1)
        np.testing.assert_allclose(ex["chroma_weight"], np.minimum(np.minimum(3 * g, 1), 3 * (1 - g)), atol=1e-6)
    assert len(seen) >= 5
    np.testing.assert_array_equal(a, before)  # the input is not modified


@pytest.mark.parametrize("dtype", [np.uint8, np.float64])
def test_make_example_shrinks_with_the_colorizers_resize(dtype):
    # 20 x 30 -> short side 10: 10 x 15, from resample.resize_for_network of the float RGB
    rng = np.random.RandomState(8)
    a = (rng.rand(20, 30, 3) * 255).astype(np.uint8)
    img = a if dtype == np.uint8 else a / 255.0
    small = resample.resize_for_network(a / 255.0, 10, 15)
    gray = small.mean(axis=2)
    for seed in range(8):
        ex = data.make_example(img, np.random.default_rng(seed), crop=10, short_side=10, samples=12, margin=1,
                               variant="lab_l2", mirror=False)
        found = [x0 for x0 in range(6) if np.allclose(ex["data"][0], gray[:, x0:x0 + 10], atol=1e-6)]
        assert len(found) == 1
        py, px = ex["centroids"].astype(int).T
        np.testing.assert_allclose(ex["ab"], _ab_at(small, py, px + found[0]), atol=1e-6)


def test_short_side_range_of_one_value_resizes_to_it():
    # short_side .. short_side_max = 50 .. 50: always 60 x 90 -> 50 x 75
    rgb = np.random.default_rng(4).random((60, 90, 3))
    gray = resample.resize_for_network(rgb, 50, 75).mean(axis=2)
    for seed in range(10):
        ex = data.make_example(rgb, np.random.default_rng(seed), crop=50, short_side=50, short_side_max=50,
                               samples=4, margin=2, mirror=False)
        assert any(np.allclose(ex["data"][0], gray[:, x:x + 50], atol=1e-6) for x in range(26))


def test_mean_shift_is_subtracted_from_the_input():
    rgb = np.full((8, 8, 3), 0.6)
    ex = data.make_example(rgb, np.random.default_rng(0), crop=8, samples=3, margin=1, mean_shift=0.25)
    np.testing.assert_allclose(ex["data"], 0.35, atol=1e-6)


def test_too_small_names_the_size_after_resizing():
    with pytest.raises(data.TooSmall, match=r"^60x50 after resizing, smaller than the 64x64 crop$"):
        data.make_example(np.zeros((50, 60, 3)), np.random.default_rng(0), crop=64)
    ex = data.make_example(np.zeros((64, 70, 3)), np.random.default_rng(0), crop=64, samples=2, margin=1)
    assert ex["data"].shape == (1, 64, 64)  # exactly the crop's size is enough


@pytest.mark.parametrize("gray_input", [False, True])
def test_exposure_clips_each_channel_then_averages(gray_input):
    # one colour (or gray level) everywhere: find the factor f from the input, then the input and the
    # targets must be those of clip(colour * f) worked out here
    c = np.array([0.8] * 3) if gray_input else np.array([0.3, 0.6, 0.9])
    img = np.full((10, 10), 0.8) if gray_input else np.tile(c, (10, 10, 1))
    fs = set()
    for seed in range(20):
        ex = data.make_example(img, np.random.default_rng(seed), crop=10, samples=5, margin=1, exposure=1.0,
                               variant="hue_chroma")
        grid = np.exp(np.linspace(-1, 1, 200001))
        means = np.clip(np.outer(grid, c), 0, 1).mean(axis=1)
        f = grid[np.argmin(np.abs(means - ex["data"][0, 0, 0]))]
        fs.add(round(float(f), 3))
        v = np.clip(c * f, 0, 1)
        np.testing.assert_allclose(ex["data"], v.mean(), atol=1e-5)
        np.testing.assert_allclose(ex["chroma"], v.max() - v.min(), atol=1e-4)
    assert min(fs) < 0.8 and max(fs) * c.max() > 0.999  # some darken, some clip at 1


def test_gray_sample_photos_come_as_rgb():
    pytest.importorskip("skimage.data")
    from pycolorize.data.samples import sample_photo

    gray = sample_photo("camera")  # scikit-image ships it as (512, 512) gray
    assert gray.shape == (512, 512, 3) and gray.dtype == np.uint8
    import skimage.data

    for c in range(3):
        np.testing.assert_array_equal(gray[..., c], skimage.data.camera())


def test_targets_follow_the_bins_of_the_spaces_heads(monkeypatch):
    # a hue/chroma space with 12 hue and 5 chroma bins (the released one has 32 and 32): each head's
    # one-hot rows have its own length, with the bin int(v * K) of its own K
    from pycolorize.models import spaces

    s = spaces.SPACES["hue_chroma"]
    heads = (spaces.Head("h", "hue", 12, "hist_h", 5.0, mask="chroma"),
             spaces.Head("c", "chroma", 5, "hist_c", lightness_weighted=True))
    monkeypatch.setitem(spaces.SPACES, "hue_chroma", spaces.OutputSpace("hue_chroma", heads, hue_chroma=True,
                                                                          extra_inputs=s.extra_inputs))
    rgb = np.array([[1.0, 0.0, 0.0], [0.0, 0.5, 0.5], [0.9, 0.9, 0.0]])  # hues 0, 1/2, 1/6; chromas 1, 0.5, 0.9
    t = data.targets(rgb, "hue_chroma")
    assert t["hist_h"].shape == (3, 12) and t["hist_c"].shape == (3, 5)
    assert t["hist_h"].argmax(1).tolist() == [0, 6, 2] and t["hist_c"].argmax(1).tolist() == [4, 2, 4]
    np.testing.assert_allclose(t["chroma"], [1.0, 0.5, 0.9])


def test_lab_targets_follow_the_bins_of_the_spaces_heads(monkeypatch):
    # Lab spaces with 12 marginal bins and a 4 x 4 joint histogram (the released ones: 32, 16 x 16)
    from pycolorize.models import spaces

    monkeypatch.setitem(spaces.SPACES, "lab_k32", spaces.OutputSpace(
        "lab_k32", (spaces.Head("a", "a", 12, "hist_a"), spaces.Head("b", "b", 12, "hist_b"))))
    monkeypatch.setitem(spaces.SPACES, "lab_16x16", spaces.OutputSpace("lab_16x16", (spaces.Head("ab", "ab", 16, "hist_ab"),)))
    rgb = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.5, 0.5, 0.5]])
    lab = color.rgb_to_lab(rgb)
    t = data.targets(rgb, "lab_k32")
    for head, ch in (("hist_a", 1), ("hist_b", 2)):  # Gaussian-quantile bins of 12: Phi(v / 25) * 12
        want = [min(int(NormalDist(0, 25).cdf(v) * 12), 11) for v in lab[:, ch]]
        assert t[head].shape == (3, 12) and t[head].argmax(1).tolist() == want
    joint = data.targets(rgb, "lab_16x16")["hist_ab"]
    ia = [min(int(NormalDist(0, 25).cdf(v) * 4), 3) for v in lab[:, 1]]
    ib = [min(int(NormalDist(0, 25).cdf(v) * 4), 3) for v in lab[:, 2]]
    assert joint.shape == (3, 16) and joint.argmax(1).tolist() == [a * 4 + b for a, b in zip(ia, ib)]


def test_an_array_that_is_no_image_is_refused_with_its_shape():
    rng = np.random.default_rng(0)
    for shape in ((4, 70, 70, 3), (70, 70, 5), (70,)):
        with pytest.raises(ValueError, match=r"not an image: array of shape \(" + ", ".join(map(str, shape))):
            data.make_example(np.zeros(shape), rng, crop=32, short_side=64)


def test_sample_photos_are_uint8_rgb_or_refused():
    pytest.importorskip("skimage.data")
    from pycolorize.data.samples import sample_photo

    horse = sample_photo("horse")  # a black-and-white mask: 0 and 255
    assert horse.dtype == np.uint8 and horse.shape[-1] == 3 and set(np.unique(horse)) == {0, 255}
    with pytest.raises(ValueError, match=r"'lfw_subset' is not a photo \(float64 array of shape \(200, 25, 25\)\)"):
        sample_photo("lfw_subset")

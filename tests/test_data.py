"""The data pipeline: sources (list, folder, HDF5; the folder and list rules are in test_images),
any image format, the paper's sampling and targets, reproducibility whatever the worker count,
exact resume, and bad images skipped once."""
import io

import h5py
import numpy as np
import pytest
from PIL import Image

from pycolorize import data
from pycolorize.colorization import color


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

"""The released inference pipeline: scale rule (its resizing: test_images), banding, decoding to
a known colour, nets of other bin counts, any input format, the CLI, and the full-size deploy net
on a file laid out like the released weights."""
import os
import re
import subprocess
import sys

import h5py
import numpy as np
import pytest
from PIL import Image

import pycolorize
from pycolorize.colorization import color
from pycolorize.data import images
from pycolorize import models
from pycolorize.colorization.colorizer import Colorizer, released_scale

from conftest import tool_main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MINI = {"conv": (3, 3, 4, 4, 4), "fc": 4, "h_fc1": 5}


def test_released_scale_rule():
    assert released_scale(750, 1000, 512) == pytest.approx(256 / 750)   # short side to 256
    assert released_scale(100, 2000, 512) == pytest.approx(500 / 2000)  # long side capped at S - 12
    assert released_scale(200, 300, 512) == 1.0                        # never upscales


def random_net(deploy, text, scale=0.3):
    """`text` written to `deploy`, and its net with random weights (the fixed upsampling kept)."""
    deploy.write_text(text)
    net = pycolorize.Net(str(deploy))
    rng = np.random.RandomState(0)
    for name, blobs in net.params.items():
        if not name.endswith("_reshaped"):
            for b in blobs:
                b.data[...] = rng.randn(*b.shape) * scale
    return net


def fix_heads(net, bins):
    """Heads that ignore the image: head `name` predicts bin bins[name] with probability ~1."""
    for head, k in bins.items():
        net.params[head][0].data[...] = 0
        net.params[head][1].data[...] = -30
        net.params[head][1].data[k] = 30


@pytest.fixture(scope="module")
def mini_model(tmp_path_factory):
    d = tmp_path_factory.mktemp("mini")
    deploy = d / "deploy.prototxt"
    net = random_net(deploy, models.deploy_net(MINI, size=64))
    weights = str(d / "w.caffemodel.h5")
    net.save(weights)
    return str(deploy), weights


@pytest.mark.parametrize("exact", [False, True])
def test_colorize_any_input_keeps_size_and_lightness(mini_model, exact):
    c = Colorizer(*mini_model, size=64, band_rows=7, exact_upsample=exact)
    rng = np.random.RandomState(1)
    # the lightness is matched in float64 in the released order, in float32 by default (whose
    # rounding, about 6e-8 relative, is what the looser tolerance allows)
    tol = 1e-9 if exact else 1e-6
    for img in (rng.rand(45, 70, 3), (rng.rand(90, 33) * 255).astype(np.uint8),
                (rng.rand(40, 41, 4) * 65535).astype(np.uint16)):
        out = c.colorize(img)
        assert out.shape == img.shape[:2] + (3,) and out.min() >= 0 and out.max() <= 1
        gray_in = color.gray(images.to_rgb(img))
        inside = (out.max(-1) < 1) & (out.min(-1) > 0)  # where the lightness match did not clip
        np.testing.assert_allclose(color.gray(out)[inside], gray_in[inside], atol=tol, rtol=0)
    # bands are an implementation detail: one band gives the same image
    img = rng.rand(45, 70, 3)
    np.testing.assert_allclose(Colorizer(*mini_model, size=64, band_rows=1000, exact_upsample=exact).colorize(img),
                               c.colorize(img), atol=1e-12)
    hist = c.predict(img)
    assert hist["hue"].shape == (45, 70, 32)
    np.testing.assert_allclose(hist["chroma"][5:-5, 5:-5].sum(-1), 1, atol=1e-4)  # softmax, away from the canvas edge


def test_decoding_gives_the_predicted_colour(mini_model, tmp_path):
    # heads that ignore the image: hue bin 10, chroma bin 12, each with probability ~1
    deploy, weights = mini_model
    net = pycolorize.Net(deploy, weights=weights)
    fix_heads(net, {"prediction_h": 10, "prediction_c": 12})
    net.save(str(tmp_path / "fixed.caffemodel.h5"))
    out = Colorizer(deploy, str(tmp_path / "fixed.caffemodel.h5"), size=64).colorize(np.full((40, 40), 0.4))
    h, c, _ = color.rgb_to_hcv(out[10:30, 10:30])
    np.testing.assert_allclose(h, 10.5 / 32, atol=1e-6)
    np.testing.assert_allclose(c, 12.5 / 32, atol=1e-6)
    np.testing.assert_allclose(color.gray(out), 0.4, atol=1e-9)


def other_bins_model(tmp_path, k_h, k_c):
    """The mini deploy net with k_h hue and k_c chroma bins, predicting hue bin 10 and chroma bin 6."""
    text = models.deploy_net(MINI, size=64)
    for head, k in (("h", k_h), ("c", k_c)):
        layer = f'layer {{ name: "prediction_{head}" type: "Convolution"'
        i = text.index("num_output: 32", text.index(layer))
        text = text[:i] + f"num_output: {k}" + text[i + len("num_output: 32"):]
        full = f'top: "prediction_{head}_full"'
        i = text.index("dim: 32", text.index(full))
        text = text[:i] + f"dim: {k}" + text[i + len("dim: 32"):]
    deploy = tmp_path / f"deploy_{k_h}_{k_c}.prototxt"
    net = random_net(deploy, text)
    fix_heads(net, {"prediction_h": min(10, k_h - 1), "prediction_c": min(6, k_c - 1)})
    weights = str(tmp_path / f"w_{k_h}_{k_c}.caffemodel.h5")
    net.save(weights)
    return str(deploy), weights


def test_bin_counts_come_from_the_net(tmp_path):
    c = Colorizer(*other_bins_model(tmp_path, 24, 16), size=64, band_rows=9)
    assert c.bins == {"hue": 24, "chroma": 16}
    img = np.full((40, 38), 0.4)
    hist = c.predict(img)
    assert hist["hue"].shape == (40, 38, 24) and hist["chroma"].shape == (40, 38, 16)
    out = c.colorize(img)
    h, chroma, _ = color.rgb_to_hcv(out[10:30, 10:30])
    np.testing.assert_allclose(h, 10.5 / 24, atol=1e-6)  # the centres of 24 and 16 bins, not 32
    np.testing.assert_allclose(chroma, 6.5 / 16, atol=1e-6)
    blue = np.zeros((10, 10, 3))
    blue[..., 2] = 0.9
    for mode in ("energy", "quantile"):
        assert c.colorize(img, reference=blue, transfer_mode=mode).shape == (40, 38, 3)
    prediction = c.prediction_for(img)
    assert len(c.samples(img, n=2, prediction=prediction)) == 2 and c.uncertainty(img, prediction=prediction).shape == (40, 38)
    with pytest.raises(ValueError, match="prediction_c_full has 1 channel\\(s\\); a histogram output needs at least 2 bins"):
        Colorizer(*other_bins_model(tmp_path, 24, 1), size=64)


def test_colorize_cli(mini_model, tmp_path):
    deploy, weights = mini_model
    photos = tmp_path / "in"
    photos.mkdir()
    for name in ("a.png", "b.jpg"):
        Image.fromarray((np.random.RandomState(2).rand(50, 60, 3) * 255).astype(np.uint8)).save(photos / name)
    tool = os.path.join(ROOT, "tools", "colorize.py")
    common = ["--weights", weights, "--prototxt", deploy, "--size", "64"]
    r = subprocess.run([sys.executable, tool, str(photos), "-o", str(tmp_path / "out")] + common, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(tmp_path / "out")) == ["a.png", "b.png"]
    r = subprocess.run([sys.executable, tool, str(photos / "a.png"), "-o", str(tmp_path / "one.png")] + common,
                       capture_output=True, text=True)
    assert r.returncode == 0 and Image.open(tmp_path / "one.png").size == (60, 50)
    # --canvas reflect: the photo mirrored around it on the net's input, as Colorizer(canvas="reflect")
    r = subprocess.run([sys.executable, tool, str(photos / "a.png"), "-o", str(tmp_path / "mirrored.png"), "--canvas",
                        "reflect"] + common, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    image = np.asarray(Image.open(photos / "a.png"))
    want = {k: (np.clip(Colorizer(deploy, weights, size=64, canvas=k).colorize(image), 0, 1) * 255).astype(np.uint8)
            for k in ("zeros", "reflect")}
    got = np.asarray(Image.open(tmp_path / "mirrored.png"))
    assert np.abs(got.astype(int) - want["reflect"]).max() <= 1 < np.abs(got.astype(int) - want["zeros"]).max()
    r = subprocess.run([sys.executable, tool, str(photos / "a.png"), "-o", str(tmp_path / "x.png"), "--size", "100",
                        "--weights", weights, "--prototxt", deploy], capture_output=True, text=True)
    assert r.returncode != 0 and "not a multiple of 32" in r.stderr


def fails(capsys, main, argv, pattern):
    """main(argv) fails with status 1 and one line on stderr matching `pattern`."""
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and re.search(pattern, err) and "Traceback" not in err, err


def test_colorize_cli_mirrors_folders_and_never_overwrites(mini_model, tmp_path, capsys):
    deploy, weights = mini_model
    main = tool_main("colorize.py")
    common = ["--weights", weights, "--prototxt", deploy, "--size", "64"]
    photo = Image.fromarray((np.random.RandomState(2).rand(30, 40, 3) * 255).astype(np.uint8))
    for sub in ("a", "b", "b/deep"):
        (tmp_path / "in" / sub).mkdir(parents=True)
        photo.save(tmp_path / "in" / sub / "x.jpg")
    assert main([str(tmp_path / "in"), "-o", str(tmp_path / "out")] + common) == 0  # one folder: its tree as it is
    written = sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*.png"))
    assert written == ["a/x.png", "b/deep/x.png", "b/x.png"]
    assert main([str(tmp_path / "in" / "a"), str(tmp_path / "in" / "b"), "-o", str(tmp_path / "two")] + common) == 0
    assert sorted(str(p.relative_to(tmp_path / "two")) for p in (tmp_path / "two").rglob("*.png")) == \
        ["a/x.png", "b/deep/x.png", "b/x.png"]
    before = (tmp_path / "out" / "a" / "x.png").stat().st_mtime_ns
    fails(capsys, main, [str(tmp_path / "in"), "-o", str(tmp_path / "out")] + common,  # checked before anything is written
          "already exist.*--overwrite")
    assert (tmp_path / "out" / "a" / "x.png").stat().st_mtime_ns == before
    assert main([str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--overwrite"] + common) == 0
    photo.save(tmp_path / "in" / "a" / "x.png")  # x.jpg and x.png would both become x.png
    fails(capsys, main, [str(tmp_path / "in"), "-o", str(tmp_path / "third")] + common, "would both write")
    assert not (tmp_path / "third").exists()
    fails(capsys, main, [str(tmp_path / "in" / "a" / "x.jpg"), str(tmp_path / "in" / "b" / "x.jpg"), "-o",  # two files of one name
                         str(tmp_path / "t")] + common, "would both write")
    (tmp_path / "other" / "a").mkdir(parents=True)  # two folders of one name would merge their trees
    photo.save(tmp_path / "other" / "a" / "y.jpg")
    fails(capsys, main, [str(tmp_path / "in" / "a"), str(tmp_path / "other" / "a"), "-o", str(tmp_path / "m")] + common,
          "are both named 'a'")
    photo.save(tmp_path / "in" / "b" / "x_sample0.jpg")  # x's first sample would overwrite this one's output
    fails(capsys, main, [str(tmp_path / "in" / "b"), "-o", str(tmp_path / "s"), "--samples", "1"] + common,
          "would both write .*x_sample0.png")
    assert not (tmp_path / "m").exists() and not (tmp_path / "s").exists()
    with pytest.raises(SystemExit) as usage:  # --gpu takes an explicit ID and cannot swallow an input
        main(["--gpu", str(tmp_path / "in" / "a" / "x.jpg"), "-o", str(tmp_path / "g.png")] + common)
    assert usage.value.code == 2 and "--gpu: invalid int value" in capsys.readouterr().err
    if not (pycolorize.cuda_compiled() and pycolorize.gpu_count() > 0):
        fails(capsys, main, [str(tmp_path / "in" / "a" / "x.jpg"), "-o", str(tmp_path / "g.png"), "--gpu", "0"] + common,
              r"^colorize.py: --gpu 0: GPU 0 requested, but (this build|no CUDA device)")


def released_layout_file(path, seed=0):
    """A Caffe HDF5 file with the released model's 18 layers and shapes (fact sheet 4.5), random."""
    rng = np.random.default_rng(seed)
    shapes = {}
    cin = 1
    for block, n in enumerate(models.BLOCKS):
        for i in range(n):
            cout = models.VGG16["conv"][block]
            shapes[f"conv{block + 1}_{i + 1}"] = (cout, cin, 3, 3)
            cin = cout
    shapes.update({"fc6": (4096, 512, 7, 7), "fc7": (4096, 4096, 1, 1), "h_fc1": (1024, 12417, 1, 1),
                   "prediction_h": (32, 1024, 1, 1), "prediction_c": (32, 1024, 1, 1)})
    total = 0
    with h5py.File(path, "w") as f:
        for name, shape in shapes.items():
            fan_in = int(np.prod(shape[1:]))
            f[f"data/{name}/0"] = rng.standard_normal(shape, dtype=np.float32) * np.float32(np.sqrt(2.0 / fan_in))
            f[f"data/{name}/1"] = np.zeros(shape[0], np.float32)
            total += int(np.prod(shape)) + shape[0]
    return total


def test_full_size_deploy_loads_the_released_layout_and_colorizes(tmp_path):
    weights = str(tmp_path / "released_layout.caffemodel.h5")
    assert released_layout_file(weights) == 147_041_024
    c = Colorizer(os.path.join(ROOT, "prototxt", "colorize_deploy.prototxt"), weights, size=128)
    photo = np.random.RandomState(3).rand(150, 200, 3)
    out = c.colorize(photo)
    assert out.shape == (150, 200, 3) and np.isfinite(out).all()


@pytest.mark.parametrize("mode", ["energy", "quantile"])
def test_reference_colours_are_transferred(mini_model, mode):
    c = Colorizer(*mini_model, size=64)
    img = np.random.RandomState(4).rand(48, 48, 3) * 0.6 + 0.2
    blue = np.zeros((20, 20, 3))
    blue[..., 2] = 0.9
    out = c.colorize(img, reference=blue, transfer_mode=mode, lam=100.0)
    h, chroma, _ = color.rgb_to_hcv(out)
    coloured = chroma > 0.02
    assert coloured.mean() > 0.5
    # hue within 1/32 of blue's 2/3 on (most of) the coloured pixels
    assert np.mean(np.abs(h[coloured] - 2 / 3) < 1 / 32) > 0.8
    with pytest.raises(ValueError, match="energy' or 'quantile"):
        c.colorize(img, reference=blue, transfer_mode="magic")


def test_samples_and_uncertainty_cli(mini_model, tmp_path):
    deploy, weights = mini_model
    Image.fromarray((np.random.RandomState(5).rand(40, 44, 3) * 255).astype(np.uint8)).save(tmp_path / "p.png")
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "colorize.py"), str(tmp_path / "p.png"), "-o",
                        str(tmp_path / "o.png"), "--weights", weights, "--prototxt", deploy, "--size", "64",
                        "--samples", "2", "--uncertainty", "--reference", str(tmp_path / "p.png")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    for name in ("o.png", "o_sample0.png", "o_sample1.png", "o_uncertainty.png"):
        assert Image.open(tmp_path / name).size == (44, 40)


@pytest.mark.parametrize("param", ["mode:mode", "expectation:expectation", "sample:sample", "median:median"])
def test_every_decoding_runs(mini_model, param):
    out = Colorizer(*mini_model, size=64, param=param).colorize(np.random.RandomState(6).rand(30, 30, 3))
    assert out.shape == (30, 30, 3) and np.isfinite(out).all()
    with pytest.raises(ValueError, match="chroma:hue"):
        Colorizer(*mini_model, size=64, param="hue:chroma")


@pytest.mark.parametrize("variant", ["lab_k32", "lab_16x16", "lab_l2"])
def test_lab_nets_colorize(tmp_path, variant):
    deploy = tmp_path / "deploy.prototxt"
    random_net(deploy, models.deploy_net(MINI, size=64, variant=variant), scale=0.1).save(str(tmp_path / "w.h5"))
    c = Colorizer(str(deploy), str(tmp_path / "w.h5"), size=64)
    img = np.random.RandomState(1).rand(40, 36, 3)
    out = c.colorize(img)
    assert out.shape == (40, 36, 3) and np.isfinite(out).all()
    inside = (out.max(-1) < 1) & (out.min(-1) > 0)
    np.testing.assert_allclose(color.gray(out)[inside], color.gray(img)[inside], atol=1e-9)
    with pytest.raises(ValueError, match="needs a hue/chroma net"):
        c.uncertainty(img)


def test_lab_decoding_gives_the_predicted_colour(tmp_path):
    # a regression net whose head ignores the image and predicts (a, b) = (40, -30)
    deploy = tmp_path / "deploy.prototxt"
    deploy.write_text(models.deploy_net(MINI, size=64, variant="lab_l2"))
    net = pycolorize.Net(str(deploy))
    net.params["prediction_ab"][0].data[...] = 0
    net.params["prediction_ab"][1].data[...] = [0.4, -0.3]
    net.save(str(tmp_path / "w.h5"))
    out = Colorizer(str(deploy), str(tmp_path / "w.h5"), size=64).colorize(np.full((40, 40), 0.5))
    lab = color.rgb_to_lab(out[12:28, 12:28])
    # a and b as predicted, up to the final lightness match (which moves them a little)
    np.testing.assert_allclose(lab[..., 1], 40, atol=4)
    np.testing.assert_allclose(lab[..., 2], -30, atol=4)


# ---- decoding at the network's resolution (the default) against the released order --------------

def test_network_resolution_decoding_equals_the_released_order_without_resizing(mini_model):
    from pycolorize.colorization import sampling, transfer

    img = np.random.RandomState(7).rand(30, 40, 3)  # 30 x 40 on a 64 canvas: s = 1, nothing is resized
    fast, exact = Colorizer(*mini_model, size=64), Colorizer(*mini_model, size=64, exact_upsample=True)
    ours, ref = fast.colorize(img), exact.colorize(img)
    assert ours.dtype == np.float32 and ref.dtype == np.float64
    np.testing.assert_allclose(ours, ref, atol=2e-5)  # float32 against float64
    for a, b in zip(fast.samples(img, n=2), exact.samples(img, n=2)):
        np.testing.assert_allclose(a, b, atol=2e-5)
    np.testing.assert_allclose(fast.uncertainty(img), exact.uncertainty(img), atol=2e-5)
    # render(): Eq. 5's posteriors softmax(log y + b), then the decoding asked for
    pred = fast.prepare(img)
    b_h, b_c = sampling.hue_rotation_bias(0.3, 3.0, 32), sampling.chroma_bias(2.0, 32)
    hist = exact.predict(img)
    want = exact._decode((transfer.apply_bias(hist["hue"], b_h), transfer.apply_bias(hist["chroma"], b_c)),
                         exact._gray(img), ("mode", "expectation"))
    np.testing.assert_allclose(fast.render(pred, {"hue": b_h, "chroma": b_c}, param="mode:expectation"), want, atol=2e-5)
    # a bias that varies over the photo: each pixel biased by its own vector
    mask = np.zeros(pred.shape, np.float32)
    mask[:, pred.shape[1] // 2:] = 1
    half = fast.render(pred, {"hue": mask[..., None] * b_h})
    whole = fast.render(pred, {"hue": b_h})
    right = slice(ours.shape[1] // 2 + 2, None)
    np.testing.assert_allclose(half[:, right], whole[:, right], atol=1e-6)
    np.testing.assert_allclose(half[:, :ours.shape[1] // 2 - 2], ours[:, :ours.shape[1] // 2 - 2], atol=1e-6)


def test_network_resolution_decoding_is_close_to_the_released_order_when_resizing(mini_model):
    img = np.random.RandomState(8).rand(45, 70, 3)  # s = 0.71: the histograms or the chroma are upsampled
    ours = Colorizer(*mini_model, size=64).colorize(img)
    ref = Colorizer(*mini_model, size=64, exact_upsample=True).colorize(img)
    diff = np.abs(ours - ref)
    assert diff.mean() < 0.01 and np.quantile(diff, 0.99) < 0.05, (diff.mean(), np.quantile(diff, 0.99))


def test_prepare_runs_the_net_once(mini_model):
    c = Colorizer(*mini_model, size=64)
    calls = []
    forward = c.net.forward
    c.net.forward = lambda **kw: calls.append(1) or forward(**kw)
    pred = c.prepare(np.random.RandomState(9).rand(50, 60))
    for param in ("median:expectation-cf", "mode:mode", "sample:sample"):
        assert c.render(pred, param=param).shape == (50, 60, 3)
    assert c.render(pred, size=(25, 30)).shape == (25, 30, 3) and c.uncertainty_map(pred, size=(10, 12)).shape == (10, 12)
    c.reference_bias(pred, np.random.RandomState(1).rand(20, 20, 3))
    assert len(calls) == 1
    with pytest.raises(ValueError, match="bias keys are 'hue' and 'chroma'"):
        c.render(pred, {"a": np.zeros(32)})


def test_upsampled_chroma_wraps_round_hue(mini_model):
    # left half of the photo pulled hard to hue 0.97, right half to 0.03: between them the upsampled
    # chroma passes through red (hue 0), never through cyan (0.5, the mean of the two numbers)
    from pycolorize.colorization import sampling

    c = Colorizer(*mini_model, size=64)
    pred = c.prepare(np.full((200, 200), 0.5))  # s = 0.16: 32 x 32 network pixels, upsampled about 6x
    y, x = pred.grid()
    left = (x < 100)[..., None]
    b = np.where(left, sampling.hue_rotation_bias(0.97, 200.0, 32), sampling.hue_rotation_bias(0.03, 200.0, 32))
    out = c.render(pred, {"hue": b, "chroma": sampling.chroma_bias(200.0, 32)})  # a bias range of 400: the slow path
    h, chroma, _ = color.rgb_to_hcv(out)
    assert chroma.min() > 0.05 and np.isfinite(out).all()
    assert np.max(np.minimum(h, 1 - h)) < 0.04


def test_fused_colour_formation_matches_the_reference():
    from pycolorize.colorization.colorizer import _hue_chroma_rgb32

    rng = np.random.RandomState(0)
    hue, chroma, light = rng.rand(3, 20000)
    chroma *= 0.6
    light[:10], chroma[:5] = 0, 0
    hue[5:11] = [0, 1 / 6, 0.5, 5 / 6, 1 - 1e-7, 1]
    want = color.match_lightness(color.hue_chroma_to_rgb(hue, chroma, light), light)
    np.testing.assert_allclose(_hue_chroma_rgb32(hue, chroma, light), want, atol=1e-6)


def test_the_8_bit_lightness_shortcut_is_the_general_path_rounded():
    rng = np.random.default_rng(0)
    for shape in ((37, 53, 3), (37, 53, 4), (37, 53)):
        a = rng.integers(0, 256, shape, dtype=np.uint8)
        a[0, :3] = 0
        a[1, :3] = 255
        fast = Colorizer._gray32(Colorizer, a)
        assert fast.dtype == np.float32
        np.testing.assert_array_equal(fast, Colorizer._gray(a).astype(np.float32))
    wide = rng.integers(0, 65536, (20, 30, 3), dtype=np.uint16)  # 16-bit: the general path
    np.testing.assert_array_equal(Colorizer._gray32(Colorizer, wide), Colorizer._gray(wide).astype(np.float32))


def test_evaluate_says_and_overrides_what_the_calibration_file_applies(mini_model, tmp_path, capsys):
    # evaluate colorizes with the weights' calibration file as colorize does; --canvas and
    # --clamp-chroma override it, and the line it prints says what is applied.
    pytest.importorskip("matplotlib", reason="evaluate's figures need matplotlib")
    import json
    import shutil

    from pycolorize.colorization import calibration as cal
    from pycolorize import cli

    deploy, weights = mini_model
    own = str(tmp_path / "w.caffemodel.h5")
    shutil.copy(weights, own)
    truth = tmp_path / "truth"
    truth.mkdir()
    for i in range(2):
        Image.fromarray((np.random.RandomState(i).rand(24, 56, 3) * 255).astype(np.uint8)).save(truth / f"{i}.png")
    cal.save({"temperature": {"hue": 2.0, "chroma": 1.5}, "canvas": "reflect", "clamp_chroma": True}, cal.path_for(own))
    scores = {}
    for extra in ([], ["--canvas", "zeros", "--no-clamp-chroma"]):
        out = tmp_path / ("o" + "".join(extra))
        assert cli.main(["evaluate", "--folder", str(truth), "--weights", own, "--prototxt", deploy, "--size", "64",
                         "-o", str(out), "--quiet", *extra]) == 0
        printed = capsys.readouterr().out
        scores[bool(extra)] = json.load(open(out / "summary.json"))
        said = "canvas zeros, chroma clamp off" if extra else "canvas reflect, chroma clamp on"
        assert f"calibration: temperatures hue 2, chroma 1.5, {said}" in printed
    assert json.dumps(scores[False]) != json.dumps(scores[True])
    # weights without a calibration file: the released inference, nothing said; an option alone is said as such
    for extra, said in (([], None), (["--canvas", "reflect"], "calibration: no temperatures, canvas reflect, chroma clamp off\n")):
        assert cli.main(["evaluate", "--folder", str(truth), "--weights", weights, "--prototxt", deploy, "--size", "64",
                         "-o", str(tmp_path / ("plain" + "".join(extra))), "--quiet", *extra]) == 0
        printed = capsys.readouterr().out
        assert ("calibration:" in printed) == bool(said) and (said is None or said in printed)

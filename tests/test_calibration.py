"""pycolorize.colorization.calibration: the temperature transform, its fit on held-out pixels, the reliability
diagram, and the Colorizer applying a model's calibration file."""
import json
import os

import numpy as np
import pytest

import pycolorize
from pycolorize.colorization import calibration as cal
from pycolorize.colorization import color
from pycolorize import models
from pycolorize.colorization.colorizer import Colorizer

MINI = {"conv": (3, 3, 4, 4, 4), "fc": 4, "h_fc1": 5}


def softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_temperature_is_softmax_of_scaled_logits():
    z = np.random.default_rng(0).normal(0, 3, (50, 32))
    p = softmax(z)
    np.testing.assert_allclose(cal.apply(p, 2.5), softmax(z / 2.5), rtol=1e-9)
    assert cal.apply(p, 1.0) is p
    # towards a prior: softmax(z / t + (1 - 1/t) log prior), the prior itself as t grows
    prior = softmax(np.random.default_rng(1).normal(0, 1, 32))
    np.testing.assert_allclose(cal.apply(p, 2.5, prior), softmax(z / 2.5 + 0.6 * np.log(prior)), rtol=1e-9)
    np.testing.assert_allclose(cal.apply(p, 1e6, prior), np.broadcast_to(prior, p.shape), rtol=1e-4)


def test_chroma_prior_is_the_photos_chroma_histogram():
    rgb = np.array([[0.5, 0.5, 0.5]] * 6 + [[1.0, 0.0, 0.0]] * 2)  # chroma 0 (bin 0) and 1 (bin 31)
    prior = cal.chroma_prior(rgb, 32)
    assert prior.sum() == pytest.approx(1.0) and prior[0] == pytest.approx(0.75, rel=1e-2)
    assert prior[31] == pytest.approx(0.25, rel=1e-2) and prior[5] > 0


def overconfident(n=20000, k=32, sharpen=3.0, seed=0):
    """Histograms three times too sharp: the truth is drawn from softmax(z), the net says softmax(3z)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 1.2, (n, k))
    u = rng.random((n, 1))
    truth = np.minimum((np.cumsum(softmax(z), axis=1) < u).sum(1), k - 1)  # one draw per row
    return softmax(sharpen * z), truth


def test_fit_recovers_the_temperature_and_calibrates():
    p, truth = overconfident()
    t = cal.fit_temperature(p, truth)
    assert t == pytest.approx(3.0, rel=0.08)
    assert cal.nll(p, truth, t=t) < cal.nll(p, truth) - 0.1
    before, after = cal.reliability(p, truth), cal.reliability(cal.apply(p, t), truth)
    assert after["ece"] < 0.5 * before["ece"] and before["ece"] > 0.1
    assert sum(b["share"] for b in after["bins"]) == pytest.approx(1.0)
    # weights count: zero-weight rows do not move the fit
    q, truth2 = overconfident(sharpen=0.5, seed=1)  # too flat: alone they would want T < 1
    both, idx = np.concatenate([p, q]), np.concatenate([truth, truth2])
    w = np.concatenate([np.ones(len(p)), np.zeros(len(q))])
    assert cal.fit_temperature(both, idx, w) == pytest.approx(t, rel=1e-3)


def test_fit_on_pixels_weights_hue_by_chroma():
    rng = np.random.default_rng(2)
    rgb = rng.random((3000, 3))
    h, c, _ = color.rgb_to_hcv(rgb)
    hb, cb = color.uniform_bin(h, 32), color.uniform_bin(c, 32)
    z = rng.normal(0, 1, (3000, 32))
    z[np.arange(3000), hb] += 1.5
    zc = rng.normal(0, 1, (3000, 32))
    zc[np.arange(3000), cb] += 1.5
    out = cal.fit({"hue": softmax(4 * z), "chroma": softmax(4 * zc)}, rgb)
    assert out["pixels"] == 3000 and out["temperature"]["hue"] > 2 and out["temperature"]["chroma"] > 2
    for head in ("hue", "chroma"):
        assert out[head]["nll_after"] < out[head]["nll_before"]
    towards = cal.fit({"hue": softmax(4 * z), "chroma": softmax(4 * zc)}, rgb, chroma_prior=cal.chroma_prior(rgb))
    assert towards["chroma"]["nll_after"] < towards["chroma"]["nll_before"] and len(towards["chroma_prior"]) == 32
    assert towards["temperature"]["hue"] == out["temperature"]["hue"]  # the prior is the chroma's only
    with pytest.raises(ValueError, match="the chroma prior has 16 bins, the chroma histograms 32"):
        cal.fit({"hue": softmax(z), "chroma": softmax(zc)}, rgb, chroma_prior=np.full(16, 1 / 16))
    with pytest.raises(ValueError, match="as many hue and chroma histograms as pixels"):
        cal.fit({"hue": softmax(z), "chroma": softmax(zc)}, rgb[:10])


@pytest.fixture
def model(tmp_path):
    deploy = tmp_path / "deploy.prototxt"
    deploy.write_text(models.deploy_net(MINI, size=64))
    net = pycolorize.Net(str(deploy))
    rng = np.random.RandomState(0)
    for name, blobs in net.params.items():
        if not name.endswith("_reshaped"):
            for b in blobs:
                b.data[...] = rng.randn(*b.shape) * 0.3
    # confident heads: a saturated colour everywhere
    for head, k in (("prediction_h", 5), ("prediction_c", 20)):
        net.params[head][1].data[k] = 8
    weights = str(tmp_path / "model.caffemodel.h5")
    net.save(weights)
    return str(deploy), weights


def test_colorizer_applies_the_calibration_beside_the_weights(model):
    deploy, weights = model
    image = np.random.default_rng(3).random((40, 50, 3))
    plain = Colorizer(deploy, weights, size=64)
    assert plain.temperature is None
    sharp = plain.colorize(image)
    cal.save({"temperature": {"hue": 4.0, "chroma": 4.0}}, cal.path_for(weights))
    assert cal.path_for(weights).endswith("model.calibration.json")
    auto = Colorizer(deploy, weights, size=64)
    assert auto.temperature == {"hue": 4.0, "chroma": 4.0, "chroma_prior": None, "clamp_chroma": False, "canvas": "zeros"}
    flat = auto.colorize(image)
    chroma = lambda rgb: (rgb.max(-1) - rgb.min(-1)).mean()  # noqa: E731
    assert chroma(flat) < 0.8 * chroma(sharp)  # an unsure net fades towards gray
    np.testing.assert_allclose(auto.predict(image)["hue"].sum(-1), 1.0, rtol=1e-5)
    assert Colorizer(deploy, weights, size=64, calibration=None).temperature is None
    given = Colorizer(deploy, weights, size=64, calibration=cal.parse({"temperature": {"hue": 4, "chroma": 4}}))
    np.testing.assert_allclose(given.colorize(image), flat)
    # the chroma tempered towards a prior of the photos' usual (low) chroma fades further still
    prior = np.full(32, 1e-3)
    prior[1] = 1.0
    towards = Colorizer(deploy, weights, size=64, calibration=cal.parse({"temperature": {"hue": 4, "chroma": 4},
                                                                         "chroma_prior": (prior / prior.sum()).tolist()}))
    assert chroma(towards.colorize(image)) < 0.5 * chroma(flat)
    with open(cal.path_for(weights), "w") as f:
        json.dump({"temperature": {"hue": -1, "chroma": 1}}, f)
    with pytest.raises(ValueError, match="model.calibration.json: temperatures must be positive"):
        Colorizer(deploy, weights, size=64)
    os.remove(cal.path_for(weights))
    with pytest.raises(ValueError, match="not a calibration file"):
        Colorizer(deploy, weights, size=64, calibration=cal.path_for(weights))


@pytest.mark.parametrize("exact", [False, True])
def test_clamped_chroma_stays_within_what_the_lightness_admits(model, exact):
    # the confident heads ask for a saturated colour everywhere; clamped, no pixel is formed with
    # more chroma than its lightness admits (so nothing clips), black and white stay gray, and
    # pixels with room for the colour are unchanged
    from pycolorize.colorization import color

    deploy, weights = model
    rng = np.random.default_rng(4)
    image = rng.random((48, 56, 3)) * 0.1 + 0.45  # mid grays: room for the colour (C = 0.64 needs L > 0.43)
    image[:8] = 0.0
    image[8:16] = 1.0
    image[16:24] = rng.random((8, 56, 1)) * 0.06  # very dark
    free = Colorizer(deploy, weights, size=64, exact_upsample=exact).colorize(image)
    clamped = Colorizer(deploy, weights, size=64, exact_upsample=exact, clamp_chroma=True).colorize(image)
    gray = color.gray(image)
    hue, c, _ = color.rgb_to_hcv(clamped.astype(np.float64))
    assert np.all(c <= color.max_chroma(hue, gray) + 2e-5)
    np.testing.assert_allclose(color.gray(clamped), gray, atol=2e-6)  # nothing clipped: the lightness kept
    assert np.abs(clamped[:16] - gray[:16, :, None]).max() < 1e-6  # black and white: gray
    _, c_free, _ = color.rgb_to_hcv(free.astype(np.float64))
    assert c_free[:24].mean() > 4 * c[:24].mean()  # the released formation colours them (clipping)
    np.testing.assert_allclose(clamped[28:], free[28:], atol=1e-6)  # room for the colour: unchanged
    # the calibration file carries the setting; the argument overrides it
    cal.save({"temperature": {"hue": 1.0, "chroma": 1.0}, "clamp_chroma": True}, cal.path_for(weights))
    auto = Colorizer(deploy, weights, size=64, exact_upsample=exact)
    assert auto.clamp_chroma
    np.testing.assert_allclose(auto.colorize(image), clamped, atol=1e-6)
    assert not Colorizer(deploy, weights, size=64, clamp_chroma=False).clamp_chroma
    cal.save({"temperature": {"hue": 1.0, "chroma": 1.0}, "clamp_chroma": "yes"}, cal.path_for(weights))
    with pytest.raises(ValueError, match="model.calibration.json: not a calibration file .*clamp_chroma must be true or false"):
        Colorizer(deploy, weights, size=64)


def test_the_canvas_around_the_photo_is_black_or_the_photo_mirrored(model):
    # "zeros": the released dense inference's black border; "reflect": the photo mirrored outwards,
    # again and again where the border is wider than the photo (a thin strip); the calibration file
    # says which (the demo chooses on its validation split), the argument overrides it.
    deploy, weights = model
    image = np.random.default_rng(5).random((5, 40, 3))  # S = 64: no resize, placed at rows 29..33, columns 12..51
    seen = {}
    for canvas in ("zeros", "reflect"):
        c = Colorizer(deploy, weights, size=64, canvas=canvas)
        forward = c.net.forward
        c.net.forward = lambda data, _f=forward, _k=canvas: (seen.__setitem__(_k, data[0, 0].copy()), _f(data=data))[1]
        out = c.colorize(image)
        assert out.shape == image.shape and np.isfinite(out).all()
    gray = seen["zeros"][29:34, 12:52]
    np.testing.assert_allclose(gray, Colorizer._gray(image), atol=1e-6)
    assert np.count_nonzero(seen["zeros"]) == np.count_nonzero(gray)  # black around the photo
    period = [0, 1, 2, 3, 4, 3, 2, 1]  # rows of a 5-row photo mirrored about its first and last rows
    rows = [period[(r - 29) % 8] for r in range(64)]
    cols = [12 + (c - 12 if 12 <= c < 52 else (12 - c if c < 12 else 2 * 39 - (c - 12))) for c in range(64)]
    np.testing.assert_array_equal(seen["reflect"], seen["zeros"][29:34][rows][:, cols])
    for shape in ((1, 1001, 3), (1001, 1, 3)):  # resized to less than a pixel across: one row (column) of it
        for canvas in ("zeros", "reflect"):
            assert Colorizer(deploy, weights, size=64, canvas=canvas).colorize(np.full(shape, 0.5)).shape == shape
    cal.save({"temperature": {"hue": 1.0, "chroma": 1.0}, "canvas": "reflect"}, cal.path_for(weights))
    assert Colorizer(deploy, weights, size=64).canvas == "reflect"
    assert Colorizer(deploy, weights, size=64, canvas="zeros").canvas == "zeros"
    with pytest.raises(ValueError, match="canvas must be one of zeros, reflect, got 'edge'"):
        Colorizer(deploy, weights, size=64, canvas="edge")
    cal.save({"temperature": {"hue": 1.0, "chroma": 1.0}, "canvas": "edge"}, cal.path_for(weights))
    with pytest.raises(ValueError, match="model.calibration.json: not a calibration file .*canvas must be"):
        Colorizer(deploy, weights, size=64)
    os.remove(cal.path_for(weights))

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


def test_reliability_diagram_by_hand():
    # four pixels, weights 1, 1, 2, 4 (total 8), ten confidence bins; a confidence of exactly 1.0
    # belongs to the last bin
    p = np.array([[1.0, 0.0, 0.0],     # conf 1.0 -> bin 9, right
                  [0.9, 0.1, 0.0],     # conf 0.9 -> bin 9, wrong
                  [0.5, 0.3, 0.2],     # conf 0.5 -> bin 5, right
                  [0.4, 0.35, 0.25]])  # conf 0.4 -> bin 4, wrong
    truth = np.array([0, 1, 0, 2])
    r = cal.reliability(p, truth, weight=[1, 1, 2, 4])
    expect = [(0.4, 0.0, 0.5), (0.5, 1.0, 0.25), (0.95, 0.5, 0.25)]
    np.testing.assert_allclose([(b["confidence"], b["accuracy"], b["share"]) for b in r["bins"]], expect, rtol=1e-12)
    assert r["ece"] == pytest.approx(0.5 * 0.4 + 0.25 * 0.5 + 0.25 * 0.45)
    r = cal.reliability(p, truth)  # unweighted: each pixel a quarter
    np.testing.assert_allclose([(b["confidence"], b["accuracy"], b["share"]) for b in r["bins"]],
                               [(0.4, 0.0, 0.25), (0.5, 1.0, 0.25), (0.95, 0.5, 0.5)], rtol=1e-12)
    assert r["ece"] == pytest.approx(0.25 * 0.4 + 0.25 * 0.5 + 0.5 * 0.45)
    r = cal.reliability(p[:1], truth[:1], bins=4)  # the one pixel at 1.0, in the last of four bins
    assert r == {"ece": 0.0, "bins": [{"confidence": 1.0, "accuracy": 1.0, "share": 1.0}]}


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


# ---- mutation-testing follow-ups: hand-computed temperatures, closed forms, file checks -----------

import math  # noqa: E402


def _tempered(row, t, prior=None):
    """p^(1/t) prior^(1 - 1/t) renormalised, p floored at 1e-12, in scalars."""
    w = [max(x, 1e-12) ** (1 / t) * (1.0 if prior is None else prior[k] ** (1 - 1 / t)) for k, x in enumerate(row)]
    return [x / sum(w) for x in w]


def test_apply_and_tempered_log_by_hand():
    p = np.array([[0.5, 0.25, 0.25, 0.0], [0.1, 0.2, 0.3, 0.4]])
    prior = [0.4, 0.3, 0.2, 0.1]
    for t in (0.5, 2.0, 3.0):
        np.testing.assert_allclose(cal.apply(p, t), [_tempered(r, t) for r in p], rtol=1e-12, atol=1e-300)
        np.testing.assert_allclose(cal.apply(p, t, prior), [_tempered(r, t, prior) for r in p], rtol=1e-12, atol=1e-300)
        logs = [[math.log(max(x, 1e-12)) / t + (1 - 1 / t) * math.log(prior[k]) for k, x in enumerate(r)] for r in p]
        np.testing.assert_allclose(cal._tempered_log(p, t, prior), logs, rtol=1e-13)
        np.testing.assert_allclose(cal._tempered_log(p, t), [[math.log(max(x, 1e-12)) / t for x in r] for r in p], rtol=1e-13)
    # a float32 prior is taken in float64
    pr32 = np.array(prior, np.float32)
    np.testing.assert_allclose(cal._tempered_log(p, 2.0, pr32), cal._tempered_log(p, 2.0, pr32.astype(np.float64)),
                               rtol=1e-15)
    # any leading shape: (2, 3, 4), each histogram on its own
    p3 = np.random.default_rng(0).dirichlet(np.ones(4), size=(2, 3))
    out = cal.apply(p3, 2.5, prior)
    assert out.shape == (2, 3, 4)
    np.testing.assert_allclose(out, [[_tempered(r, 2.5, prior) for r in rows] for rows in p3], rtol=1e-12)
    # cold: T -> 0 tends to the most likely bin; rows far apart in scale do not underflow to NaN
    cold = cal.apply(np.array([[1.0, 0, 0, 0], [0.25] * 4, [0.6, 0.4, 0, 0]]), 0.001)
    np.testing.assert_allclose(cold, [[1, 0, 0, 0], [0.25] * 4, [1, 0, 0, 0]], atol=1e-12)


def test_nll_by_hand():
    # -sum_i w_i log p_T(index_i) / sum_i w_i, with p_T written out as above
    p = np.array([[0.5, 0.25, 0.25], [0.1, 0.2, 0.7], [0.6, 0.4, 0.0]])
    idx = np.array([0, 2, 1])
    w = np.array([3.0, 1.0, 0.5])
    prior = [0.5, 0.3, 0.2]
    assert cal.nll(p, idx) == pytest.approx(-(math.log(0.5) + math.log(0.7) + math.log(0.4)) / 3, rel=1e-12)
    assert cal.nll(p, idx, w) == pytest.approx(-(3 * math.log(0.5) + math.log(0.7) + 0.5 * math.log(0.4)) / 4.5, rel=1e-12)
    for t in (0.5, 2.5):
        for pr in (None, prior):
            q = [_tempered(r, t, pr) for r in p]
            assert cal.nll(p, idx, t=t, prior=pr) == pytest.approx(-sum(math.log(q[i][k]) for i, k in enumerate(idx)) / 3, rel=1e-12)
            assert cal.nll(p, idx, w, t, pr) == pytest.approx(-sum(wi * math.log(q[i][k]) for i, (k, wi) in enumerate(zip(idx, w))) / 4.5, rel=1e-12)
    assert cal.nll(p, idx, np.zeros(3)) == 0.0  # no weight at all: 0, not 0 / 0


def _two_bins(q, n0, n1):
    """n0 + n1 rows (q, 1 - q), the first n0 true in bin 0."""
    return np.tile([q, 1 - q], (n0 + n1, 1)), np.array([0] * n0 + [1] * n1)


def test_fit_temperature_matches_the_closed_form():
    # two bins, every row (q, 1 - q), a (weighted) share f of the truths in bin 0: the nll is least
    # where p_T(0) = f, at T = log(q / (1 - q)) / log(f / (1 - f)); towards a prior (pi, 1 - pi) at
    # T = (log Q - log P) / (log F - log P) with Q, P, F those odds; outside [0.25, 16]: the end
    p, idx = _two_bins(0.9, 3, 1)
    assert cal.fit_temperature(p, idx) == pytest.approx(math.log(9) / math.log(3), rel=1e-7)  # 2
    p, idx = _two_bins(0.9, 1, 1)
    assert cal.fit_temperature(p, idx, np.array([3.0, 1.0])) == pytest.approx(2.0, rel=1e-7)
    assert cal.fit_temperature(p, idx, None, np.array([0.25, 0.75])) == pytest.approx(3.0, rel=1e-7)
    p, idx = _two_bins(0.8, 7, 3)
    assert cal.fit_temperature(p, idx) == pytest.approx(math.log(4) / math.log(7 / 3), rel=1e-7)
    p, idx = _two_bins(0.6, 9, 1)
    assert math.log(1.5) / math.log(9) < 0.25  # the optimum lies below the search's range: its end
    assert cal.fit_temperature(p, idx) == pytest.approx(0.25, rel=1e-7)
    assert cal.fit_temperature(*_two_bins(0.9, 4, 0)) == pytest.approx(0.25, rel=1e-7)
    p, idx = _two_bins(0.9, 1, 1)
    assert cal.fit_temperature(p, idx) == pytest.approx(16.0, rel=1e-7)  # f = 1/2: T -> infinity


def _pixels():
    """8 pixels: red (hue bin 0, chroma 1), cyan (0, .5, .5) (hue bin 1, chroma .5), 6 grays (hue bin
    0, chroma 0); hue and chroma histograms (0.9, 0.1) on 2 bins."""
    rgb = np.array([[1.0, 0, 0], [0, 0.5, 0.5]] + [[0.5, 0.5, 0.5]] * 6)
    h = np.tile([0.9, 0.1], (8, 1))
    return {"hue": h, "chroma": h.copy()}, rgb


def test_fit_by_hand_on_eight_pixels():
    # hue weighted by chroma: f = 1 / 1.5 in bin 0, T = log 9 / log 2; chroma unweighted: f = 6/8,
    # T = log 9 / log 3 = 2, towards the prior (1/4, 3/4): T = 3 log 3 / (2 log 3) = 1.5; both reach
    # p_T(0) = f exactly, so the calibrated reliability has no error
    hist, rgb = _pixels()
    out = cal.fit(hist, rgb)
    assert out["pixels"] == 8 and out["chroma_prior"] is None
    assert out["temperature"]["hue"] == pytest.approx(math.log(9) / math.log(2), rel=1e-7)
    assert out["temperature"]["chroma"] == pytest.approx(2.0, rel=1e-7)
    l9, l1 = math.log(0.9), math.log(0.1)
    assert out["hue"]["nll_before"] == pytest.approx(-(l9 + 0.5 * l1) / 1.5, rel=1e-12)
    assert out["hue"]["nll_after"] == pytest.approx(-(math.log(2 / 3) + 0.5 * math.log(1 / 3)) / 1.5, rel=1e-9)
    assert out["chroma"]["nll_before"] == pytest.approx(-(6 * l9 + 2 * l1) / 8, rel=1e-12)
    assert out["chroma"]["nll_after"] == pytest.approx(-(6 * math.log(0.75) + 2 * math.log(0.25)) / 8, rel=1e-9)
    rb = out["hue"]["reliability_before"]
    assert rb["ece"] == pytest.approx(0.9 - 2 / 3, rel=1e-12) and len(rb["bins"]) == 1
    assert rb["bins"][0] == pytest.approx({"confidence": 0.9, "accuracy": 2 / 3, "share": 1.0}, rel=1e-12)
    ra = out["hue"]["reliability_after"]
    assert ra["ece"] == pytest.approx(0, abs=1e-7)
    assert ra["bins"][0] == pytest.approx({"confidence": 2 / 3, "accuracy": 2 / 3, "share": 1.0}, rel=1e-7)
    assert out["chroma"]["reliability_before"]["ece"] == pytest.approx(0.15, rel=1e-12)
    assert out["chroma"]["reliability_after"]["bins"][0] == pytest.approx({"confidence": 0.75, "accuracy": 0.75, "share": 1.0}, rel=1e-7)
    towards = cal.fit(hist, rgb, chroma_prior=np.array([0.25, 0.75]))
    assert towards["chroma_prior"] == [0.25, 0.75]
    assert towards["temperature"]["chroma"] == pytest.approx(1.5, rel=1e-7)
    assert towards["temperature"]["hue"] == out["temperature"]["hue"]
    assert towards["chroma"]["nll_after"] == pytest.approx(out["chroma"]["nll_after"], rel=1e-9)  # p_T = (3/4, 1/4) again
    assert towards["chroma"]["reliability_after"]["bins"][0]["confidence"] == pytest.approx(0.75, rel=1e-7)
    # maps (H, W, K) and (H, W, 3) are flattened; float32 histograms are taken in float64: the
    # closed form on the float32 values' odds
    maps = cal.fit({k: v.reshape(2, 4, 2) for k, v in hist.items()}, rgb.reshape(2, 4, 3))
    assert maps["temperature"] == out["temperature"]
    h32 = hist["hue"].astype(np.float32)
    q = float(h32[0, 0]) / float(h32[0, 1])
    out32 = cal.fit({"hue": h32, "chroma": h32}, rgb)
    assert out32["temperature"]["hue"] == pytest.approx(math.log(q) / math.log(2), rel=1e-7)
    assert out32["temperature"]["chroma"] == pytest.approx(math.log(q) / math.log(3), rel=1e-7)
    q0, q1 = (float(x) / (float(h32[0, 0]) + float(h32[0, 1])) for x in h32[0])  # renormalised, logs in float64
    assert out32["hue"]["nll_before"] == pytest.approx(-(math.log(q0) + 0.5 * math.log(q1)) / 1.5, rel=1e-13)
    assert out32["chroma"]["nll_before"] == pytest.approx(-(6 * math.log(q0) + 2 * math.log(q1)) / 8, rel=1e-13)
    # one pixel is enough; none is an error
    assert cal.fit({"hue": hist["hue"][:1], "chroma": hist["chroma"][:1]}, rgb[:1])["pixels"] == 1
    with pytest.raises(ValueError, match="as many hue and chroma histograms as pixels, got 0, 0, 0"):
        cal.fit({"hue": np.zeros((0, 2)), "chroma": np.zeros((0, 2))}, np.zeros((0, 3)))


def test_fit_subsamples_distinct_pixels_reproducibly(monkeypatch):
    # ten gray pixels whose chroma histograms' confidences fall in ten different reliability bins:
    # nine kept are nine distinct pixels (shares 1/9 in nine bins); the default seed is 0; at most
    # max_pixels pixels means all of them, untouched, when there are exactly that many
    conf = 0.055 + 0.1 * np.arange(10)
    chroma = np.array([[c] + [(1 - c) / 19] * 19 for c in conf])
    hue = np.tile([0.5, 0.5], (10, 1))
    rgb = np.full((10, 3), 0.5)
    hist = {"hue": hue, "chroma": chroma}
    sub = cal.fit(hist, rgb, max_pixels=9)
    bins = sub["chroma"]["reliability_before"]["bins"]
    assert sub["pixels"] == 9 and len(bins) == 9
    assert all(b["share"] == pytest.approx(1 / 9) for b in bins)
    assert cal.fit(hist, rgb, max_pixels=9, seed=0) == sub
    other = [cal.fit(hist, rgb, max_pixels=9, seed=s)["chroma"]["reliability_before"] for s in (1, 2, 3)]
    assert any(o != sub["chroma"]["reliability_before"] for o in other)
    rng = np.random.default_rng(6)
    h = rng.dirichlet(np.ones(8), 40)
    c = rng.dirichlet(np.ones(8), 40)
    px = rng.random((40, 3))
    assert cal.fit({"hue": h, "chroma": c}, px, max_pixels=40) == cal.fit({"hue": h, "chroma": c}, px, max_pixels=41)
    half = cal.fit({"hue": h, "chroma": c}, px, max_pixels=20)  # 20 of 40: reproducible, seed 0 by default
    assert half == cal.fit({"hue": h, "chroma": c}, px, max_pixels=20, seed=0)
    assert half["temperature"] != cal.fit({"hue": h, "chroma": c}, px, max_pixels=20, seed=1)["temperature"]
    # the default cap is 200000 pixels (the search stubbed out: only the count matters here)
    monkeypatch.setattr(cal, "fit_temperature", lambda p, index, weight=None, prior=None: 1.0)
    many = np.tile([0.5, 0.5], (200001, 1))
    assert cal.fit({"hue": many, "chroma": many}, np.full((200001, 3), 0.5))["pixels"] == 200000


def test_reliability_bins_by_floor_of_confidence_and_float64_weights():
    # confidences 0.45, 0.62, 0.68: bins 4, 6, 6 of ten; float32 weights are summed in float64
    p = np.array([[0.45, 0.35, 0.2], [0.38, 0.62, 0.0], [0.68, 0.32, 0.0]])
    truth = np.array([0, 0, 0])
    r = cal.reliability(p, truth)
    assert [(b["confidence"], b["accuracy"]) for b in r["bins"]] == [pytest.approx((0.45, 1.0)), pytest.approx((0.65, 0.5))]
    assert [b["share"] for b in r["bins"]] == pytest.approx([1 / 3, 2 / 3])
    assert r["ece"] == pytest.approx(0.55 / 3 + 2 / 3 * 0.15)
    w = np.array([0.1, 0.2, 0.3], np.float32)
    wd = [float(x) for x in w]
    r = cal.reliability(p, truth, w)
    assert r["bins"][0]["share"] == pytest.approx(wd[0] / (wd[0] + wd[1] + wd[2]), rel=1e-14)
    assert r["bins"][1]["confidence"] == pytest.approx((0.62 * wd[1] + 0.68 * wd[2]) / (wd[1] + wd[2]), rel=1e-14)


def test_chroma_prior_and_targets_by_hand():
    # 3 grays (chroma 0: bin 0) and one pixel of chroma 0.3 (bin 1 of 4); empty bins get 1e-4, then
    # renormalised
    rgb = np.array([[0.5, 0.5, 0.5]] * 3 + [[0.5, 0.2, 0.2]])
    np.testing.assert_allclose(cal.chroma_prior(rgb, 4), np.array([0.75, 0.25, 1e-4, 1e-4]) / 1.0002, rtol=1e-12)
    assert cal.chroma_prior(rgb.reshape(2, 2, 3), 4).shape == (4,)
    hb, cb, c = cal.targets(np.array([[1.0, 0, 0], [0, 0.5, 0.5], [0.2, 0.2, 0.9]]), 8, 4)
    assert hb.tolist() == [0, 4, 5] and cb.tolist() == [3, 2, 2]  # hues 0, 1/2, 2/3; chromas 1, .5, .7
    np.testing.assert_allclose(c, [1, 0.5, 0.7])


def test_calibration_files_read_write_and_refuse(tmp_path):
    # written as indented JSON; read back; errors name the file or "calibration" and the
    # exception's type; temperatures must be > 0, the prior a flat list of positive finite numbers
    c = {"temperature": {"hue": 2.0, "chroma": 3.0}, "chroma_prior": [0.5, 0.5]}
    path = tmp_path / "m.calibration.json"
    cal.save(c, str(path))
    assert json.loads(path.read_text()) == c and path.read_text().count("\n") >= 4  # indented, for people
    got = cal.load(str(path))
    assert got["hue"] == 2.0 and got["chroma"] == 3.0 and got["chroma_prior"].tolist() == [0.5, 0.5]
    with pytest.raises(ValueError, match=r"missing\.json: not a calibration file \(FileNotFoundError: "):
        cal.load(str(tmp_path / "missing.json"))
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ValueError, match=r"bad\.json: not a calibration file \(JSONDecodeError: "):
        cal.load(str(tmp_path / "bad.json"))
    with pytest.raises(ValueError, match=r"^calibration: not a calibration file \(KeyError: 'temperature'\)"):
        cal.parse({})
    assert cal.parse({"temperature": {"hue": 1, "chroma": 2}, "chroma_prior": [1, 2, 3]})["chroma_prior"].dtype == np.float64
    with pytest.raises(ValueError, match="^calibration: temperatures must be positive numbers"):
        cal.parse({"temperature": {"hue": 0.0, "chroma": 1.0}})
    for prior in ([0.0, 1.0], [float("inf"), 1.0], [float("nan"), 1.0], [[1.0, 2.0], [3.0, 4.0]], [-1.0, 2.0]):
        with pytest.raises(ValueError, match="^x: chroma_prior must be a list of positive numbers$"):
            cal.parse({"temperature": {"hue": 1.0, "chroma": 1.0}, "chroma_prior": prior}, "x")


def test_the_kept_calibration_is_the_lowest_validation_rmse_of_the_four(model):
    # every combination of canvas and clamp tried, and the one kept scores (through the public
    # Colorizer, rebuilt here from the returned file's contents) the RMSE it is listed with, the lowest
    from pycolorize.evaluation import metrics
    from pycolorize.evaluation.calibrate import choose_calibration

    deploy, weights = model
    rng = np.random.RandomState(3)
    validation = {f"v{i}": (rng.rand(40, 52, 3) * 255).astype(np.uint8) for i in range(2)}
    train = rng.rand(500, 3)
    got = choose_calibration(deploy, weights, validation, train, 64)
    tried = got["validation_rmse_ab"]
    assert set(tried) == {"zeros, clamp off", "zeros, clamp on", "reflect, clamp off", "reflect, clamp on"}
    assert f"{got['canvas']}, clamp {'on' if got['clamp_chroma'] else 'off'}" == min(tried, key=tried.get)
    assert got["temperature"]["hue"] > 0 and got["temperature"]["chroma"] > 0
    c = Colorizer(deploy, weights, size=64, calibration=cal.parse(got), clamp_chroma=got["clamp_chroma"])
    assert c.canvas == got["canvas"]
    rmse = np.mean([metrics.rmse_alphabeta(c.colorize(im).astype(np.float64), im / 255.0) for im in validation.values()])
    assert rmse == pytest.approx(min(tried.values()), rel=1e-6)
    # the chroma prior is the training pixels' chroma histogram, over the net's chroma bins
    np.testing.assert_allclose(got["chroma_prior"], cal.chroma_prior(train, 32), rtol=1e-12)
    # the temperatures are those fitted on the kept canvas's raw predictions of every validation pixel
    raw = Colorizer(deploy, weights, size=64, calibration=None, canvas=got["canvas"])
    hist = [raw.predict(im) for im in validation.values()]
    refit = cal.fit({k: np.concatenate([h[k].reshape(-1, 32) for h in hist]) for k in ("hue", "chroma")},
                    np.concatenate([im.reshape(-1, 3) / 255.0 for im in validation.values()]),
                    chroma_prior=cal.chroma_prior(train, 32))
    assert got["temperature"] == pytest.approx(refit["temperature"], rel=1e-9)

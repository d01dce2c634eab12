"""Colour maths and decoding: known values, round trips, the released constants."""
import colorsys
from statistics import NormalDist

import numpy as np
import pytest

from pycolorize.colorization import color, decode


def random_rgb(n=500, seed=0):
    return np.random.RandomState(seed).rand(n, 3)


def test_gray_hue_chroma_against_colorsys():
    rgb = np.concatenate([random_rgb(), [[0.5, 0.5, 0.5], [1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 0]]])
    h, c, v = color.rgb_to_hcv(rgb)
    for i, px in enumerate(rgb):
        hh, ss, vv = colorsys.rgb_to_hsv(*px)
        assert h[i] == pytest.approx(hh, abs=1e-12) and v[i] == pytest.approx(vv)
        assert c[i] == pytest.approx(ss * vv)  # chroma = s * v = max - min
    assert color.gray(rgb)[0] == pytest.approx(rgb[0].mean())
    assert h[-5] == 0 and c[-5] == 0  # gray: hue 0


def test_hsv_to_rgb_against_colorsys():
    hsv = random_rgb(seed=1)
    ours = color.hsv_to_rgb(hsv[:, 0], hsv[:, 1], hsv[:, 2])
    ref = np.array([colorsys.hsv_to_rgb(*x) for x in hsv])
    np.testing.assert_allclose(ours, ref, atol=1e-12)


def test_hue_chroma_lightness_round_trip():
    rgb = random_rgb(seed=2)
    h, c, _ = color.rgb_to_hcv(rgb)
    back = color.hue_chroma_to_rgb(h, c, color.gray(rgb))
    # V = L + C/2 is exact when the middle channel sits half-way between min and max; in general the
    # formation keeps hue and chroma and the lightness match restores the mean
    h2, c2, _ = color.rgb_to_hcv(back)
    ok = (back.max(axis=1) < 1) & (back.min(axis=1) > 0)
    np.testing.assert_allclose(h2[ok & (c > 1e-3)], h[ok & (c > 1e-3)], atol=1e-9)
    np.testing.assert_allclose(c2[ok], c[ok], atol=1e-9)
    matched = color.match_lightness(back, color.gray(rgb))
    np.testing.assert_allclose(color.gray(matched)[ok], color.gray(rgb)[ok], atol=1e-9)
    assert np.all(color.hue_chroma_to_rgb(0.3, 0.0, 0.0) == 0)  # L = C = 0 is black, not NaN


def test_uniform_bins():
    v = np.array([0.0, 0.03124, 0.03125, 0.5, 0.999, 1.0, 1.2, -0.1])
    assert color.uniform_bin(v, 32).tolist() == [0, 0, 1, 16, 31, 31, 31, 0]
    assert color.uniform_centres(4).tolist() == [0.125, 0.375, 0.625, 0.875]
    oh = color.one_hot(np.array([[0, 3]]), 4)
    assert oh.tolist() == [[[1, 0, 0, 0], [0, 0, 0, 1]]] and oh.dtype == np.float32


def test_lab_known_values_and_round_trip():
    lab = color.rgb_to_lab(np.array([[1.0, 1, 1], [0, 0, 0], [1, 0, 0]]))
    np.testing.assert_allclose(lab[0], [100, 0, 0], atol=0.01)
    np.testing.assert_allclose(lab[1], [0, 0, 0], atol=1e-9)
    np.testing.assert_allclose(lab[2], [53.24, 80.09, 67.20], atol=0.05)  # the textbook sRGB red
    rgb = random_rgb(seed=3)
    np.testing.assert_allclose(color.lab_to_rgb(color.rgb_to_lab(rgb)), rgb, atol=1e-6)


def test_gaussian_quantile_bins():
    edges = color.lab_edges(32)
    assert edges.shape == (31,) and edges[15] == pytest.approx(0.0, abs=1e-9)
    # equal mass: N(0, 25) samples spread evenly over the 32 bins
    a = np.random.RandomState(4).randn(320000) * 25
    counts = np.bincount(color.lab_bin(a, 32), minlength=32)
    assert np.abs(counts / len(a) - 1 / 32).max() < 0.002
    centres = color.lab_centres(32)
    assert np.all(color.lab_bin(centres, 32) == np.arange(32))
    assert color.lab_joint_bin(np.array([-200.0]), np.array([200.0]), 16).tolist() == [15]


def test_alphabeta():
    rgb = random_rgb(seed=5) * 0.8 + 0.1
    ab = color.rgb_to_alphabeta(rgb)
    g = color.gray(rgb) + 1e-4
    np.testing.assert_allclose(ab[:, 1], (rgb[:, 0] - rgb[:, 1]) / g)
    np.testing.assert_allclose(color.rgb_to_alphabeta(np.full((2, 3), 0.4)), 0, atol=1e-12)
    back = color.alphabeta_to_rgb(ab, color.gray(rgb))
    np.testing.assert_allclose(back, rgb, atol=0.02)  # Deshpande's inverse rounds 1/3 to 0.33


def test_decoders():
    p = np.zeros((3, 32))
    p[0, 5] = 1
    p[1, [2, 10]] = 0.5
    p[2] = 1 / 32
    assert decode.mode(p)[0] == pytest.approx(5.5 / 32)
    assert decode.median(p).tolist() == pytest.approx([5.5 / 32, 2.5 / 32, 15.5 / 32])  # first bin with cdf >= 0.5
    assert decode.expectation(p)[1] == pytest.approx(6.5 / 32)
    hue, fade = decode.hue_expectation(p)
    assert hue[0] == pytest.approx(5.5 / 32) and fade[0] == 1.0  # |z| = 1 >> K eta
    assert fade[2] == pytest.approx(0.0, abs=1e-12)  # uniform hue histogram: no colour
    q = np.zeros(32)
    q[[31, 0]] = 0.5  # wraps around 0: the circular mean is 0, not 0.5
    assert min(decode.hue_expectation(q)[0], 1 - decode.hue_expectation(q)[0]) < 1e-9


def test_chromatic_fading_between_none_and_full():
    # 0.7 on bin 0 and 0.3 on the opposite bin 16: z = 0.4 exp(i 2 pi 0.5/32), so the hue is bin 0's
    # centre and the factor |z| / (K eta) = 0.4 / 0.96, strictly between 0 and 1
    p = np.zeros((2, 32))
    p[0, [0, 16]] = 0.7, 0.3
    p[1, [8, 24]] = 0.3, 0.7  # the same on the other axis: the hue is bin 24's centre
    hue, fade = decode.hue_expectation(p)
    np.testing.assert_allclose(hue, [0.5 / 32, 24.5 / 32], atol=1e-12)
    np.testing.assert_allclose(fade, [0.4 / (32 * 0.03)] * 2, rtol=1e-12)
    assert decode.hue_expectation(p, eta=0.01)[1].tolist() == [1.0, 1.0]  # 0.4 / 0.32 > 1: capped
    np.testing.assert_allclose(decode.hue_expectation(p, eta=0.05)[1], 0.25, rtol=1e-12)
    assert decode.hue_expectation(p, fading=False)[1].tolist() == [1.0, 1.0]
    h32, f32 = decode.hue_expectation(p.astype(np.float32))  # float32 stays float32, to its precision
    assert h32.dtype == f32.dtype == np.float32
    np.testing.assert_allclose(f32, fade, rtol=1e-6)


def test_decoders_on_hand_made_histograms():
    # mode, expectation and median against hand-computed answers, on 8 bins (centres (k + 0.5) / 8)
    p = np.array([[0.1, 0.2, 0.3, 0.4, 0, 0, 0, 0],     # cdf .1 .3 .6 1: median bin 2, mode bin 3
                  [0.5, 0, 0, 0, 0, 0, 0, 0.5],         # cdf reaches .5 at bin 0 exactly
                  [0, 0, 0, 0, 0, 0, 0.25, 0.75]])      # the mode is the last bin
    centre = (np.arange(8) + 0.5) / 8
    np.testing.assert_allclose(decode.mode(p), centre[[3, 0, 7]])  # ties: the first bin (argmax)
    np.testing.assert_allclose(decode.median(p), centre[[2, 0, 7]])
    np.testing.assert_allclose(decode.expectation(p), [(.1 * .5 + .2 * 1.5 + .3 * 2.5 + .4 * 3.5) / 8,
                                                       (.5 * .5 + .5 * 7.5) / 8, (.25 * 6.5 + .75 * 7.5) / 8])
    # a histogram whose mass falls short of 0.5 by rounding keeps the median inside the bins
    assert decode.median(np.full(8, 0.06))[()] == pytest.approx(centre[7])
    for f in (decode.mode, decode.median, decode.expectation):
        assert f(p.astype(np.float32)).dtype == np.float32 and f(p).dtype == np.float64
        assert f(p.astype(np.float16)).dtype == np.float64  # other types decode in float64
        assert f(p[None]).shape == (1, 3)  # any leading shape


def test_max_chroma_is_the_most_the_colour_formation_reproduces():
    rng = np.random.default_rng(0)
    hue, light = rng.random(20000), rng.random(20000)
    bound = color.max_chroma(hue, light)
    for scale, exact_share in ((1.0, 1.0), (0.5, 1.0), (1.001, 0.0)):
        c = bound * scale
        rgb = color.match_lightness(color.hue_chroma_to_rgb(hue, c, light), light)
        h2, c2, _ = color.rgb_to_hcv(rgb)
        same = (np.isclose(c2, c, atol=1e-9) & np.isclose(rgb.mean(-1), light, atol=1e-9)
                & ((np.abs((h2 - hue + 0.5) % 1 - 0.5) < 1e-9) | (c < 1e-6)))
        share = same[bound > 1e-3].mean()
        assert (share == 1.0) if exact_share else (share < 0.02), (scale, share)
    assert color.max_chroma(0.3, 0.0) == 0 and color.max_chroma(0.7, 1.0) == 0
    assert color.max_chroma(0.0, 0.5) == pytest.approx(0.75)  # pure red at mid lightness: (1, .25, .25)


# ---- mutation-testing follow-ups: exact boundaries, dtypes, shapes, errors -------------------------

import math  # noqa: E402
import warnings  # noqa: E402

_M = np.array([[0.412453, 0.357580, 0.180423],  # the released sRGB -> XYZ matrix and D65 white, as printed
               [0.212671, 0.715160, 0.072169],  # in the fact sheet (and in skimage.color)
               [0.019334, 0.119193, 0.950227]])
_W = (0.95047, 1.0, 1.08883)


def _lab_ref(r, g, b):
    """rgb_to_lab of one pixel, written out in scalars (sRGB: the linear segment includes 0.04045;
    CIE f: the linear segment includes 0.008856)."""
    lin = [((c + 0.055) / 1.055) ** 2.4 if c > 0.04045 else c / 12.92 for c in (r, g, b)]
    x, y, z = (sum(_M[i][j] * lin[j] for j in range(3)) / _W[i] for i in range(3))
    f = [math.copysign(abs(t) ** (1 / 3), t) if t > 0.008856 else 7.787 * t + 16 / 116 for t in (x, y, z)]
    return [116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])]


def test_cie_f_and_its_inverse_take_the_linear_segment_at_the_threshold():
    # CIE: f(t) = t^(1/3) above 0.008856, 7.787 t + 16/116 at and below it (the two differ by 3e-7 there);
    # the inverse: t^3 above 0.206893, (t - 16/116) / 7.787 at and below it (they differ by 4e-8)
    assert color._f(np.array(0.008856)) == pytest.approx(7.787 * 0.008856 + 16 / 116, abs=1e-15)
    assert color._f(np.array(0.0088561)) == pytest.approx(0.0088561 ** (1 / 3), abs=1e-15)
    assert color._f_inv(np.array(0.206893)) == pytest.approx((0.206893 - 16 / 116) / 7.787, abs=1e-15)
    assert color._f_inv(np.array(0.2068931)) == pytest.approx(0.2068931 ** 3, abs=1e-15)


def test_rgb_to_lab_against_scalar_formula_and_skimage():
    # a scalar transcription of the formulas, and skimage.color.rgb2lab (same matrix, D65 white and
    # thresholds), to 1e-9; 0.04045 exactly is on sRGB's linear segment (the power law differs by 2e-9,
    # 2e-6 in L)
    from skimage.color import rgb2lab

    rgb = np.concatenate([random_rgb(200, seed=7), [[0.04045] * 3, [0.04045, 0.5, 0.0], [0.0, 0.04045, 1.0]]])
    ours = color.rgb_to_lab(rgb)
    np.testing.assert_allclose(ours, [_lab_ref(*px) for px in rgb], rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours, rgb2lab(rgb), rtol=0, atol=1e-9)
    # any leading shape, one pixel included; float32 in, float64 out (computed from the float32 values)
    img = rgb[:12].reshape(2, 2, 3, 3)
    assert color.rgb_to_lab(img).shape == (2, 2, 3, 3)
    np.testing.assert_allclose(color.rgb_to_lab(img)[1, 0, 2], _lab_ref(*img[1, 0, 2]), atol=1e-9)
    np.testing.assert_allclose(color.rgb_to_lab(rgb[0]), _lab_ref(*rgb[0]), atol=1e-9)
    r32 = rgb.astype(np.float32)
    out32 = color.rgb_to_lab(r32)
    assert out32.dtype == np.float64
    np.testing.assert_allclose(out32, color.rgb_to_lab(r32.astype(np.float64)), rtol=0, atol=1e-12)


def test_lab_to_rgb_against_skimage_boundaries_and_clipping():
    # skimage.color.lab2rgb uses the same constants but switches f^-1 at 0.2068966 instead of 0.206893,
    # where the two segments differ by < 1e-7: 1e-6 suffices (in-gamut colours only: skimage clamps z < 0)
    from skimage.color import lab2rgb

    lab = color.rgb_to_lab(random_rgb(200, seed=8) * 0.9 + 0.05)
    np.testing.assert_allclose(color.lab_to_rgb(lab), lab2rgb(lab), rtol=0, atol=1e-6)
    # any leading shape, one pixel included; float32 Lab is converted before any arithmetic
    img = lab[:12].reshape(2, 2, 3, 3)
    assert color.lab_to_rgb(img).shape == (2, 2, 3, 3)
    np.testing.assert_allclose(color.lab_to_rgb(img)[1, 1], lab2rgb(img[1, 1]), atol=1e-6)
    np.testing.assert_allclose(color.lab_to_rgb(lab[5]), lab2rgb(lab[5]), atol=1e-6)
    l32 = lab.astype(np.float32)
    assert color.lab_to_rgb(l32).dtype == np.float64
    np.testing.assert_allclose(color.lab_to_rgb(l32), color.lab_to_rgb(l32.astype(np.float64)), rtol=0, atol=1e-12)
    # sRGB's linear segment includes 0.0031308: this Lab (found by search) gives a linear green of
    # exactly 0.0031308, so G = 12.92 * 0.0031308 (the power law would give 2.9e-8 more)
    assert color.lab_to_rgb(np.array([2.763936526262845, -0.3, 0.0]))[1] == pytest.approx(12.92 * 0.0031308, abs=1e-12)
    # out of gamut: clipped to [0, 1] per channel, with no NaN or warning from negative linear values
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = color.lab_to_rgb(np.array([[100.0, 80.0, 0.0], [50.0, -120.0, 100.0], [0.0, 0.0, 0.0], [100, 0, 0]]))
    assert np.all((out >= 0) & (out <= 1))
    assert out[0, 0] == 1.0 and out[1, 0] == 0.0  # a red above 1 and a red below 0
    np.testing.assert_allclose(out[2], 0.0, atol=1e-12)
    np.testing.assert_allclose(out[3], 1.0, atol=1e-4)


def test_rgb_helpers_convert_to_float64_and_name_a_bad_shape():
    # the module works in float64 whatever float type comes in; a shape without 3 channels last is
    # refused with a message naming the shape
    rgb32 = random_rgb(20, seed=9).astype(np.float32)
    assert color.gray(rgb32).dtype == np.float64
    np.testing.assert_allclose(color.gray(rgb32), rgb32.astype(np.float64).sum(-1) / 3, rtol=1e-15)
    h, c, v = color.rgb_to_hcv(rgb32)
    assert h.dtype == c.dtype == v.dtype == np.float64
    with pytest.raises(ValueError, match=r"expected an RGB image with 3 channels last, got shape \(2, 4\)"):
        color.gray(np.zeros((2, 4)))


def test_rgb_to_hcv_gray_pixels_divide_nothing_by_zero():
    # gray pixels (chroma 0) get hue 0 without a 0 / 0 anywhere (no RuntimeWarning)
    rgb = np.array([[0.3, 0.3, 0.3], [0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [0.2, 0.6, 0.4]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        h, c, v = color.rgb_to_hcv(rgb)
    assert h[:3].tolist() == [0, 0, 0] and c[:3].tolist() == [0, 0, 0] and v[:3].tolist() == [0.3, 0, 1]
    assert h[3] == pytest.approx(colorsys.rgb_to_hsv(0.2, 0.6, 0.4)[0], abs=1e-12)


def test_hsv_to_rgb_hue_one_is_red_and_float32_is_computed_in_float64():
    # colorsys: hue 1.0 wraps to 0 (red); float32 inputs give colorsys's answer for their float64 values
    for s, v in ((1.0, 1.0), (0.5, 0.8), (0.25, 0.3)):
        np.testing.assert_allclose(color.hsv_to_rgb(1.0, s, v), colorsys.hsv_to_rgb(1.0, s, v), atol=1e-12)
    hsv = random_rgb(100, seed=10).astype(np.float32)
    ours = color.hsv_to_rgb(hsv[:, 0], hsv[:, 1], hsv[:, 2])
    ref = np.array([colorsys.hsv_to_rgb(*map(float, x)) for x in hsv])
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-15)
    assert color.hsv_to_rgb(0.5, np.array([0.0, 1.0]), 1.0).tolist() == [[1, 1, 1], [0, 1, 1]]  # broadcast


def _hue_chroma_ref(h, c, l):
    """The docstring's recipe with colorsys: V = L + C/2, S = 2C / (2L + C) (0 where 2L + C <= 0),
    each clipped to [0, 1], HSV to RGB, clipped."""
    v, d = l + c / 2, 2 * l + c
    s = 2 * c / d if d > 0 else 0.0
    clip = lambda x: min(max(x, 0.0), 1.0)  # noqa: E731
    return [clip(x) for x in colorsys.hsv_to_rgb(clip(h), clip(s), clip(v))]


def test_hue_chroma_to_rgb_clips_hue_saturation_and_value_as_documented():
    # against colorsys on in- and out-of-range inputs: negative and > 1 hues, negative chroma,
    # saturations above 1 (C > 2L) and values above 1 (L + C/2 > 1), negative lightness
    hues = [-0.25, 0.0, 1 / 12, 0.3, 0.5, 0.9, 1.0, 1.25]
    chromas = [-0.2, 0.0, 0.3, 0.5, 0.9]
    lights = [-0.2, 0.0, 0.1, 0.45, 0.9, 1.2]
    grid = np.array([(h, c, l) for h in hues for c in chromas for l in lights])
    ref = np.array([_hue_chroma_ref(*x) for x in grid])
    np.testing.assert_allclose(color.hue_chroma_to_rgb(grid[:, 0], grid[:, 1], grid[:, 2]), ref, rtol=0, atol=1e-12)
    # float32 inputs: the formation in float64 on their values
    g32 = grid.astype(np.float32)
    ref32 = np.array([_hue_chroma_ref(*map(float, x)) for x in g32])
    np.testing.assert_allclose(color.hue_chroma_to_rgb(g32[:, 0], g32[:, 1], g32[:, 2]), ref32, rtol=0, atol=1e-15)
    # L = C = 0 and L = -C/2: black, without dividing by zero
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert color.hue_chroma_to_rgb(np.array([0.3, 0.6]), np.array([0.0, 0.4]), np.array([0.0, -0.2])).tolist() == [[0, 0, 0]] * 2


def test_bins_defaults_edges_and_dtypes():
    # defaults: 32 uniform bins, 32 Gaussian-quantile bins, 16 x 16 joint bins
    assert len(color.uniform_centres()) == 32 and color.uniform_centres()[-1] == 31.5 / 32
    assert len(color.lab_edges()) == 31 and len(color.lab_centres()) == 32
    assert color.lab_centres()[0] == pytest.approx(NormalDist(0, 25).inv_cdf(0.5 / 32), rel=1e-12)
    assert color.lab_bin(np.array([-500.0, 500.0])).tolist() == [0, 31]
    assert color.lab_joint_bin(np.array([500.0, -500.0, 0.0]), np.array([-500.0, 500.0, 0.0])).tolist() == [240, 15, 136]
    # a value exactly on an edge belongs to the bin above it ([lo, hi) bins)
    edges = color.lab_edges(32)
    assert color.lab_bin(edges, 32).tolist() == list(range(1, 32))
    assert color.lab_bin(np.array(0.0), 32) == 16
    # sigma: bins of N(0, sigma) quantiles, by NormalDist's cdf
    vals = np.array([-30.0, -7.0, -1.0, 0.5, 4.0, 12.0, 30.0])
    expect = [min(int(NormalDist(0, 10).cdf(v) * 8), 7) for v in vals]
    assert color.lab_bin(vals, 8, sigma=10.0).tolist() == expect
    ia = [min(int(NormalDist(0, 10).cdf(v) * 8), 7) for v in vals]
    ib = [min(int(NormalDist(0, 10).cdf(v) * 8), 7) for v in vals[::-1]]
    assert color.lab_joint_bin(vals, vals[::-1], 8, sigma=10.0).tolist() == [i * 8 + j for i, j in zip(ia, ib)]
    # values are binned as float64: a long double just below an edge that rounds onto it in float64
    e = np.longdouble(edges[20])
    below = e - np.longdouble(np.spacing(edges[20])) / 4
    if below != e:  # platforms whose long double is wider than float64
        assert color.lab_bin(np.array([below]), 32).tolist() == [21]
        assert color.uniform_bin(np.array([np.longdouble(0.5) - np.longdouble(2.0 ** -60)]), 32).tolist() == [16]
    # uniform bins of a float32 value are taken in float64: 0.84999996f * 20 = 16.9999993, bin 16
    assert color.uniform_bin(np.array([0.8499999642372131], dtype=np.float32), 20).tolist() == [16]
    assert color.uniform_bin(np.float32(0.9166666269302368), 12) == 10


def test_alphabeta_to_rgb_formula_shapes_and_dtypes():
    # Deshpande's toRGB.m written out per pixel, on an image (leading shape (2, 2)) and a single pixel
    ab = np.array([[[0.2, -0.1], [0.0, 0.5]], [[-0.3, 0.3], [1.0, -1.0]]])
    g = np.array([[0.4, 0.7], [0.1, 0.55]])
    expect = np.array([[[gg - 0.33 * gg * a + 0.5 * gg * b, gg - 0.33 * gg * a - 0.5 * gg * b, gg + 0.66 * gg * a]
                        for (a, b), gg in zip(row_ab, row_g)] for row_ab, row_g in zip(ab, g)])
    np.testing.assert_allclose(color.alphabeta_to_rgb(ab, g), expect, rtol=1e-15)
    np.testing.assert_allclose(color.alphabeta_to_rgb(ab[0, 0], 0.4), expect[0, 0], rtol=1e-15)
    # computed in float64 whatever comes in: float32 gray gives the float64 answer on its values, and a
    # long double alpha-beta comes back float64
    g32 = g.astype(np.float32)
    np.testing.assert_allclose(color.alphabeta_to_rgb(ab, g32), color.alphabeta_to_rgb(ab, g32.astype(np.float64)),
                               rtol=0, atol=1e-15)
    assert color.alphabeta_to_rgb(ab, g32).dtype == np.float64
    assert color.alphabeta_to_rgb(ab.astype(np.longdouble), g).dtype == np.float64
    assert color.alphabeta_to_rgb(ab, g.astype(np.longdouble)).dtype == np.float64


def test_to_rgb_channels_integer_scaling_and_errors():
    # gray (2-D or one channel) repeated, gray + alpha: the gray repeated, RGBA: alpha dropped
    g = np.array([[0.2, 0.4, 0.6, 0.8, 1.0]] * 2)  # 2 x 5: a width that is no channel count
    for a in (g, g[..., None], np.stack([g, np.ones_like(g)], -1)):
        out = color.to_rgb(a)
        assert out.shape == (2, 5, 3) and out.dtype == np.float64
        np.testing.assert_array_equal(out, np.repeat(g[..., None], 3, axis=-1))
    narrow = np.array([[[0.1, 0.2, 0.3]], [[0.4, 0.5, 0.6]]])  # 2 x 1 x 3: width 1
    np.testing.assert_array_equal(color.to_rgb(narrow), narrow)
    two_wide = np.arange(12).reshape(2, 2, 3) / 12  # 2 x 2 x 3: width 2
    np.testing.assert_array_equal(color.to_rgb(two_wide), two_wide)
    rgba = np.concatenate([two_wide, np.full((2, 2, 1), 0.5)], -1)
    np.testing.assert_array_equal(color.to_rgb(rgba), two_wide)
    # integers scaled by their type's maximum; floats clipped to [0, 1], not scaled
    np.testing.assert_allclose(color.to_rgb(np.array([[[0, 128, 255]]], np.uint8)), [[[0, 128 / 255, 1]]], rtol=1e-15)
    np.testing.assert_allclose(color.to_rgb(np.array([[1000, 65535]], np.uint16)), [[[1000 / 65535] * 3, [1] * 3]], rtol=1e-15)
    np.testing.assert_allclose(color.to_rgb(np.array([[[-128, 0, 127]]], np.int8)), [[[0, 0, 1]]])
    assert color.to_rgb(np.array([[[-0.5, 0.25, 1.5]]])).tolist() == [[[0, 0.25, 1]]]
    assert color.to_rgb(np.array([[[-0.5, 0.25, 1.5]]], np.float32)).dtype == np.float64
    src = np.array([[[-0.5, 0.25, 1.5]]])
    color.to_rgb(src)
    assert src.tolist() == [[[-0.5, 0.25, 1.5]]]  # the input is not modified
    for shape in ((3,), (5, 5, 5), (1, 2, 2, 3), (2, 2, 0)):
        with pytest.raises(ValueError, match=r"not an image: array of shape \(" + str(shape[0])):
            color.to_rgb(np.zeros(shape))


def test_decoders_keep_float32_and_decode_everything_else_in_float64():
    # the module doc: float32 histograms decode in float32, all others (float64, float16, integer
    # counts) in float64; answers by hand on 4 bins, centres (k + 0.5) / 4
    p = np.array([[0.1, 0.2, 0.3, 0.4], [0.7, 0.1, 0.1, 0.1]])
    want = {decode.mode: [3.5 / 4, 0.5 / 4], decode.median: [2.5 / 4, 0.5 / 4],
            decode.expectation: [(0.1 * 0.5 + 0.2 * 1.5 + 0.3 * 2.5 + 0.4 * 3.5) / 4, (0.7 * 0.5 + 0.1 * (1.5 + 2.5 + 3.5)) / 4]}
    for f, expect in want.items():
        for dtype, out_dtype, tol in ((np.float64, np.float64, 1e-15), (np.float32, np.float32, 1e-7),
                                      (np.float16, np.float64, 1e-3)):
            out = f(p.astype(dtype))
            assert out.dtype == out_dtype, (f.__name__, dtype)
            np.testing.assert_allclose(out, expect, rtol=0, atol=tol)
    counts = np.array([[1, 3, 0, 0], [0, 0, 0, 5]])  # integer counts: decoded in float64 like any histogram
    assert decode.mode(counts).dtype == np.float64 and decode.mode(counts).tolist() == [1.5 / 4, 3.5 / 4]
    np.testing.assert_allclose(decode.expectation(counts / counts.sum(-1, keepdims=True)), [1.25 / 4, 3.5 / 4])
    h, f = decode.hue_expectation(p.astype(np.float16))
    assert h.dtype == f.dtype == np.float64


def test_hue_expectation_wraps_into_zero_one_and_fading_off_is_ones():
    # angles below zero come back in [0, 1): a single bin k has hue (k + 0.5) / K exactly, all K of them
    p = np.eye(8)
    hue, fade = decode.hue_expectation(p)
    np.testing.assert_allclose(hue, (np.arange(8) + 0.5) / 8, atol=1e-12)
    assert np.all((hue >= 0) & (hue < 1)) and fade.tolist() == [1.0] * 8
    hue, fade = decode.hue_expectation(p[None], fading=False)
    assert fade.shape == hue.shape == (1, 8) and fade.dtype == np.float64 and np.all(fade == 1)
    h32, f32 = decode.hue_expectation(p.astype(np.float32), fading=False)
    assert h32.dtype == f32.dtype == np.float32

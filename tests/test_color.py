"""Colour maths and decoding: known values, round trips, the released constants."""
import colorsys

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

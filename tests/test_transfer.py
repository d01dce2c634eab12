"""Histogram transfer: the analytic gradient of Eq. 5 against finite differences, a constant-colour
target recovered, quantile matching, and the Colorizer/CLI path."""
import numpy as np
import pytest

from pycolorize.colorization import color, decode, transfer


def predictions(n=200, k=32, seed=0):
    rng = np.random.RandomState(seed)
    y = rng.dirichlet(np.ones(k) * 0.3, size=n)
    return np.maximum(y, 1e-9) / np.maximum(y, 1e-9).sum(1, keepdims=True)


def test_energy_gradient_matches_finite_differences():
    y, t = predictions(), np.random.RandomState(1).dirichlet(np.ones(32))
    b = np.random.RandomState(2).randn(32) * 0.5
    for lam in (0.0, 3.0):
        _, grad = transfer.energy(b, y, t, lam)
        h = 1e-6
        numeric = np.array([(transfer.energy(b + h * e, y, t, lam)[0] - transfer.energy(b - h * e, y, t, lam)[0]) / (2 * h)
                            for e in np.eye(32)])
        np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-8)


def test_constant_colour_target_is_recovered():
    y = predictions(seed=3)  # uncertain, varied per pixel
    t = np.zeros(32)
    t[7] = 1.0  # the reference is one colour
    b = transfer.solve_bias(y, t, lam=50.0)
    ys = transfer.apply_bias(y, b)
    assert ys.mean(0)[7] > 0.9
    assert np.mean(decode.mode(ys) == (7.5 / 32)) > 0.9
    assert transfer.energy(b, y, t, 50.0)[0] < transfer.energy(np.zeros(32), y, t, 50.0)[0]


def test_zero_lambda_keeps_the_prediction():
    y, t = predictions(seed=4), np.ones(32) / 32
    np.testing.assert_allclose(transfer.solve_bias(y, t, lam=0.0), 0.0, atol=1e-12)
    with pytest.raises(ValueError, match=r"\(N, K\)"):
        transfer.solve_bias(y, np.ones(16), lam=1.0)


def test_quantile_transfer_matches_the_reference_distribution():
    rng = np.random.RandomState(5)
    src = rng.rand(40, 50, 3) * 0.5 + 0.25
    ref = np.zeros((30, 30, 3))
    ref[...] = [0.8, 0.3, 0.2]  # one reddish colour
    out = transfer.quantile_transfer(src, ref)
    h, c, _ = color.rgb_to_hcv(out)
    h_ref, _, _ = color.rgb_to_hcv(ref[:1, :1])
    ok = c > 0.05
    assert ok.mean() > 0.8 and np.allclose(h[ok], h_ref[0, 0], atol=0.02)


def test_reference_histograms_ignore_gray_pixels():
    ref = np.zeros((10, 10, 3))
    ref[:5] = [0.0, 0.0, 1.0]  # blue: hue 2/3, chroma 1
    ref[5:] = 0.5  # gray
    hue, chroma = transfer.reference_histograms(ref, 32)
    assert hue.argmax() == color.uniform_bin(2 / 3) and hue.max() == pytest.approx(1.0)
    assert chroma[0] == pytest.approx(0.5) and chroma[31] == pytest.approx(0.5)
    # over the bins of the net's predictions, which need not be 32 (nor the same for hue and chroma)
    hue, chroma = transfer.reference_histograms(ref, 24, 10)
    assert hue.shape == (24,) and hue.argmax() == 16 and chroma.shape == (10,)
    assert chroma[0] == pytest.approx(0.5) and chroma[9] == pytest.approx(0.5)

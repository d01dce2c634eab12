"""Histogram transfer: the analytic gradient of Eq. 5 against finite differences, a constant-colour
target recovered, quantile matching, and the Colorizer/CLI path."""
import numpy as np
import pytest

from pycolorize.colorization import color, decode, transfer

import reference as ref


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


def naive_softmax(z):
    """The suite's naive softmax (tests/reference.py) over the last axis, in float64."""
    return ref.softmax(np.asarray(z, np.float64), axis=-1)


def test_softmax_biased_against_the_naive_softmax():
    rng = np.random.RandomState(6)
    log_y = np.log(predictions(n=12, k=10, seed=6))
    b = rng.randn(10) * 3
    before = log_y.copy()
    out = transfer.softmax_biased(log_y, b)
    assert out.dtype == np.float64 and out.shape == (12, 10)
    np.testing.assert_allclose(out, naive_softmax(log_y + b), rtol=1e-12)
    np.testing.assert_array_equal(log_y, before)  # the input is not changed
    # float32 stays float32 (a float64 bias included), any leading shape
    log32 = log_y.reshape(3, 4, 10).astype(np.float32)
    out32 = transfer.softmax_biased(log32, list(b))
    assert out32.dtype == np.float32 and out32.shape == (3, 4, 10)
    np.testing.assert_allclose(out32, naive_softmax(log32.astype(np.float64) + b), rtol=2e-5, atol=1e-7)
    # one bias per row (the same shape as log y)
    b2 = rng.randn(12, 10)
    np.testing.assert_allclose(transfer.softmax_biased(log_y, b2), naive_softmax(log_y + b2), rtol=1e-12)


def test_softmax_biased_rows_that_underflow_are_redone():
    # rows whose every bin is 80 below the bias's maximum: exp() of the shared shift underflows to
    # almost nothing, and the row is redone with its own maximum
    for dtype in (np.float32, np.float64):
        log_y = np.array([[-80.0, -81.0, -90.0], [0.0, -1.0, -2.0], [-200.0, -199.0, -200.0]], dtype)
        for b in (np.zeros(3), np.array([0.5, -0.5, 0.0]), np.array([[0, 0, 0], [1, 0, 0], [0, 0, 3.0]])):
            out = transfer.softmax_biased(log_y, b)
            assert out.dtype == dtype
            np.testing.assert_allclose(out, naive_softmax(log_y.astype(np.float64) + b), rtol=1e-5 if dtype == np.float32
                                       else 1e-12)
        out = transfer.softmax_biased(log_y.reshape(1, 3, 3), np.zeros(3))  # any leading shape
        np.testing.assert_allclose(out[0], naive_softmax(log_y.astype(np.float64)), rtol=1e-5)


def test_energy_against_its_definition():
    y, t = predictions(n=30, k=8, seed=7), np.random.RandomState(8).dirichlet(np.ones(8))
    b = np.random.RandomState(9).randn(8)
    ys = naive_softmax(np.log(y) + b)
    kl = np.mean(np.sum(ys * (np.log(ys) - np.log(y)), axis=1))
    p = ys.mean(axis=0)
    chi2 = np.sum((p - t) ** 2 / (p + t))
    for lam in (0.0, 2.5):
        e, grad = transfer.energy(b, y, t, lam)
        assert e == pytest.approx(kl + lam * chi2, rel=1e-10)
        assert transfer.energy(b, y, t, lam, log_y=np.log(y))[0] == pytest.approx(e, rel=1e-12)
        assert grad.shape == (8,)
    assert transfer.energy(np.zeros(8), y, t, 0.0)[0] == pytest.approx(0.0, abs=1e-12)  # b = 0: y* = y


def test_solve_bias_reaches_the_minimum():
    # the bias found is a stationary point of E, lower than any small step away from it
    y, t = predictions(n=80, k=12, seed=10), np.random.RandomState(11).dirichlet(np.ones(12) * 2)
    b = transfer.solve_bias(y, t * 7.0, lam=5.0, iters=2000)  # the target is normalised
    e, grad = transfer.energy(b, y, t, 5.0)
    assert np.abs(grad).max() < 2e-4
    rng = np.random.RandomState(12)
    for _ in range(20):
        assert transfer.energy(b + 1e-2 * rng.randn(12), y, t, 5.0)[0] > e
    assert e < transfer.energy(np.zeros(12), y, t, 5.0)[0] - 1e-3
    # a budget of one step moves b, and only by one step
    one = transfer.solve_bias(y, t, lam=5.0, iters=1)
    assert 0 < np.abs(one).max() and not np.allclose(one, b, atol=1e-3)


def test_apply_bias_any_shape():
    y = predictions(n=6, k=5, seed=13)
    b = np.array([0.3, -0.2, 0.0, 1.0, -1.0])
    want = naive_softmax(np.log(y) + b)
    np.testing.assert_allclose(transfer.apply_bias(y, b), want, rtol=1e-12)
    np.testing.assert_allclose(transfer.apply_bias(y.reshape(2, 3, 5), b), want.reshape(2, 3, 5), rtol=1e-12)
    np.testing.assert_allclose(transfer.apply_bias(y.astype(np.float32), b), want, rtol=1e-6)  # decoded in float64
    assert transfer.apply_bias(y.astype(np.float32), b).dtype == np.float64


def test_reference_histograms_by_hand():
    # 4 pixels: red (hue 0, chroma 1), half-saturated green (hue 1/3, chroma 0.5), two grays
    ref = np.array([[[1.0, 0, 0], [0.25, 0.75, 0.25]], [[0.5, 0.5, 0.5], [0.2, 0.2, 0.2]]])
    hue, chroma = transfer.reference_histograms(ref, 6, 4)
    np.testing.assert_allclose(hue, [1 / 1.5, 0, 0.5 / 1.5, 0, 0, 0])  # weighted by chroma
    np.testing.assert_allclose(chroma, [0.5, 0, 0.25, 0.25])  # chroma 0, 0, 0.5, 1 in 4 bins
    assert hue.dtype == chroma.dtype == np.float64
    hue, chroma = transfer.reference_histograms(np.full((3, 3, 3), 0.4), 5)  # all gray: a flat hue histogram
    np.testing.assert_allclose(hue, np.full(5, 0.2))
    np.testing.assert_allclose(chroma, [1, 0, 0, 0, 0])


def test_quantile_transfer_by_hand():
    # one channel pattern: the source's ranks pick the reference's quantiles, and the lightness stays
    src = np.array([[[0.2, 0.2, 0.2], [0.4, 0.4, 0.4]]])  # two grays (normalised RGB all ~1)
    ref = np.array([[[0.3, 0.6, 0.9], [0.3, 0.6, 0.9]]])  # one colour
    out = transfer.quantile_transfer(src, ref, eps=0.0)
    np.testing.assert_allclose(out, [[[0.1, 0.2, 0.3], [0.2, 0.4, 0.6]]], atol=1e-12)  # the reference's ratios
    np.testing.assert_allclose(color.gray(out), color.gray(src), atol=1e-12)
    bright = transfer.quantile_transfer(np.full((1, 1, 3), 0.9), np.array([[[0.1, 0.1, 1.0]]]), eps=0.0)
    assert bright.max() == 1.0 and bright.min() >= 0  # clipped to [0, 1]


def test_softmax_biased_with_a_large_bias_does_not_overflow():
    # a bias far above the log-probabilities: the shift by its maximum keeps exp() finite
    log_y = np.log(np.array([[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]]))
    b = np.array([400.0, 0.0, 399.0])
    np.testing.assert_allclose(transfer.softmax_biased(log_y, b), naive_softmax(log_y + b), rtol=1e-12)


def test_solve_bias_defaults_and_a_target_in_any_scale():
    y, t = predictions(n=40, k=6, seed=14), np.array([1.0, 2, 3, 4, 5, 6])
    b = transfer.solve_bias(y, t)
    np.testing.assert_array_equal(b, transfer.solve_bias(y, t, lam=10.0, iters=300, step=4.0, tol=1e-9))
    np.testing.assert_array_equal(b, transfer.solve_bias(y.tolist(), t.tolist()))  # lists are float64 arrays too
    np.testing.assert_allclose(transfer.solve_bias(y, t * 3.0), b, atol=1e-9)  # the target is normalised
    assert np.abs(transfer.energy(b, y, t / t.sum(), 10.0)[1]).max() < 1e-3


def test_quantile_transfer_with_the_default_eps_by_hand():
    # lightness-normalised: out = (ref_c / (L_ref + eps)) * (L_src + eps) for a one-colour reference
    src = np.array([[[0.2, 0.2, 0.2], [0.0, 0.0, 0.0]]])
    ref = np.array([[[0.3, 0.6, 0.9]]])
    out = transfer.quantile_transfer(src, ref)
    want = np.array([0.3, 0.6, 0.9]) / (0.6 + 1e-4)
    np.testing.assert_allclose(out, [[want * (0.2 + 1e-4), want * 1e-4]], rtol=1e-12)
    assert out.dtype == np.float64
    assert transfer.quantile_transfer(src.astype(np.float32), ref).dtype == np.float64
    np.testing.assert_array_equal(transfer.quantile_transfer(src, ref.astype(np.float32)),
                                  transfer.quantile_transfer(src, ref.astype(np.float32).astype(np.float64)))


def test_quantile_transfer_gives_each_pixel_the_quantile_of_its_rank():
    # each channel's lightness-normalised values ranked (ties by position, earlier first): pixel i
    # gets the reference's normalised quantile at (rank + 0.5) / n, times its own lightness
    rng = np.random.RandomState(15)
    src = rng.rand(1, 12, 3) * 0.6 + 0.2
    ref = rng.rand(1, 9, 3) * 0.6 + 0.2
    out = transfer.quantile_transfer(src, ref, eps=0.0)
    g = src[0].mean(-1)
    src_n, ref_n = src[0] / g[:, None], ref[0] / ref[0].mean(-1, keepdims=True)
    for c in range(3):
        rank = np.array([sum(v < src_n[i, c] or (v == src_n[i, c] and j < i) for j, v in enumerate(src_n[:, c]))
                         for i in range(12)])
        want = np.quantile(ref_n[:, c], (rank + 0.5) / 12) * g
        np.testing.assert_allclose(out[0, :, c], np.clip(want, 0, 1), rtol=1e-12)
    # many exact ties (two colours, interleaved): stable, so within each colour the quantiles rise
    # along the pixels' order
    two = np.tile(np.array([[0.6, 0.5, 0.4], [0.4, 0.5, 0.6]]), (1500, 1))[None]
    ramp = np.stack([np.stack([np.linspace(0.1, 0.9, 3000) * 1.2, np.linspace(0.1, 0.9, 3000),
                               np.linspace(0.1, 0.9, 3000) * 0.8], -1)])
    tied = transfer.quantile_transfer(two, ramp, eps=0.0)[0, :, 0]
    for part in (tied[0::2], tied[1::2]):
        assert (np.diff(part) >= 0).all() and part[-1] > part[0]


def test_reference_histograms_of_faint_and_low_chroma_references():
    faint = np.array([[[0.75, 0.25, 0.25]]])  # hue 0, chroma 0.5: a chroma-weighted sum of 0.5
    hue, chroma = transfer.reference_histograms(faint, 4, 8)
    assert hue.tolist() == [1.0, 0.0, 0.0, 0.0] and chroma.shape == (8,) and chroma[4] == 1.0
    dull = np.array([[[0.5, 0.45, 0.45], [0.3, 0.3, 0.32]]])  # chromas 0.05 and 0.02: only the first bin
    hue, chroma = transfer.reference_histograms(dull, 6, 5)
    assert chroma.tolist() == [1.0, 0.0, 0.0, 0.0, 0.0] and hue.shape == (6,)


def test_solve_bias_works_in_float64_whatever_it_is_given():
    y, t = predictions(n=30, k=5, seed=16), np.array([0.1, 0.2, 0.3, 0.2, 0.2])
    y32, t32 = y.astype(np.float32), t.astype(np.float32)
    np.testing.assert_array_equal(transfer.solve_bias(y32, t32, iters=20),
                                  transfer.solve_bias(y32.astype(np.float64), t32.astype(np.float64), iters=20))

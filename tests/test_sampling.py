"""Decoding of Lab histograms and sampling, spatially coherent samples and the uncertainty map."""
import numpy as np
import pytest

from pycolorize.colorization import color, decode, sampling


def test_lab_decoders():
    centres = color.lab_centres(32)
    p = np.zeros((2, 32))
    p[0, 3] = 1
    p[1, [10, 20]] = 0.5
    assert decode.lab_marginal(p, "mode")[0] == pytest.approx(centres[3])
    assert decode.lab_marginal(p, "expectation")[1] == pytest.approx((centres[10] + centres[20]) / 2)
    assert decode.lab_marginal(p, "median")[1] == pytest.approx(centres[10])
    j = np.zeros(256)
    j[5 * 16 + 9] = 1
    np.testing.assert_allclose(decode.lab_joint(j, "mode"), [color.lab_centres(16)[5], color.lab_centres(16)[9]])
    with pytest.raises(ValueError, match="K\\*K bins"):
        decode.lab_joint(np.ones(30) / 30)


def test_pixel_sampling_follows_the_histogram():
    p = np.zeros((20000, 4))
    p[:, 1], p[:, 3] = 0.25, 0.75
    s = decode.sample(p, np.random.default_rng(0))
    assert set(np.unique(s)) == {1.5 / 4, 3.5 / 4}
    assert np.mean(s == 3.5 / 4) == pytest.approx(0.75, abs=0.02)


def test_samples_are_coherent_and_differ():
    rng = np.random.RandomState(0)
    hue = rng.dirichlet(np.ones(32), size=(10, 12))  # unsure everywhere
    chroma = rng.dirichlet(np.ones(32), size=(10, 12))
    draws = sampling.sample_histograms(hue, chroma, n=3, strength=4.0, seed=1)
    means = []
    for h, c in draws:
        hues, _ = decode.hue_expectation(h, fading=False)
        # one global bias: the image's hues gather around one angle
        z = np.exp(2j * np.pi * hues).mean()
        assert abs(z) > 0.8
        means.append(np.angle(z))
    assert np.ptp(means) > 0.3  # and different draws pick different angles


def test_uncertainty_map():
    certain = np.zeros((1, 32))
    certain[0, 4] = 1
    unsure = np.ones((1, 32)) / 32
    saturated = np.zeros((1, 32))
    saturated[0, 28] = 1
    u = sampling.uncertainty(np.concatenate([certain, unsure]), np.concatenate([saturated, saturated]))
    assert u[0] == pytest.approx(0.0, abs=1e-9) and u[1] == pytest.approx(28.5 / 32)


# ---- mutation-testing follow-ups --------------------------------------------------------------------

from statistics import NormalDist  # noqa: E402


def _lab_c(k):
    """The Gaussian-quantile bin centres 25 Phi^-1((k + 0.5) / K), by the stdlib's NormalDist."""
    return np.array([NormalDist(0, 25).inv_cdf((i + 0.5) / k) for i in range(k)])


def test_lab_marginal_by_hand_any_shape_and_float64():
    c = _lab_c(8)
    p = np.array([[0.1, 0.2, 0.3, 0.4, 0, 0, 0, 0],   # cdf .1 .3 .6: median bin 2, mode bin 3
                  [0.5, 0, 0, 0, 0, 0, 0, 0.5],       # cdf reaches .5 at bin 0
                  [0, 0, 0, 0, 0, 0, 0.25, 0.75],     # median and mode: the last bin
                  [0.06] * 8])                        # mass 0.48 < 0.5: the median stays in the last bin
    expect = {"expectation": [sum(pk * ck for pk, ck in zip(row, c)) for row in p],
              "mode": c[[3, 0, 7, 0]], "median": c[[2, 0, 7, 7]]}
    for how, want in expect.items():
        np.testing.assert_allclose(decode.lab_marginal(p, how), want, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(decode.lab_marginal(p[0], how), want[0], rtol=1e-12, atol=1e-12)  # one histogram
        both = np.stack([p[:3], p[:3][::-1]])  # leading shape (2, 3)
        out = decode.lab_marginal(both, how)
        assert out.shape == (2, 3)
        np.testing.assert_allclose(out, [want[:3], want[:3][::-1]], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(decode.lab_marginal(p), expect["expectation"], rtol=1e-12)  # the default
    # float32 histograms are decoded in float64: 0.25 + (0.25 - 2^-26) < 0.5 exactly (median bin 2),
    # though float32 rounds that sum up to 0.5
    p32 = np.array([0.25, 0.25 - 2.0 ** -26, 0.5, 0, 0, 0, 0, 0], dtype=np.float32)
    assert decode.lab_marginal(p32, "median") == pytest.approx(c[2], rel=1e-12)
    assert decode.lab_marginal(p.astype(np.longdouble)).dtype == np.float64
    with pytest.raises(ValueError, match="unknown Lab decoding 'mean'; use expectation, mode or median"):
        decode.lab_marginal(p, "mean")


def test_lab_joint_by_hand_any_shape_and_float64():
    c = _lab_c(4)
    p = np.zeros((3, 16))
    p[0, 1 * 4 + 2], p[0, 3 * 4 + 0] = 0.6, 0.4    # (a, b) bins (1, 2) and (3, 0)
    p[1, 0 * 4 + 3] = 1.0                            # (0, 3)
    p[2, 2 * 4 + 1], p[2, 1 * 4 + 1] = 0.3, 0.7      # (2, 1) and (1, 1)
    expectation = [[0.6 * c[1] + 0.4 * c[3], 0.6 * c[2] + 0.4 * c[0]], [c[0], c[3]], [0.3 * c[2] + 0.7 * c[1], c[1]]]
    mode = [[c[1], c[2]], [c[0], c[3]], [c[1], c[1]]]
    for how, want in (("expectation", expectation), ("mode", mode)):
        np.testing.assert_allclose(decode.lab_joint(p, how), want, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(decode.lab_joint(p[0], how), want[0], rtol=1e-12, atol=1e-12)
        out = decode.lab_joint(np.stack([p, p[::-1]]), how)  # leading shape (2, 3)
        assert out.shape == (2, 3, 2)
        np.testing.assert_allclose(out, [want, want[::-1]], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(decode.lab_joint(p), expectation, rtol=1e-12)  # the default
    assert decode.lab_joint(p.astype(np.longdouble)).dtype == np.float64
    with pytest.raises(ValueError, match="unknown joint Lab decoding 'median'; use expectation or mode"):
        decode.lab_joint(p, "median")


class _Draws:
    """A stand-in generator whose uniform draws are given (sample only calls .random(n))."""

    def __init__(self, u):
        self.u = np.asarray(u, dtype=np.float64)

    def random(self, n):
        assert n == len(self.u)
        return self.u.copy()


def test_pixel_sampling_is_the_inverse_cdf_of_the_draws():
    # the drawn bin is the first whose cumulative probability exceeds u; a histogram short of u by
    # rounding gives its last bin
    p = np.array([[0.25] * 4, [0.25] * 4, [0.25] * 4, [0.1, 0.2, 0.3, 0.4], [0.2] * 4])
    u = [0.25, 0.2499999, 0.999, 0.35, 0.9]
    centre = (np.arange(4) + 0.5) / 4
    assert decode.sample(p, _Draws(u)).tolist() == centre[[1, 0, 3, 2, 3]].tolist()
    # a bin without probability is never drawn, not even by a draw of exactly 0
    assert decode.sample(np.array([[0.0, 0.0, 1.0, 0.0], [0.0, 0.5, 0.0, 0.5]]), _Draws([0.0, 0.5])).tolist() == \
        centre[[2, 3]].tolist()
    # any leading shape: (2, 2, 4) histograms, one draw each, in row-major order
    p3 = np.array([[[0, 0, 0, 1.0], [1.0, 0, 0, 0]], [[0, 1.0, 0, 0], [0, 0, 0.5, 0.5]]])
    out = decode.sample(p3, _Draws([0.5, 0.5, 0.5, 0.75]))
    assert out.shape == (2, 2) and out.tolist() == [[centre[3], centre[0]], [centre[1], centre[3]]]
    assert decode.sample(p[:2], _Draws([0.9, 0.1])).tolist() == [centre[3], centre[0]]
    # a given generator is used: a naive inverse CDF over the same generator's draws
    q = np.random.default_rng(1).dirichlet(np.ones(6), size=50)
    draws = np.random.default_rng(5).random(50)
    want = [(next(k for k in range(6) if sum(row[:k + 1]) > d) + 0.5) / 6 for row, d in zip(q, draws)]
    np.testing.assert_allclose(decode.sample(q, np.random.default_rng(5)), want, rtol=1e-15)
    # without one: a fresh generator, still bin centres of bins with mass
    s = decode.sample(np.array([[0, 1.0, 0, 0]] * 3))
    assert s.tolist() == [centre[1]] * 3


def test_bias_shapes_by_hand():
    # hue: strength cos(2 pi (c_k - phi)); chroma: strength (c_k - 1/2); toward: that hue bias and
    # -strength (c_k - chroma)^2 / (8 width^2); centres c_k = (k + 0.5) / K, written out with math
    import math

    c6, c10 = [(k + 0.5) / 6 for k in range(6)], [(k + 0.5) / 10 for k in range(10)]
    np.testing.assert_allclose(sampling.hue_rotation_bias(0.2, 1.5, 6),
                               [1.5 * math.cos(2 * math.pi * (c - 0.2)) for c in c6], rtol=1e-12, atol=1e-12)
    assert sampling.chroma_bias(2.0, 4).tolist() == [-0.75, -0.25, 0.25, 0.75]
    np.testing.assert_allclose(sampling.chroma_bias(-0.5, 6), [-0.5 * (c - 0.5) for c in c6], rtol=1e-12)
    b_h, b_c = sampling.toward_bias(0.3, 0.45, 2.0, 6, 10)
    np.testing.assert_allclose(b_h, [2.0 * math.cos(2 * math.pi * (c - 0.3)) for c in c6], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(b_c, [-2.0 * (c - 0.45) ** 2 / 0.08 for c in c10], rtol=1e-12, atol=1e-15)
    assert b_c[0] == pytest.approx(-4.0) and b_c[4] == pytest.approx(0.0, abs=1e-12)  # 0.4 away: -2 strength
    _, b_c = sampling.toward_bias(0.3, 0.45, 2.0, 6, 10, width=0.2)
    np.testing.assert_allclose(b_c, [-2.0 * (c - 0.45) ** 2 / 0.32 for c in c10], rtol=1e-12, atol=1e-15)


def test_sample_biases_are_seeded_rotations_and_signed_chroma_slopes():
    # each sample: a hue bias strength cos(2 pi (c_k - phi)) for some angle phi (recovered by least
    # squares on cos and sin), a chroma bias +-strength (c_k - 1/2) with both signs drawn; the seed decides
    c8, c5 = (np.arange(8) + 0.5) / 8, (np.arange(5) + 0.5) / 5
    draws = sampling.sample_biases(40, 1.5, 7, 8, 5)
    again = sampling.sample_biases(40, 1.5, 7, 8, 5)
    assert len(draws) == 40 and all(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) for a, b in zip(draws, again))
    basis = np.stack([np.cos(2 * np.pi * c8), np.sin(2 * np.pi * c8)], 1)
    phis, signs = [], []
    for b_h, b_c in draws:
        (x, y), *_ = np.linalg.lstsq(basis, b_h, rcond=None)
        phi = np.arctan2(y, x) / (2 * np.pi) % 1.0
        np.testing.assert_allclose(b_h, 1.5 * np.cos(2 * np.pi * (c8 - phi)), atol=1e-12)
        s = b_c[-1] / (1.5 * (c5[-1] - 0.5))
        assert s in (-1.0, 1.0) or abs(abs(s) - 1) < 1e-12
        np.testing.assert_allclose(b_c, np.sign(s) * 1.5 * (c5 - 0.5), rtol=1e-12)
        phis.append(phi)
        signs.append(np.sign(s))
    assert set(signs) == {-1.0, 1.0} and np.ptp(phis) > 0.5
    assert not np.array_equal(sampling.sample_biases(1, 1.5, 8, 8, 5)[0][0], draws[0][0])


def test_sample_histograms_defaults_and_chroma_bias():
    # the documented defaults (strength 2, seed 0); the chroma maps are softmax(log c + b) with
    # b = +-2 (c_k - 1/2), one sign per sample, written out by hand
    rng = np.random.RandomState(3)
    hue, chroma = rng.dirichlet(np.ones(6), size=(2, 3)), rng.dirichlet(np.ones(5), size=(2, 3))
    default = sampling.sample_histograms(hue, chroma, 4)
    explicit = sampling.sample_histograms(hue, chroma, 4, strength=2.0, seed=0)
    assert all(np.array_equal(a, b) for d, e in zip(default, explicit) for a, b in zip(d, e))
    assert not np.array_equal(sampling.sample_histograms(hue, chroma, 1, seed=1)[0][0], default[0][0])
    c5 = (np.arange(5) + 0.5) / 5
    for _, c in default:
        assert c.shape == chroma.shape
        options = []
        for s in (-1, 1):
            e = chroma * np.exp(2.0 * s * (c5 - 0.5))
            options.append(e / e.sum(-1, keepdims=True))
        assert min(np.abs(c - o).max() for o in options) < 1e-12


def test_uncertainty_by_hand_any_shape_and_float64():
    # entropy / log K of each hue histogram (0 log 0 = 0) times the median chroma, by loops; leading
    # shape (2, 3) with K = 4 hue and 5 chroma bins; float32 hue histograms computed in float64
    import math

    rng = np.random.RandomState(4)
    hue = rng.dirichlet(np.ones(4), size=(2, 3))
    hue[0, 0] = [1, 0, 0, 0]
    chroma = rng.dirichlet(np.ones(5), size=(2, 3))
    want = np.zeros((2, 3))
    for i in range(2):
        for j in range(3):
            ent = -sum(x * math.log(x) for x in hue[i, j] if x > 0) / math.log(4)
            cdf, k = 0.0, 0
            for k, x in enumerate(chroma[i, j]):
                cdf += x
                if cdf >= 0.5:
                    break
            want[i, j] = ent * (k + 0.5) / 5
    np.testing.assert_allclose(sampling.uncertainty(hue, chroma), want, rtol=1e-12, atol=1e-15)
    h32 = hue.astype(np.float32)
    want32 = sampling.uncertainty(h32.astype(np.float64), chroma)
    np.testing.assert_allclose(sampling.uncertainty(h32, chroma), want32, rtol=1e-14, atol=0)


def test_a_float32_histogram_short_of_a_draw_gives_its_last_bin_with_probability():
    # float32 rounding leaves the total below a draw near 1: the sample is the last bin that has
    # probability, never the empty bins after it
    p = np.array([[0.29927265644073486, 0.44877663254737854, 0.008717921562492847, 0.0009988462552428246,
                   0.24223393201828003, 0, 0, 0]], np.float32)
    assert np.cumsum(p)[-1] < np.float32(np.nextafter(1.0, 0.0))  # 0.99999994: short of the largest draws
    centre = (np.arange(8) + 0.5) / 8
    assert decode.sample(p, _Draws([np.nextafter(1.0, 0.0)])).tolist() == [centre[4]]

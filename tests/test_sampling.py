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

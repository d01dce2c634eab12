"""From predicted histograms to one value per pixel, as the released code decodes them (fact
sheet 4.3). Histograms have their K bins on the last axis and sum to 1.

The released defaults are chroma "median" and hue "expectation-cf" (complex expectation with
chromatic fading).
"""
import numpy as np

from .color import uniform_centres

FADING_ETA = 0.03  # the released eta


def _k(p):
    return np.asarray(p, dtype=np.float64).shape[-1]


def mode(p):
    """The centre (k + 0.5) / K of the most probable bin."""
    p = np.asarray(p, dtype=np.float64)
    return uniform_centres(_k(p))[p.argmax(axis=-1)]


def expectation(p):
    """sum_k p_k (k + 0.5) / K."""
    p = np.asarray(p, dtype=np.float64)
    return p @ uniform_centres(_k(p))


def median(p):
    """The centre of the first bin whose cumulative probability reaches 0.5: (#{k: cdf_k < 0.5} + 0.5) / K,
    without interpolation (as released; the paper's text suggests interpolation)."""
    p = np.asarray(p, dtype=np.float64)
    below = (np.cumsum(p, axis=-1) < 0.5).sum(axis=-1)
    return (np.minimum(below, _k(p) - 1) + 0.5) / _k(p)


def hue_expectation(p, fading=True, eta=FADING_ETA):
    """Hue as the angle of z = sum_k p_k exp(i 2 pi c_k), in [0, 1); with chromatic fading also the
    factor min(|z| / (K eta), 1) by which the released code scales the chroma. (The paper prints
    max(|z| / eta, 1): a typo, the code takes the minimum and divides by K.)
    Returns (hue, factor)."""
    p = np.asarray(p, dtype=np.float64)
    theta = 2 * np.pi * uniform_centres(_k(p))
    z = p @ np.exp(1j * theta)
    hue = (np.angle(z) / (2 * np.pi)) % 1.0
    factor = np.minimum(np.abs(z) / (_k(p) * eta), 1.0) if fading else np.ones_like(hue)
    return hue, factor

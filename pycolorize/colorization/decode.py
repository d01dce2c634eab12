"""From predicted histograms to one value per pixel, as the released code decodes them (fact
sheet 4.3). Histograms have their K bins on the last axis and sum to 1.

The released defaults are chroma "median" and hue "expectation-cf" (complex expectation with
chromatic fading).

The hue/chroma decoders decode float32 histograms in float32 (the network-resolution decoding of
the Colorizer) and all others in float64; the Lab decoders always decode in float64.
"""
import numpy as np

from pycolorize.colorization.color import uniform_centres

FADING_ETA = 0.03  # the released eta


def _k(p):
    return np.shape(p)[-1]


def _float(p):
    """p as float32 if it is float32, else as float64."""
    p = np.asarray(p)
    return p if p.dtype in (np.float32, np.float64) else p.astype(np.float64)


def mode(p):
    """The centre (k + 0.5) / K of the most probable bin."""
    p = _float(p)
    return uniform_centres(_k(p)).astype(p.dtype)[p.argmax(axis=-1)]


def expectation(p):
    """sum_k p_k (k + 0.5) / K."""
    p = _float(p)
    return p @ uniform_centres(_k(p)).astype(p.dtype)


def median(p):
    """The centre of the first bin whose cumulative probability reaches 0.5: (#{k: cdf_k < 0.5} + 0.5) / K,
    without interpolation (as released; the paper's text suggests interpolation)."""
    p = _float(p)
    below = (np.cumsum(p, axis=-1) < 0.5).sum(axis=-1)
    return ((np.minimum(below, _k(p) - 1) + 0.5) / _k(p)).astype(p.dtype)


def hue_expectation(p, fading=True, eta=FADING_ETA):
    """Hue as the angle of z = sum_k p_k exp(i 2 pi c_k), in [0, 1); with chromatic fading also the
    factor min(|z| / (K eta), 1) by which the released code scales the chroma. (The paper prints
    max(|z| / eta, 1): a typo, the code takes the minimum and divides by K.)
    Returns (hue, factor)."""
    p = _float(p)
    theta = 2 * np.pi * uniform_centres(_k(p))
    re, im = p @ np.cos(theta).astype(p.dtype), p @ np.sin(theta).astype(p.dtype)  # z's parts (two real products)
    hue = (np.arctan2(im, re) / (2 * np.pi)) % 1.0
    factor = np.minimum(np.hypot(re, im) / (_k(p) * eta), 1.0) if fading else np.ones_like(hue)
    return hue, factor


def sample(p, rng=None):
    """The centre of a bin drawn from each pixel's histogram: for a uniform draw u in [0, 1), the
    bin k with cdf_{k-1} <= u < cdf_k, so a bin without probability is never drawn (not even for
    u = 0); a histogram whose mass falls short of u by rounding gives its last bin with probability."""
    p = _float(p)
    rng = rng if rng is not None else np.random.default_rng()
    flat = p.reshape(-1, p.shape[-1])
    u = rng.random(len(flat))[:, None]
    last = p.shape[-1] - 1 - np.argmax(flat[:, ::-1] > 0, axis=1)  # the last bin with probability
    k = np.minimum((np.cumsum(flat, axis=1) <= u).sum(axis=1), last)
    return uniform_centres(p.shape[-1])[k].reshape(p.shape[:-1])


# ---- Lab histograms (Gaussian-quantile bins; centres sigma * Phi^-1((k + 0.5) / K)) -------------

def lab_marginal(p, how="expectation"):
    """a or b from a marginal histogram over Gaussian-quantile bins: expectation, mode or median of
    the bin centres (the released code's centre choice is unknown; these are the natural ones)."""
    from pycolorize.colorization.color import lab_centres

    p = np.asarray(p, dtype=np.float64)
    centres = lab_centres(p.shape[-1])
    if how == "expectation":
        return p @ centres
    if how == "mode":
        return centres[p.argmax(axis=-1)]
    if how == "median":
        below = (np.cumsum(p, axis=-1) < 0.5).sum(axis=-1)
        return centres[np.minimum(below, p.shape[-1] - 1)]
    raise ValueError(f"unknown Lab decoding {how!r}; use expectation, mode or median")


def lab_joint(p, how="expectation"):
    """(a, b) from a joint histogram of K x K bins (index = ia * K + ib), stacked on the last axis."""
    from pycolorize.colorization.color import lab_centres

    p = np.asarray(p, dtype=np.float64)
    k = int(round(np.sqrt(p.shape[-1])))
    if k * k != p.shape[-1]:
        raise ValueError(f"a joint histogram needs K*K bins, got {p.shape[-1]}")
    centres = lab_centres(k)
    ca, cb = np.repeat(centres, k), np.tile(centres, k)
    if how == "expectation":
        return np.stack([p @ ca, p @ cb], axis=-1)
    if how == "mode":
        i = p.argmax(axis=-1)
        return np.stack([ca[i], cb[i]], axis=-1)
    raise ValueError(f"unknown joint Lab decoding {how!r}; use expectation or mode")

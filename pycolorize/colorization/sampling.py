"""Several plausible colorizations of one image, and where the model is unsure (paper Fig. 9).

A pixel-wise sample from every histogram would be noise; the paper draws spatially coherent
samples by biasing all pixels' histograms the same way. Here each sample draws one global bias
per histogram: for hue a "rotated" bias, strength * cos(2 pi (c_k - phi)) with a random angle phi
(favouring hues near phi everywhere), and for chroma strength * (c_k - 1/2) * s with a random sign s
(more or less saturated). The biased posteriors softmax(log y + b) are decoded as usual.

The same biases serve hand edits (pycolorize.serve): hue_rotation_bias and chroma_bias from sliders,
toward_bias for a region pulled towards a picked colour (weighted by a soft mask per pixel).

Uncertainty: the entropy of each pixel's hue histogram (divided by log K, so in [0, 1]) times
its decoded chroma: hue doubt only matters where there is colour.
"""
import numpy as np

from pycolorize.colorization import decode
from pycolorize.colorization.color import uniform_centres
from pycolorize.colorization.transfer import apply_bias


def hue_rotation_bias(phi, strength, bins):
    """The hue bias favouring hues near phi, over `bins` hue bins (the histograms' K)."""
    return strength * np.cos(2 * np.pi * (uniform_centres(bins) - phi))


def chroma_bias(strength, bins):
    """The chroma bias strength * (c_k - 1/2) over `bins` chroma bins: more saturated colours for a
    positive strength, less for a negative one."""
    return strength * (uniform_centres(bins) - 0.5)


def toward_bias(hue, chroma, strength, hue_bins, chroma_bins, width=0.1):
    """(b_h, b_c) pulling the posteriors towards one colour (hue, chroma in [0, 1]): over the hue bins
    strength * cos(2 pi (c_k - hue)) (a von Mises log-density), over the chroma bins
    -strength * (c_k - chroma)^2 / (8 width^2) (a Gaussian log-density; with the default width, a bin
    0.4 away gets -2 strength, as the opposite hue does)."""
    b_h = hue_rotation_bias(hue, strength, hue_bins)
    b_c = -strength * (uniform_centres(chroma_bins) - chroma) ** 2 / (8 * width ** 2)
    return b_h, b_c


def sample_biases(n, strength, seed, hue_bins, chroma_bins):
    """n coherent samples' global biases [(b_h, b_c)]: a hue rotation towards a random angle and a
    chroma bias of random sign."""
    rng = np.random.default_rng(seed)
    return [(hue_rotation_bias(rng.random(), strength, hue_bins), chroma_bias(strength * rng.choice([-1.0, 1.0]), chroma_bins))
            for _ in range(n)]


def sample_histograms(hue, chroma, n, strength=2.0, seed=0):
    """n pairs of biased (hue, chroma) histogram maps; the bin counts are the arrays' last axes."""
    return [(apply_bias(hue, b_h), apply_bias(chroma, b_c))
            for b_h, b_c in sample_biases(n, strength, seed, hue.shape[-1], chroma.shape[-1])]


def uncertainty(hue, chroma):
    """Normalised hue entropy times median chroma, per pixel."""
    p = np.asarray(hue, dtype=np.float64)
    entropy = -(p * np.log(np.maximum(p, 1e-12))).sum(axis=-1) / np.log(p.shape[-1])
    return entropy * decode.median(chroma)

"""Colour maths of the paper and of the authors' released code (fact sheet sections 2.3, 4.3, 6.2).

Every function is vectorised NumPy on float arrays with the channels last (RGB in [0, 1]).

- gray = mean(R, G, B), the network's input.
- Hue and chroma: the HSV hue in [0, 1) (0 where the pixel is gray) and chroma = max - min of RGB
  (the authors' "BgrToMunsell" layer, which despite its name is HSV based); the inverse forms HSV
  from the gray lightness L: V = L + C/2, S = 2C / (2L + C).
- CIE Lab with the released constants, and its inverse.
- Bins: uniform on [0, 1] (index = int(v K), clamped), and "evenly spaced Gaussian quantiles"
  (mu = 0, sigma = 25) for Lab's a and b: bin k covers [25 Phi^-1(k/K), 25 Phi^-1((k+1)/K)), which
  is uniform binning of Phi(a / 25).
- Deshpande's lightness-normalised alpha-beta space, in which the paper reports RMSE.
"""
from statistics import NormalDist

import numpy as np

# ---- gray, hue, chroma ---------------------------------------------------------------------


def _rgb(image):
    image = np.asarray(image, dtype=np.float64)
    if image.shape[-1] != 3:
        raise ValueError(f"expected an RGB image with 3 channels last, got shape {image.shape}")
    return image


def gray(rgb):
    """The network's input: the mean of R, G and B."""
    return _rgb(rgb).mean(axis=-1)


def rgb_to_hcv(rgb):
    """(hue, chroma, value): HSV hue in [0, 1) (0 for gray pixels), chroma = max - min, value = max."""
    rgb = _rgb(rgb)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    v = rgb.max(axis=-1)
    c = v - rgb.min(axis=-1)
    safe = np.where(c > 0, c, 1.0)
    h = np.where(v == r, (g - b) / safe, np.where(v == g, 2.0 + (b - r) / safe, 4.0 + (r - g) / safe))
    h = np.where(c > 0, (h / 6.0) % 1.0, 0.0)
    return h, c, v


def hsv_to_rgb(h, s, v):
    """The standard HSV to RGB conversion (as skimage.color.hsv2rgb), inputs in [0, 1]."""
    h, s, v = np.broadcast_arrays(*(np.asarray(x, dtype=np.float64) for x in (h, s, v)))
    i = np.floor(h * 6.0)
    f = h * 6.0 - i
    i = i.astype(np.int64) % 6
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    choices = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]
    out = np.empty(h.shape + (3,))
    for ch in range(3):
        out[..., ch] = np.choose(i, [c[ch] for c in choices])
    return out


def hue_chroma_to_rgb(hue, chroma, lightness):
    """The released colour formation (fact sheet 4.3): V = L + C/2, S = 2C / (2L + C) (= C / V),
    H, S, V clipped to [0, 1], HSV to RGB, clipped. Where L = C = 0 the saturation is 0 (the
    released code divides 0 by 0 there)."""
    hue, chroma, lightness = (np.asarray(x, dtype=np.float64) for x in (hue, chroma, lightness))
    v = lightness + chroma / 2
    denom = 2 * lightness + chroma
    s = np.where(denom > 0, 2 * chroma / np.where(denom > 0, denom, 1.0), 0.0)
    return np.clip(hsv_to_rgb(np.clip(hue, 0, 1), np.clip(s, 0, 1), np.clip(v, 0, 1)), 0, 1)


def max_chroma(hue, lightness):
    """The largest chroma that hue_chroma_to_rgb followed by match_lightness reproduces exactly at this
    hue and lightness (channel mean): above it some step clips and the pixel comes out with another
    chroma, hue or lightness than asked. With f = 1 - |6 H mod 2 - 1|, the middle channel's share
    of the chroma, the formed colour's channels are L - C (1 + f) / 3 (lowest) and L + C (2 - f) / 3
    (highest), and the HSV step needs V = L + C/2 <= 1 and S = 2C / (2L + C) <= 1; so
    C <= min(2L, 2(1 - L), 3L / (1 + f), 3(1 - L) / (2 - f)). It is 0 for black and white pixels."""
    hue, lightness = np.asarray(hue), np.asarray(lightness)
    f = 1 - np.abs((6 * hue) % 2 - 1)
    dark, light = 2 * lightness, 2 * (1 - lightness)
    return np.maximum(np.minimum(np.minimum(dark, light), np.minimum(1.5 * dark / (1 + f), 1.5 * light / (2 - f))), 0)


def match_lightness(rgb, lightness):
    """Shift each pixel's channels so that their mean is the given lightness, then clip to [0, 1]."""
    rgb = _rgb(rgb)
    return np.clip(rgb - rgb.mean(axis=-1, keepdims=True) + np.asarray(lightness)[..., None], 0, 1)


# ---- bins ----------------------------------------------------------------------------------


def uniform_bin(values, bins=32):
    """Bin index of values in [0, 1]: int(v * bins), clamped to [0, bins - 1]."""
    return np.clip((np.asarray(values, dtype=np.float64) * bins).astype(np.int64), 0, bins - 1)


def uniform_centres(bins=32):
    """Centres (k + 0.5) / K of the uniform bins."""
    return (np.arange(bins) + 0.5) / bins


def one_hot(index, bins):
    """One-hot rows (..., bins), float32, from integer bin indices."""
    index = np.asarray(index)
    out = np.zeros(index.shape + (bins,), dtype=np.float32)
    np.put_along_axis(out, index[..., None], 1.0, axis=-1)
    return out


LAB_SIGMA = 25.0


def lab_edges(bins=32, sigma=LAB_SIGMA):
    """The inner edges of the Gaussian-quantile bins of a or b: sigma * Phi^-1(k / K), k = 1..K-1."""
    nd = NormalDist(0.0, sigma)
    return np.array([nd.inv_cdf(k / bins) for k in range(1, bins)])


def lab_bin(values, bins=32, sigma=LAB_SIGMA):
    """Bin index of a (or b) values: uniform binning of Phi(value / sigma)."""
    return np.searchsorted(lab_edges(bins, sigma), np.asarray(values, dtype=np.float64), side="right")


def lab_centres(bins=32, sigma=LAB_SIGMA):
    """sigma * Phi^-1((k + 0.5) / K), the natural centre of each Gaussian-quantile bin (the released
    code's choice is not known; fact sheet 2.3)."""
    nd = NormalDist(0.0, sigma)
    return np.array([nd.inv_cdf((k + 0.5) / bins) for k in range(bins)])


def lab_joint_bin(a, b, bins=16, sigma=LAB_SIGMA):
    """Index ia * bins + ib of the joint (a, b) histogram (16 x 16 in the paper)."""
    return lab_bin(a, bins, sigma) * bins + lab_bin(b, bins, sigma)


# ---- CIE Lab -------------------------------------------------------------------------------

_RGB_TO_XYZ = np.array([[0.412453, 0.357580, 0.180423],
                        [0.212671, 0.715160, 0.072169],
                        [0.019334, 0.119193, 0.950227]])
_XYZ_TO_RGB = np.linalg.inv(_RGB_TO_XYZ)
_WHITE = np.array([0.95047, 1.0, 1.08883])


def _f(t):
    return np.where(t > 0.008856, np.cbrt(t), 7.787 * t + 16.0 / 116.0)


def _f_inv(t):
    return np.where(t > 0.206893, t ** 3, (t - 16.0 / 116.0) / 7.787)


def rgb_to_lab(rgb):
    """sRGB in [0, 1] to CIE Lab (L in [0, 100]) with the released constants."""
    rgb = _rgb(rgb)
    lin = np.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    xyz = lin @ _RGB_TO_XYZ.T / _WHITE
    fx, fy, fz = _f(xyz[..., 0]), _f(xyz[..., 1]), _f(xyz[..., 2])
    return np.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], axis=-1)


def lab_to_rgb(lab):
    """The inverse of rgb_to_lab (sRGB clipped to [0, 1])."""
    lab = np.asarray(lab, dtype=np.float64)
    fy = (lab[..., 0] + 16.0) / 116.0
    fx, fz = fy + lab[..., 1] / 500.0, fy - lab[..., 2] / 200.0
    xyz = np.stack([_f_inv(fx), _f_inv(fy), _f_inv(fz)], axis=-1) * _WHITE
    lin = xyz @ _XYZ_TO_RGB.T
    lin = np.clip(lin, 0, None)
    return np.clip(np.where(lin > 0.0031308, 1.055 * lin ** (1 / 2.4) - 0.055, 12.92 * lin), 0, 1)


# ---- Deshpande's alpha-beta ----------------------------------------------------------------

_EPS = 1e-4


def alphabeta_numerators(rgb):
    """(B - (R + G)/2, R - G), stacked last: Deshpande's alpha and beta before the lightness division."""
    rgb = _rgb(rgb)
    return np.stack([rgb[..., 2] - (rgb[..., 0] + rgb[..., 1]) / 2, rgb[..., 0] - rgb[..., 1]], axis=-1)


def alphabeta_lightness(rgb):
    """What Deshpande's code divides alpha and beta by: gray + 1e-4, (...)."""
    return _rgb(rgb).mean(axis=-1) + _EPS


def rgb_to_alphabeta(rgb):
    """(alpha, beta) = ((B - (R + G)/2) / (gray + 1e-4), (R - G) / (gray + 1e-4)), stacked last."""
    return alphabeta_numerators(rgb) / alphabeta_lightness(rgb)[..., None]


def alphabeta_to_rgb(alphabeta, gray_level):
    """Deshpande's inverse (toRGB.m): R = g - 0.33 g alpha + 0.5 g beta, G = g - 0.33 g alpha - 0.5 g beta,
    B = g + 0.66 g alpha (its rounded constants, so not an exact inverse of rgb_to_alphabeta)."""
    ab = np.asarray(alphabeta, dtype=np.float64)
    g = np.asarray(gray_level, dtype=np.float64)
    a, b = ab[..., 0], ab[..., 1]
    return np.stack([g - 0.33 * g * a + 0.5 * g * b, g - 0.33 * g * a - 0.5 * g * b, g + 0.66 * g * a], axis=-1)


def colour_channels(array):
    """An image array's colour channels, as a view: (H, W, 1) for gray and gray + alpha, (H, W, 3)
    for RGB and RGBA (alpha dropped); and the maximum of its integer type, the value that reads as 1
    (8- or 16-bit: 255, 65535), or None for floats. ValueError for an array that is not an image."""
    a = np.asarray(array)
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.shape[-1] not in (1, 2, 3, 4):
        raise ValueError(f"not an image: array of shape {a.shape}")
    a = a[..., :1] if a.shape[-1] in (1, 2) else a[..., :3]
    return a, (np.iinfo(a.dtype).max if np.issubdtype(a.dtype, np.integer) else None)


def to_rgb(array):
    """Any image array to float64 RGB in [0, 1]: gray is repeated, alpha dropped, integer types
    (8- or 16-bit) scaled by their maximum (colour_channels)."""
    a, top = colour_channels(array)
    # One float64 copy of the colour channels, then scaled and clipped in place: a photo of N
    # pixels peaks at about 27 N bytes here, not three float64 copies of it.
    out = np.repeat(a.astype(np.float64), 3, axis=-1) if a.shape[-1] == 1 else a.astype(np.float64)
    if top is not None:
        out /= top
    return np.clip(out, 0.0, 1.0, out=out)

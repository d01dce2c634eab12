"""Histogram transfer (the paper's "GT Hist" task, Sec. 3.4; fact sheet 6.1): colour an image so
that its colours follow a reference image's.

Energy minimisation (Eq. 5). With the per-pixel predictions y_n (N x K, rows summing to 1), the
posteriors are y*_n = softmax(log y_n + b) for one global bias vector b, and b minimises

    E(b) = 1/N sum_n KL(y*_n || y_n)  +  lambda * D(<y*>, t),    <y*> = 1/N sum_n y*_n,

with t the reference's histogram and D the symmetric chi-square distance sum_k (p_k - t_k)^2 / (p_k + t_k)
(the paper does not print its exact form; this is the common one, without a factor 1/2). Since
log y*_nk = log y_nk + b_k - log Z_n, KL_n = sum_k y*_nk b_k - log Z_n, and the gradient is

    dE/db_j = 1/N sum_n y*_nj [ (b_j - <b>_n) + lambda (g_j - <g>_n) ],   g = dD/dp = (p - t)(p + 3t) / (p + t)^2,

where <v>_n = sum_k y*_nk v_k. It is solved by gradient descent from b = 0 with a backtracking step,
separately for each marginal (hue, chroma). lambda, the step and the iteration count are not given
in the paper; the defaults here are documented choices.

Quantile matching (Q): divide the RGB of the colorization and of the reference by their own
lightness, match each channel's quantiles to the reference's, multiply the lightness back.
"""
import numpy as np

from pycolorize.colorization import color

_TINY = 1e-12


def softmax_biased(log_y, b):
    """softmax(log y + b) along the last axis, in log_y's float type (the Colorizer's float32, the
    solver's float64). log y <= 0 and its largest bin >= -log K, so shifting by the bias's overall
    maximum (not each row's, which costs a reduction) keeps every exponent <= 0 and each row's sum
    >= exp(-log K - range of b); a row whose sum still underflows (a bias range near 80 in float32)
    is redone with its own maximum."""
    b = np.asarray(b, log_y.dtype)
    z = log_y + b
    z -= b.max()
    np.exp(z, out=z)
    k = z.shape[-1]
    total = (z.reshape(-1, k) @ np.ones(k, z.dtype)).reshape(z.shape[:-1] + (1,))
    bad = total[..., 0] < 1e-30
    if bad.any():
        zb = (log_y + b)[bad] if b.ndim == 1 else log_y[bad] + b[bad]
        zb = np.exp(zb - zb.max(axis=-1, keepdims=True))
        z[bad], total[bad] = zb, zb.sum(axis=-1, keepdims=True)
    z /= total
    return z


def energy(b, y, t, lam, log_y=None):
    """E(b) and its gradient for predictions y (N, K) and target histogram t (K,); `log_y`, log y
    clamped at 1e-12, if the caller has it (solve_bias computes it once, not at every step)."""
    log_y = np.log(np.maximum(y, _TINY)) if log_y is None else log_y
    ys = softmax_biased(log_y, b)
    log_ys = np.log(np.maximum(ys, _TINY))
    kl = (ys * (log_ys - log_y)).sum(axis=1).mean()
    p = ys.mean(axis=0)
    denom = np.maximum(p + t, _TINY)
    d = ((p - t) ** 2 / denom).sum()
    g = (p - t) * (p + 3 * t) / denom ** 2
    mean_b = ys @ b
    mean_g = ys @ g
    grad = (ys * ((b[None] - mean_b[:, None]) + lam * (g[None] - mean_g[:, None]))).mean(axis=0)
    return float(kl + lam * d), grad


def solve_bias(y, t, lam=10.0, iters=300, step=4.0, tol=1e-9):
    """The global bias b minimising E (gradient descent with backtracking)."""
    y = np.asarray(y, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    t = t / t.sum()
    if y.ndim != 2 or t.shape != (y.shape[1],):
        raise ValueError(f"predictions must be (N, K) and the target (K,); got {y.shape} and {t.shape}")
    b = np.zeros(y.shape[1])
    log_y = np.log(np.maximum(y, _TINY))
    e, grad = energy(b, y, t, lam, log_y)
    for _ in range(iters):
        while step > 1e-8:
            nb = b - step * grad
            ne, ngrad = energy(nb, y, t, lam, log_y)
            if ne <= e - 1e-4 * step * float(grad @ grad):
                break
            step /= 2
        else:
            break
        converged = e - ne < tol
        b, e, grad = nb, ne, ngrad
        step *= 1.5
        if converged:
            break
    return b


def apply_bias(y, b):
    """softmax(log y + b) along the last axis (any leading shape)."""
    y = np.asarray(y, dtype=np.float64)
    shape = y.shape
    flat = y.reshape(-1, shape[-1])
    return softmax_biased(np.log(np.maximum(flat, _TINY)), b).reshape(shape)


def reference_histograms(reference_rgb, hue_bins, chroma_bins=None):
    """The reference's hue and chroma histograms over the bins of the predictions they are compared
    with (hue_bins and chroma_bins: the net's K_h and K_c, 32 each for the released model; chroma_bins
    defaults to hue_bins). The hue histogram is weighted by chroma, so that gray pixels, whose hue is
    arbitrary, do not vote."""
    chroma_bins = hue_bins if chroma_bins is None else chroma_bins
    h, c, _ = color.rgb_to_hcv(reference_rgb)
    hue = np.bincount(color.uniform_bin(h, hue_bins).ravel(), weights=c.ravel(), minlength=hue_bins)
    if hue.sum() <= 0:
        hue = np.ones(hue_bins)
    chroma = np.bincount(color.uniform_bin(c, chroma_bins).ravel(), minlength=chroma_bins).astype(np.float64)
    return hue / hue.sum(), chroma / chroma.sum()


def quantile_transfer(rgb, reference_rgb, eps=1e-4):
    """Lightness-normalised quantile matching (Q)."""
    rgb, ref = np.asarray(rgb, dtype=np.float64), np.asarray(reference_rgb, dtype=np.float64)
    l_src, l_ref = color.gray(rgb)[..., None] + eps, color.gray(ref)[..., None] + eps
    src_n, ref_n = rgb / l_src, ref / l_ref
    out = np.empty_like(src_n)
    for c in range(3):
        s = src_n[..., c].ravel()
        order = np.argsort(s, kind="stable")
        ranks = np.empty(len(s))
        ranks[order] = (np.arange(len(s)) + 0.5) / len(s)
        out[..., c] = np.quantile(ref_n[..., c].ravel(), ranks).reshape(src_n.shape[:-1])
    return np.clip(out * l_src, 0, 1)

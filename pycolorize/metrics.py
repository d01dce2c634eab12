"""The paper's colorization metrics (Sec. 4): RMSE in Deshpande's lightness-normalised alpha-beta
space, and PSNR in RGB.

The paper's text leaves the RMSE's aggregation open (fact sheet 6.2). `rmse_alphabeta` offers
both readings: "rms" = sqrt(mean over pixels of (d_alpha^2 + d_beta^2)), the root of the mean
squared error vector, and "mean" = mean over pixels of sqrt(d_alpha^2 + d_beta^2). Images are RGB
in [0, 1]; PSNR uses peak 1 (the same as peak 255 on 8-bit values).
"""
import numpy as np

from .color import rgb_to_alphabeta


def _check(pred, truth):
    pred, truth = np.asarray(pred, dtype=np.float64), np.asarray(truth, dtype=np.float64)
    if pred.shape != truth.shape or pred.ndim != 3 or pred.shape[-1] != 3:
        raise ValueError(f"prediction {pred.shape} and ground truth {truth.shape} must be the same (H, W, 3) RGB shape")
    return pred, truth


def rmse_alphabeta(pred, truth, reduce="rms"):
    pred, truth = _check(pred, truth)
    sq = ((rgb_to_alphabeta(pred) - rgb_to_alphabeta(truth)) ** 2).sum(axis=-1)
    if reduce == "rms":
        return float(np.sqrt(sq.mean()))
    if reduce == "mean":
        return float(np.sqrt(sq).mean())
    raise ValueError(f"reduce must be 'rms' or 'mean', got {reduce!r}")


def psnr(pred, truth, peak=1.0):
    """10 log10(peak^2 / MSE) over all pixels and channels; inf for a perfect prediction."""
    pred, truth = _check(pred, truth)
    mse = float(((pred - truth) ** 2).mean())
    return float("inf") if mse == 0 else float(10 * np.log10(peak ** 2 / mse))

"""The paper's colorization metrics (Sec. 4): RMSE in Deshpande's lightness-normalised alpha-beta
space, and PSNR in RGB.

alpha = B - (R + G)/2 and beta = R - G, divided by a lightness. The paper gives no formula (it
names the space after Deshpande et al., whose code, converttobmyrmg.m in
aditya12agd5/iccv15_lscolorization, divides by the mean (R + G + B)/3 + 1e-4), and it does not
say how "root mean square error in alpha-beta averaged over all pixels" aggregates. Its
no-colorization rows pin the scale: 0.333 on ctest10k (ImageNet) and 0.285 on SUN-6. Readings
(`reading=`):

  "sum"  (the default) alpha, beta over R + G + B (+ 3e-4): exactly one third of Deshpande's
         alpha-beta. The no-colorization RMSE of the everyday photographs on this machine
         averages 0.29 under it, on the paper's scale (docs/rmse_reading.md).
  "mean" Deshpande's code read literally: over (R + G + B)/3 + 1e-4. Its baseline averages 0.87
         on the same photographs, three times the paper's, so it cannot be the reading of the
         paper's tables; kept selectable.
  "none" no lightness division (alpha, beta of RGB in [0, 1]): also on the paper's scale
         (0.26), but it drops the lightness normalisation that defines Deshpande's space.

Aggregation (`reduce=`): "rms" = sqrt(mean over pixels of (d_alpha^2 + d_beta^2)), the root of
the mean squared error vector (the default: the paper's words, and with "sum" the one on the
paper's scale); "mean" = mean over pixels of sqrt(d_alpha^2 + d_beta^2). Images are RGB in
[0, 1]; PSNR uses peak 1 (the same as peak 255 on 8-bit values). The evidence, and how one run
on SUN-6 settles it: docs/rmse_reading.md, tools/rmse_readings.py.
"""
import numpy as np

from pycolorize.colorization import color

READINGS = ("sum", "mean", "none")
DEFAULT_READING = "sum"
REDUCTIONS = ("rms", "mean")

READING_HELP = {
    "sum": "alpha, beta over R+G+B (one third of Deshpande's; the paper's scale)",
    "mean": "alpha, beta over (R+G+B)/3 + 1e-4 (Deshpande's code, literal; 3x the paper's scale)",
    "none": "alpha, beta of RGB in [0, 1], no lightness division",
}


def _check(pred, truth):
    pred, truth = np.asarray(pred, dtype=np.float64), np.asarray(truth, dtype=np.float64)
    if pred.shape != truth.shape or pred.ndim != 3 or pred.shape[-1] != 3:
        raise ValueError(f"prediction {pred.shape} and ground truth {truth.shape} must be the same (H, W, 3) RGB shape")
    return pred, truth


def alphabeta(rgb, reading=DEFAULT_READING):
    """(alpha, beta) of RGB in [0, 1] under one reading of the lightness division, stacked last."""
    if reading not in READINGS:
        raise ValueError(f"reading must be one of {', '.join(READINGS)}; got {reading!r}")
    ab = color.alphabeta_numerators(rgb)
    if reading == "none":
        return ab
    light = color.alphabeta_lightness(rgb)  # "mean" is color.rgb_to_alphabeta itself
    return ab / (light if reading == "mean" else 3 * light)[..., None]


def pixel_errors(pred, truth, reading=DEFAULT_READING):
    """Per-pixel norm of the alpha-beta error, (H, W)."""
    pred, truth = _check(pred, truth)
    return np.sqrt(((alphabeta(pred, reading) - alphabeta(truth, reading)) ** 2).sum(axis=-1))


def reduce_errors(err, reduce="rms"):
    """One number from per-pixel alpha-beta error norms: "rms" or "mean" (module docstring)."""
    if reduce not in REDUCTIONS:
        raise ValueError(f"reduce must be 'rms' or 'mean', got {reduce!r}")
    return float(np.sqrt((err ** 2).mean())) if reduce == "rms" else float(err.mean())


def rmse_alphabeta(pred, truth, reduce="rms", reading=DEFAULT_READING):
    return reduce_errors(pixel_errors(pred, truth, reading), reduce)


def psnr(pred, truth, peak=1.0):
    """10 log10(peak^2 / MSE) over all pixels and channels; inf for a perfect prediction."""
    pred, truth = _check(pred, truth)
    mse = float(((pred - truth) ** 2).mean())
    return float("inf") if mse == 0 else float(10 * np.log10(peak ** 2 / mse))

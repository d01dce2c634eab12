"""Calibrating the predicted histograms: one temperature per head, fitted on validation photos.

A network trained on a handful of photos is confidently wrong: its hue and chroma histograms are
sharper than its accuracy warrants. Temperature scaling (Guo et al. 2017) flattens them without
changing their ranking: p_T(k) = p(k)^(1/T) / sum_j p(j)^(1/T), which is softmax(logits / T) for
the net's softmax outputs. T is fitted per head on photos training never saw, by the negative log
likelihood of the true bins, weighted as the training loss weights them (the hue by the pixel's
chroma, as the paper's Eq. 3; the chroma not at all). The median chroma and the chromatically
faded hue expectation of a flatter histogram move towards gray where the net does not know.

    cal = fit(histograms, truth_rgb)          # {"hue": T_h, "chroma": T_c} and its diagnostics
    save(cal, "model.calibration.json")       # beside model.caffemodel.h5: Colorizer applies it
"""
import json
import os

import numpy as np

from . import color

LOG_T = np.linspace(np.log(0.25), np.log(16.0), 97)  # the temperatures searched, then refined
FLOOR = 1e-12  # probabilities are floored before logs (a histogram may hold exact zeros)


def apply(p, t):
    """Histograms p (..., K) at temperature t: p^(1/t), renormalised. t = 1 returns p unchanged."""
    if t == 1.0:
        return p
    q = np.power(np.maximum(p, FLOOR), 1.0 / t)
    return q / q.sum(axis=-1, keepdims=True)


def targets(rgb, hue_bins, chroma_bins):
    """The true hue and chroma bin of each pixel of rgb (N, 3), and its chroma (the hue's weight)."""
    h, c, _ = color.rgb_to_hcv(rgb)
    return color.uniform_bin(h, hue_bins), color.uniform_bin(c, chroma_bins), c


def nll(p, index, weight=None, t=1.0):
    """Mean negative log likelihood of the true bins `index` under p (N, K) at temperature t,
    weighted per row by `weight` (weighted mean; None: plain mean)."""
    logp = np.log(np.maximum(p, FLOOR)) / t
    logz = np.log(np.exp(logp - logp.max(-1, keepdims=True)).sum(-1)) + logp.max(-1)
    per = logz - logp[np.arange(len(index)), index]
    if weight is None:
        return float(per.mean())
    return float((per * weight).sum() / max(float(weight.sum()), FLOOR))


def fit_temperature(p, index, weight=None):
    """The temperature minimising nll: a grid over [0.25, 16] in log space, then a golden-section
    search between the grid neighbours of the best point."""
    values = [nll(p, index, weight, np.exp(lt)) for lt in LOG_T]
    i = int(np.argmin(values))
    lo, hi = LOG_T[max(i - 1, 0)], LOG_T[min(i + 1, len(LOG_T) - 1)]
    g = (np.sqrt(5) - 1) / 2
    a, b = hi - g * (hi - lo), lo + g * (hi - lo)
    fa, fb = nll(p, index, weight, np.exp(a)), nll(p, index, weight, np.exp(b))
    for _ in range(40):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - g * (hi - lo)
            fa = nll(p, index, weight, np.exp(a))
        else:
            lo, a, fa = a, b, fb
            b = lo + g * (hi - lo)
            fb = nll(p, index, weight, np.exp(b))
    return float(np.exp((lo + hi) / 2))


def reliability(p, index, weight=None, bins=10):
    """The reliability diagram of the most likely bin: per confidence bin (equal width on [0, 1]),
    the mean confidence, the accuracy and the (weighted) share of pixels; and the expected
    calibration error, sum over bins of share * |accuracy - confidence|."""
    conf = p.max(-1)
    hit = (p.argmax(-1) == index).astype(np.float64)
    w = np.ones(len(conf)) if weight is None else np.asarray(weight, np.float64)
    which = np.minimum((conf * bins).astype(int), bins - 1)
    rows, ece, total = [], 0.0, max(float(w.sum()), FLOOR)
    for b in range(bins):
        m = which == b
        share = float(w[m].sum()) / total
        if share == 0:
            continue
        c, a = float(np.average(conf[m], weights=w[m])), float(np.average(hit[m], weights=w[m]))
        rows.append({"confidence": c, "accuracy": a, "share": share})
        ece += share * abs(a - c)
    return {"ece": ece, "bins": rows}


def fit(hist, rgb, max_pixels=200000, seed=0):
    """Temperatures for a hue/chroma net from its predicted histograms and the true colours of the
    same pixels: `hist` {"hue": (N, Kh), "chroma": (N, Kc)} and `rgb` (N, 3) in [0, 1] (pixels of
    validation photos, e.g. Colorizer.predict()'s maps flattened), subsampled to max_pixels. Returns
    {"temperature": {"hue", "chroma"}, and per head the NLL and the reliability (ECE and diagram)
    before and after, "pixels"}."""
    ph, pc = (np.asarray(hist[k], np.float64).reshape(-1, np.shape(hist[k])[-1]) for k in ("hue", "chroma"))
    rgb = np.asarray(rgb, np.float64).reshape(-1, 3)
    if not len(ph) == len(pc) == len(rgb) or len(rgb) == 0:
        raise ValueError(f"fit needs as many hue and chroma histograms as pixels, got {len(ph)}, {len(pc)}, {len(rgb)}")
    if len(rgb) > max_pixels:
        keep = np.random.default_rng(seed).choice(len(rgb), max_pixels, replace=False)
        ph, pc, rgb = ph[keep], pc[keep], rgb[keep]
    hi, ci, chroma = targets(rgb, ph.shape[1], pc.shape[1])
    out = {"temperature": {}, "pixels": int(len(rgb))}
    for head, p, index, weight in (("hue", ph, hi, chroma), ("chroma", pc, ci, None)):
        t = fit_temperature(p, index, weight)
        out["temperature"][head] = t
        out[head] = {"nll_before": nll(p, index, weight), "nll_after": nll(p, index, weight, t),
                     "reliability_before": reliability(p, index, weight),
                     "reliability_after": reliability(apply(p, t), index, weight)}
    return out


def path_for(weights):
    """Where a model's calibration lives: beside the weights, <stem>.calibration.json."""
    weights = os.fspath(weights)
    for ext in (".caffemodel.h5", ".caffemodel", ".h5"):
        if weights.endswith(ext):
            return weights[:-len(ext)] + ".calibration.json"
    return weights + ".calibration.json"


def save(cal, path):
    """Write a fit() result (JSON), atomically."""
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(cal, f, indent=2)
    os.replace(tmp, path)


def load(path):
    """{"hue": T_h, "chroma": T_c} from a calibration file; an error naming the file if it is not one."""
    try:
        with open(path) as f:
            t = json.load(f)["temperature"]
        t = {k: float(t[k]) for k in ("hue", "chroma")}
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: not a calibration file ({type(e).__name__}: {e})") from None
    if not all(np.isfinite(v) and v > 0 for v in t.values()):
        raise ValueError(f"{path}: temperatures must be positive numbers, got {t}")
    return t

"""Calibrating the predicted histograms: one temperature per head, fitted on validation photos.

A network trained on a handful of photos is confidently wrong: its hue and chroma histograms are
sharper than its accuracy warrants. Temperature scaling (Guo et al. 2017) softens them without
changing their ranking: p_T(k) = p(k)^(1/T) / sum_j p(j)^(1/T), which is softmax(logits / T) for
the net's softmax outputs, and tends to the uniform histogram as T grows. That suits the hue: a
flatter hue histogram has a shorter complex expectation, which the chromatic fading turns into
less colour. It does not suit the chroma: the uniform chroma histogram's median is 0.5, a
saturated colour. So the chroma head is tempered towards a prior, the chroma histogram of the
training photos (mostly low chroma), instead: p_T(k) ~ p(k)^(1/T) prior(k)^(1 - 1/T), the
temperature scaling of logits plus a base rate; where the net does not know, its chroma falls back
to what photos usually have, not to the middle of the scale.

T is fitted per head on photos training never saw, by the negative log likelihood of the true
bins, weighted as the training loss weights them (the hue by the pixel's chroma, as the paper's
Eq. 3; the chroma not at all).

    cal = fit(histograms, truth_rgb)          # {"hue": T_h, "chroma": T_c} and its diagnostics
    save(cal, "model.calibration.json")       # beside model.caffemodel.h5: Colorizer applies it
"""
import json
import os

import numpy as np

from pycolorize.colorization import color
from pycolorize.util.files import atomic_open

CANVASES = ("zeros", "reflect")  # Colorizer's canvas: what surrounds the photo on the net's input
LOG_T = np.linspace(np.log(0.25), np.log(16.0), 97)  # the temperatures searched, then refined
FLOOR = 1e-12  # probabilities are floored before logs (a histogram may hold exact zeros)


def check_canvas(canvas):
    """`canvas` if it is one of CANVASES, else a ValueError saying which are."""
    if not isinstance(canvas, str) or canvas not in CANVASES:
        raise ValueError(f"canvas must be one of {', '.join(CANVASES)}, got {canvas!r}")
    return canvas


def apply(p, t, prior=None):
    """Histograms p (..., K) at temperature t: p^(1/t) (times prior^(1 - 1/t) with a prior (K,)),
    renormalised. t = 1 returns p unchanged."""
    if t == 1.0:
        return p
    logq = _tempered_log(p, t, prior)
    q = np.exp(logq - logq.max(axis=-1, keepdims=True))
    return q / q.sum(axis=-1, keepdims=True)


def _tempered_log(p, t, prior=None):
    """log p / t (+ (1 - 1/t) log prior): apply's histograms before normalisation, nll's logits."""
    logp = np.log(np.maximum(p, FLOOR)) / t
    if prior is not None:
        logp = logp + (1.0 - 1.0 / t) * np.log(np.maximum(np.asarray(prior, np.float64), FLOOR))
    return logp


def chroma_prior(rgb, bins=32):
    """The chroma histogram of photos' pixels rgb (N, 3) (normalised; every bin at least 1e-4 of
    the mass, so that no chroma is impossible)."""
    _, c, _ = color.rgb_to_hcv(np.asarray(rgb, np.float64).reshape(-1, 3))
    h = np.bincount(color.uniform_bin(c, bins), minlength=bins).astype(np.float64)
    h = np.maximum(h / h.sum(), 1e-4)
    return h / h.sum()


def targets(rgb, hue_bins, chroma_bins):
    """The true hue and chroma bin of each pixel of rgb (N, 3), and its chroma (the hue's weight)."""
    h, c, _ = color.rgb_to_hcv(rgb)
    return color.uniform_bin(h, hue_bins), color.uniform_bin(c, chroma_bins), c


def nll(p, index, weight=None, t=1.0, prior=None):
    """Mean negative log likelihood of the true bins `index` under p (N, K) at temperature t
    (towards `prior`, see apply), weighted per row by `weight` (weighted mean; None: plain mean)."""
    logp = _tempered_log(p, t, prior)
    logz = np.log(np.exp(logp - logp.max(-1, keepdims=True)).sum(-1)) + logp.max(-1)
    per = logz - logp[np.arange(len(index)), index]
    if weight is None:
        return float(per.mean())
    return float((per * weight).sum() / max(float(weight.sum()), FLOOR))


def fit_temperature(p, index, weight=None, prior=None):
    """The temperature minimising nll: a grid over [0.25, 16] in log space, then a golden-section
    search between the grid neighbours of the best point."""
    def f(lt):
        return nll(p, index, weight, np.exp(lt), prior)

    values = [f(lt) for lt in LOG_T]
    i = int(np.argmin(values))
    lo, hi = LOG_T[max(i - 1, 0)], LOG_T[min(i + 1, len(LOG_T) - 1)]
    g = (np.sqrt(5) - 1) / 2
    a, b = hi - g * (hi - lo), lo + g * (hi - lo)
    fa, fb = f(a), f(b)
    for _ in range(40):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - g * (hi - lo)
            fa = f(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + g * (hi - lo)
            fb = f(b)
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


def fit(hist, rgb, chroma_prior=None, max_pixels=200000, seed=0):
    """Temperatures for a hue/chroma net from its predicted histograms and the true colours of the
    same pixels: `hist` {"hue": (N, Kh), "chroma": (N, Kc)} and `rgb` (N, 3) in [0, 1] (pixels of
    validation photos, e.g. Colorizer.predict()'s maps flattened), subsampled to max_pixels; the
    chroma tempered towards `chroma_prior` (see the module doc; None: towards uniform). Returns
    {"temperature": {"hue", "chroma"}, "chroma_prior", and per head the NLL and the reliability
    (ECE and diagram) before and after, "pixels"}."""
    ph, pc = (np.asarray(hist[k], np.float64).reshape(-1, np.shape(hist[k])[-1]) for k in ("hue", "chroma"))
    rgb = np.asarray(rgb, np.float64).reshape(-1, 3)
    if not len(ph) == len(pc) == len(rgb) or len(rgb) == 0:
        raise ValueError(f"fit needs as many hue and chroma histograms as pixels, got {len(ph)}, {len(pc)}, {len(rgb)}")
    if len(rgb) > max_pixels:
        keep = np.random.default_rng(seed).choice(len(rgb), max_pixels, replace=False)
        ph, pc, rgb = ph[keep], pc[keep], rgb[keep]
    hi, ci, chroma = targets(rgb, ph.shape[1], pc.shape[1])
    if chroma_prior is not None and len(chroma_prior) != pc.shape[1]:
        raise ValueError(f"the chroma prior has {len(chroma_prior)} bins, the chroma histograms {pc.shape[1]}")
    out = {"temperature": {}, "pixels": int(len(rgb)),
           "chroma_prior": None if chroma_prior is None else [float(v) for v in chroma_prior]}
    for head, p, index, weight, prior in (("hue", ph, hi, chroma, None), ("chroma", pc, ci, None, chroma_prior)):
        t = fit_temperature(p, index, weight, prior)
        out["temperature"][head] = t
        out[head] = {"nll_before": nll(p, index, weight), "nll_after": nll(p, index, weight, t, prior),
                     "reliability_before": reliability(p, index, weight),
                     "reliability_after": reliability(apply(p, t, prior), index, weight)}
    return out


def path_for(weights):
    """Where a model's calibration lives: beside the weights, <stem>.calibration.json."""
    from pycolorize.engine.weights import weights_stem

    return weights_stem(weights) + ".calibration.json"


def save(cal, path):
    """Write a fit() result (JSON), atomically."""
    with atomic_open(path) as f:
        json.dump(cal, f, indent=2)


class Calibration(dict):
    """A checked calibration: {"hue": T_h, "chroma": T_c, "chroma_prior": array or None,
    "clamp_chroma": bool, "canvas": "zeros" or "reflect"} (load and parse make it; Colorizer takes it
    as its `calibration`)."""


def load(path):
    """The Calibration in a calibration file (JSON: {"temperature": {"hue": T, "chroma": T},
    "chroma_prior": [...], "clamp_chroma": bool, "canvas": "zeros" or "reflect"}; all but the
    temperatures may be absent); an error naming the file if it is not one."""
    try:
        with open(path) as f:
            raw = json.load(f)
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: not a calibration file ({type(e).__name__}: {e})") from None
    return parse(raw, os.fspath(path))


def parse(raw, where="calibration"):
    """The Calibration of a dict in a calibration file's form (fit()'s result, say): the
    temperatures, "clamp_chroma" (absent: false) and "canvas" (absent: "zeros"; both Colorizer's
    options of those names); an error naming `where` if it is not one."""
    try:
        t = {k: float(raw["temperature"][k]) for k in ("hue", "chroma")}
        clamp = raw.get("clamp_chroma", False)
        if not isinstance(clamp, bool):
            raise TypeError(f"clamp_chroma must be true or false, got {clamp!r}")
        canvas = check_canvas(raw.get("canvas", "zeros"))
        prior = raw.get("chroma_prior")
        prior = None if prior is None else np.asarray(prior, np.float64)
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise ValueError(f"{where}: not a calibration file ({type(e).__name__}: {e})") from None
    if not all(np.isfinite(v) and v > 0 for v in t.values()):
        raise ValueError(f"{where}: temperatures must be positive numbers, got {t}")
    if prior is not None and (prior.ndim != 1 or not np.all(prior > 0) or not np.isfinite(prior).all()):
        raise ValueError(f"{where}: chroma_prior must be a list of positive numbers")
    return Calibration(**t, chroma_prior=prior, clamp_chroma=clamp, canvas=canvas)

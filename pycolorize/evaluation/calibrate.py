"""Choosing a model's calibration on validation photos: temperatures fitted for each canvas, the
chroma clamp tried off and on, and the combination with the lowest RMSE(alpha-beta) kept."""
import numpy as np

from pycolorize.colorization import calibration as cal
from pycolorize.colorization.colorizer import Colorizer
from pycolorize.evaluation import metrics


def choose_calibration(deploy, model, validation, train_pixels, size):
    """The calibration a model keeps beside it (what `pycolorize demo` writes): for each canvas (Colorizer's "zeros", the
    released dense inference, and "reflect"), temperatures fitted on the validation strips' pixels
    (pycolorize.colorization.calibration, the chroma towards train_pixels' chroma histogram), each with the
    chroma clamp off and on; kept: the combination whose decoded validation strips have the lowest
    mean RMSE(alpha-beta), the paper's first measure. Its fit() result with "canvas",
    "clamp_chroma" and every combination's "validation_rmse_ab"."""
    truth = [np.asarray(im, np.float64) / 255 for im in validation.values()]
    tried, best = {}, None
    for canvas in cal.CANVASES:
        raw = Colorizer(deploy, model, size=size, calibration=None, canvas=canvas)
        hist = [raw.predict(im) for im in validation.values()]
        fitted = cal.fit({k: np.concatenate([h[k].reshape(-1, h[k].shape[-1]) for h in hist]) for k in ("hue", "chroma")},
                         np.concatenate([t.reshape(-1, 3) for t in truth]),
                         chroma_prior=cal.chroma_prior(train_pixels, raw.bins["chroma"]))
        fitted["canvas"] = canvas
        preds = None
        for clamp in (False, True):
            probe = Colorizer(deploy, model, size=size, calibration=cal.parse(fitted), clamp_chroma=clamp)
            preds = preds or [probe.prepare(im) for im in validation.values()]  # the net's part: clamp-free
            rmse = float(np.mean([metrics.rmse_alphabeta(probe.render(p).astype(np.float64), t) for p, t in zip(preds, truth)]))
            tried[f"{canvas}, clamp {'on' if clamp else 'off'}"] = rmse
            if best is None or rmse < best[0]:
                best = (rmse, dict(fitted, clamp_chroma=clamp))
    return dict(best[1], validation_rmse_ab=tried)

"""Colorize photographs with a dense hue/chroma net, exactly as the authors' released pipeline
(autocolorize 0.2.1; fact sheet 4.1 and 4.3).

    c = Colorizer("prototxt/colorize_deploy.prototxt", "autocolorize.caffemodel.h5", size=512)
    rgb = c.colorize(image)       # RGB float in [0, 1], the input's size
    hist = c.predict(gray)        # {"hue": (H, W, K_h), "chroma": (H, W, K_c)} per-pixel histograms

K_h and K_c are the channel counts of the net's prediction_h_full and prediction_c_full (32 each
for the released model; `c.bins`).

1. gray L = mean(R, G, B) of the input (any size; gray, RGB, RGBA, 8 or 16 bit).
2. Scale: s = min(S/2 / short side, 1), and if long side * s >= S - 12 then s = (S - 12) / long
   side (never upscaling, at least 6 px from the canvas border); bilinear resize of the gray.
3. Centre it on an S x S canvas of zeros (S a multiple of 32) and run the net.
4. Resize the two (S, S, K) histogram maps by 1/s (bilinear) and take the centre crop of the
   input's size.
5. Decode: chroma = median bin centre, hue = angle of the complex expectation, chroma times the
   chromatic-fading factor min(|z| / (K_h * 0.03), 1); V = L + C/2, S = 2C / (2L + C); HSV to RGB;
   finally shift each pixel so its channel mean is L again.

The released code resized with 2016 scikit-image (order-1 interpolation, constant zero outside
the image, no anti-aliasing); pycolorize.images.resize_for_network (step 2) and
upsample_predictions (step 4) reproduce that (the reasons are beside them). Steps 4-5 run on bands
of rows so that a large photograph never holds its full-resolution K_h + K_c channel histograms in
memory.
"""
import os
from typing import NamedTuple

import numpy as np

from . import calibration as cal
from . import color, decode, transfer
from .images import resize_for_network, to_rgb, upsample_predictions
from .net import Net

CHROMA_MODES = ("median", "mode", "expectation", "sample")
HUE_MODES = ("expectation-cf", "expectation", "mode", "median", "sample")


class Canvas(NamedTuple):
    """The net's outputs for one photo: `hist` (S, S, channels of all outputs), the `scale` s the gray
    was resized by, and `placed`, the (rows, columns) slices of the canvas the photo occupies."""
    hist: np.ndarray
    scale: float
    placed: tuple


def released_scale(h, w, size):
    """The released scale rule (fact sheet 4.1)."""
    min_side, max_side = size // 2, size - 12
    s = min(min_side / min(h, w), 1.0)
    if max(h, w) * s >= max_side:
        s = max_side / max(h, w)
    return s


def parse_param(param):
    """'chroma:hue' decoding modes, e.g. 'median:expectation-cf' (the released default)."""
    parts = param.split(":")
    if len(parts) != 2 or parts[0] not in CHROMA_MODES or parts[1] not in HUE_MODES:
        raise ValueError(f"--param must be chroma:hue with chroma in {', '.join(CHROMA_MODES)} and hue in "
                         f"{', '.join(HUE_MODES)}; got {param!r}")
    return parts[0], parts[1]


class Colorizer:
    def __init__(self, prototxt, weights, size=512, param="median:expectation-cf", band_rows=256, seed=0,
                 calibration="auto"):
        """`calibration`: temperatures for the hue and chroma histograms (pycolorize.calibration):
        "auto" applies <weights stem>.calibration.json when it exists beside the weights (what
        `pycolorize demo` writes), a path or a dict in that file's form ({"temperature": {"hue": T,
        "chroma": T}, "chroma_prior": [...] or absent}) applies those, None none."""
        if size % 32:
            raise ValueError(f"size {size} is not a multiple of 32 (the dense net's pooling and upsampling need it)")
        self.size, self.band_rows, self.seed = int(size), int(band_rows), int(seed)
        self.net = Net(prototxt, phase="test", weights=weights)
        blobs = self.net.blobs
        if "prediction_h_full" in blobs and "prediction_c_full" in blobs:
            self.variant, self.outputs = "hue_chroma", [("prediction_h_full", "hue"), ("prediction_c_full", "chroma")]
            self.chroma_mode, self.hue_mode = parse_param(param)
        elif "prediction_a_full" in blobs and "prediction_b_full" in blobs:
            self.variant, self.outputs = "lab_k32", [("prediction_a_full", "a"), ("prediction_b_full", "b")]
        elif "prediction_ab_full" in blobs:
            self.variant = "lab_l2" if blobs["prediction_ab_full"].shape[1] == 2 else "lab_16x16"
            self.outputs = [("prediction_ab_full", "ab")]
        else:
            raise ValueError(f"{prototxt}: no prediction_h_full/prediction_c_full (hue/chroma) nor prediction_a_full/"
                             "prediction_b_full or prediction_ab_full (Lab) blobs; a dense net is needed "
                             "(e.g. prototxt/colorize_deploy.prototxt)")
        # The bin counts are the nets' (the released one has 32 hue and 32 chroma bins; others may differ).
        self.bins = {key: self._bin_count(prototxt, name) for name, key in self.outputs}
        self.temperature = self._temperature(calibration, weights)
        if self.variant in ("lab_k32", "lab_16x16"):
            self.lab_mode = "expectation" if param == "median:expectation-cf" else param
            if self.lab_mode not in ("expectation", "mode", "median") or (self.variant == "lab_16x16" and self.lab_mode == "median"):
                raise ValueError(f"--param for a Lab histogram net is expectation or mode (or median for marginals); got {param!r}")

    def _temperature(self, calibration, weights):
        if isinstance(calibration, str) and calibration == "auto":
            found = cal.path_for(weights)
            if not os.path.exists(found) or self.variant != "hue_chroma":
                return None
            calibration = found
        if calibration is None:
            return None
        if self.variant != "hue_chroma":
            raise ValueError(f"calibration applies to hue/chroma histograms; this net predicts {self.variant}")
        t = cal.load(calibration)
        if t["chroma_prior"] is not None and len(t["chroma_prior"]) != self.bins["chroma"]:
            raise ValueError(f"the calibration's chroma prior has {len(t['chroma_prior'])} bins, the net "
                             f"{self.bins['chroma']}")
        return t

    def _bin_count(self, prototxt, name):
        """The channel count of output blob `name` (N, K, S, S), checked to be a histogram the decoders
        can read: at least 2 bins, and K = k * k for a joint Lab histogram."""
        shape = tuple(self.net.blobs[name].shape)
        if len(shape) != 4:
            raise ValueError(f"{prototxt}: {name} has shape {shape}; a dense net's outputs are (N, K, S, S)")
        k = shape[1]
        if self.variant == "lab_l2":
            return k
        if k < 2:
            raise ValueError(f"{prototxt}: {name} has {k} channel(s); a histogram output needs at least 2 bins")
        if self.variant == "lab_16x16" and int(round(np.sqrt(k))) ** 2 != k:
            raise ValueError(f"{prototxt}: {name} has {k} channels, neither 2 (a, b) values nor a joint histogram "
                             "of k * k bins")
        return k

    # ---- the net on the canvas -------------------------------------------------------------
    def _canvas(self, gray):
        """Run the net on the gray, resized by the released rule and centred on the S x S canvas."""
        h, w = gray.shape
        s = released_scale(h, w, self.size)
        small = gray if s == 1.0 else resize_for_network(gray, int(round(h * s)), int(round(w * s)))
        canvas = np.zeros((self.size, self.size), np.float32)
        oy, ox = (self.size - small.shape[0]) // 2, (self.size - small.shape[1]) // 2
        canvas[oy:oy + small.shape[0], ox:ox + small.shape[1]] = small
        out = self.net.forward(data=canvas[None, None])
        hist = np.concatenate([out[name][0] for name, _ in self.outputs]).transpose(1, 2, 0).astype(np.float64)
        return Canvas(hist, s, (slice(oy, oy + small.shape[0]), slice(ox, ox + small.shape[1])))

    def _split(self, maps):
        """Maps with every output's channels on the last axis, as [one array per output], with the
        calibration's temperatures applied (at the resolution they are decoded at, as they were
        fitted: on predict()'s maps)."""
        parts = np.split(maps, np.cumsum([self.bins[key] for _, key in self.outputs])[:-1], axis=-1)
        if not self.temperature:
            return parts
        priors = {"hue": None, "chroma": self.temperature["chroma_prior"]}
        return [cal.apply(part, self.temperature[key], priors[key]) for (_, key), part in zip(self.outputs, parts)]

    def _bands(self, gray, canvas):
        """(row slice, [one array per output]) bands at the input's resolution: the canvas's maps
        resized by 1/s and centre-cropped to the input's size (the released rule)."""
        h, w = gray.shape
        if canvas.scale == 1.0:
            big_h = big_w = self.size
        else:
            big_h, big_w = int(round(self.size / canvas.scale)), int(round(self.size / canvas.scale))
        oy, ox = (big_h - h) // 2, (big_w - w) // 2  # the centre crop of the resized canvas
        for y0 in range(0, h, self.band_rows):
            n = min(self.band_rows, h - y0)
            yield slice(y0, y0 + n), self._split(upsample_predictions(canvas.hist, big_h, big_w, oy + y0, ox, n, w))

    def predict(self, image):
        """The per-pixel outputs at the image's size: {"hue", "chroma"} histograms (H, W, K) of a
        hue/chroma net; {"a", "b"} or {"ab"} histograms (or (a, b) / 100 values) of a Lab net. K is
        the net's (self.bins; 32 for the released model)."""
        gray = self._gray(image)
        out = {key: np.empty(gray.shape + (self.bins[key],), np.float32) for _, key in self.outputs}
        for rows, parts in self._bands(gray, self._canvas(gray)):
            for (_, key), part in zip(self.outputs, parts):
                out[key][rows] = part
        return out

    def _decode_lab(self, parts, lightness):
        if self.variant == "lab_k32":
            a, b = decode.lab_marginal(parts[0], self.lab_mode), decode.lab_marginal(parts[1], self.lab_mode)
        elif self.variant == "lab_16x16":
            a, b = np.moveaxis(decode.lab_joint(parts[0], self.lab_mode), -1, 0)
        else:
            a, b = parts[0][..., 0] * 100.0, parts[0][..., 1] * 100.0
        big_l = color.rgb_to_lab(np.repeat(lightness[..., None], 3, axis=-1))[..., 0]  # L of the gray itself
        rgb = color.lab_to_rgb(np.stack([big_l, a, b], axis=-1))
        return color.match_lightness(rgb, lightness)

    def _decode(self, parts, lightness):
        if self.variant != "hue_chroma":
            return self._decode_lab(parts, lightness)
        ph, pc = parts
        rng = np.random.default_rng(self.seed)  # "sample": an independent draw per pixel, reproducible
        pick = {"median": decode.median, "mode": decode.mode, "expectation": decode.expectation,
                "sample": lambda p: decode.sample(p, rng)}
        c = pick[self.chroma_mode](pc)
        if self.hue_mode in ("expectation-cf", "expectation"):
            hue, fade = decode.hue_expectation(ph, fading=self.hue_mode == "expectation-cf")
            c = c * fade
        else:
            hue = pick[self.hue_mode](ph)
        return color.match_lightness(color.hue_chroma_to_rgb(hue, c, lightness), lightness)

    def samples(self, image, n=4, strength=2.0, seed=0, hist=None):
        """n spatially coherent colorizations (pycolorize.sampling), each RGB in [0, 1]. `hist`, the
        image's predict() result if the caller has it, saves running the net again."""
        from . import sampling

        self._need_hue_chroma("samples")
        gray = self._gray(image)
        hist = hist if hist is not None else self.predict(image)
        return [self._decode((h, c), gray) for h, c in sampling.sample_histograms(hist["hue"], hist["chroma"], n, strength,
                                                                                 seed)]

    def uncertainty(self, image, hist=None):
        """Per-pixel uncertainty in [0, 1]: normalised hue entropy times chroma (pycolorize.sampling);
        `hist` as for samples()."""
        from . import sampling

        self._need_hue_chroma("the uncertainty map")
        hist = hist if hist is not None else self.predict(image)
        return sampling.uncertainty(hist["hue"], hist["chroma"])

    def _need_hue_chroma(self, what):
        if self.variant != "hue_chroma":
            raise ValueError(f"{what} needs a hue/chroma net; this one predicts {self.variant}")

    def colorize(self, image, reference=None, transfer_mode="energy", lam=10.0):
        """An RGB float image in [0, 1] of the input's size. With a `reference` image, its colour
        distribution is transferred (pycolorize.transfer): "energy" biases the predicted hue and
        chroma histograms (Eq. 5, solved on the canvas's pixels, applied everywhere), "quantile"
        matches the lightness-normalised RGB quantiles of the result."""
        gray = self._gray(image)
        if reference is not None and transfer_mode not in ("energy", "quantile"):
            raise ValueError(f"transfer must be 'energy' or 'quantile', got {transfer_mode!r}")
        energy = reference is not None and transfer_mode == "energy"
        if energy:
            self._need_hue_chroma("energy histogram transfer")
        canvas = self._canvas(gray)
        bias = self._transfer_bias(canvas, reference, lam) if energy else None
        out = np.empty(gray.shape + (3,), np.float64)
        for rows, parts in self._bands(gray, canvas):
            if bias is not None:
                parts = [transfer.apply_bias(part, b) for part, b in zip(parts, bias)]
            out[rows] = self._decode(parts, gray[rows])
        if reference is not None and transfer_mode == "quantile":
            out = color.match_lightness(transfer.quantile_transfer(out, to_rgb(np.asarray(reference))), gray)
        return out

    def _transfer_bias(self, canvas, reference, lam):
        """The global (hue, chroma) biases of Eq. 5 towards the reference's histograms, solved on (up
        to 20000 of) the canvas pixels the photo covers."""
        sample = canvas.hist[canvas.placed].reshape(-1, canvas.hist.shape[-1])
        if len(sample) > 20000:
            sample = sample[np.random.default_rng(0).choice(len(sample), 20000, replace=False)]
        targets = transfer.reference_histograms(to_rgb(np.asarray(reference)), self.bins["hue"], self.bins["chroma"])
        return [transfer.solve_bias(part, t, lam) for part, t in zip(self._split(sample), targets)]

    @staticmethod
    def _gray(image):
        a = np.asarray(image)
        if a.ndim == 2:
            return to_rgb(a)[..., 0]
        return color.gray(to_rgb(a))

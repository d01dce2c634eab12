"""Colorize photographs with a dense hue/chroma net, exactly as the authors' released pipeline
(autocolorize 0.2.1; fact sheet 4.1 and 4.3).

    c = Colorizer("prototxt/colorize_deploy.prototxt", "autocolorize.caffemodel.h5", size=512)
    rgb = c.colorize(image)       # RGB float in [0, 1], the input's size
    hist = c.predict(gray)        # {"hue": (H, W, 32), "chroma": (H, W, 32)} per-pixel histograms

1. gray L = mean(R, G, B) of the input (any size; gray, RGB, RGBA, 8 or 16 bit).
2. Scale: s = min(S/2 / short side, 1), and if long side * s >= S - 12 then s = (S - 12) / long
   side (never upscaling, at least 6 px from the canvas border); bilinear resize of the gray.
3. Centre it on an S x S canvas of zeros (S a multiple of 32) and run the net.
4. Resize the two (S, S, 32) histogram maps by 1/s (bilinear) and take the centre crop of the
   input's size.
5. Decode: chroma = median bin centre, hue = angle of the complex expectation, chroma times the
   chromatic-fading factor min(|z| / (32 * 0.03), 1); V = L + C/2, S = 2C / (2L + C); HSV to RGB;
   finally shift each pixel so its channel mean is L again.

The released code resized with 2016 scikit-image (order-1 interpolation, constant zero outside
the image, no anti-aliasing); pycolorize.images.resize_for_network (step 2) and
upsample_predictions (step 4) reproduce that. Steps 4-5 run on bands of rows so
that a large photograph never holds its full-resolution 64-channel histograms in memory.
"""
import numpy as np

from . import color, decode, transfer
from .images import resize_for_network, to_rgb, upsample_predictions
from .net import Net

CHROMA_MODES = ("median", "mode", "expectation", "sample")
HUE_MODES = ("expectation-cf", "expectation", "mode", "median", "sample")

# The released resize (2016 skimage, order 1, no anti-aliasing), under the name it had here first
# (cli_demo and cli_convert_vgg16 import it for the balancing images).
rescale_bilinear = resize_for_network


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
    def __init__(self, prototxt, weights, size=512, param="median:expectation-cf", band_rows=256, seed=0):
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
        if self.variant in ("lab_k32", "lab_16x16"):
            self.lab_mode = "expectation" if param == "median:expectation-cf" else param
            if self.lab_mode not in ("expectation", "mode", "median") or (self.variant == "lab_16x16" and self.lab_mode == "median"):
                raise ValueError(f"--param for a Lab histogram net is expectation or mode (or median for marginals); got {param!r}")

    # ---- the net on the canvas -------------------------------------------------------------
    def _canvas_histograms(self, gray):
        h, w = gray.shape
        s = released_scale(h, w, self.size)
        small = gray if s == 1.0 else resize_for_network(gray, int(round(h * s)), int(round(w * s)))
        canvas = np.zeros((self.size, self.size), np.float32)
        oy, ox = (self.size - small.shape[0]) // 2, (self.size - small.shape[1]) // 2
        canvas[oy:oy + small.shape[0], ox:ox + small.shape[1]] = small
        out = self.net.forward(data=canvas[None, None])
        hist = np.concatenate([out[name][0] for name, _ in self.outputs]).transpose(1, 2, 0)
        self._placed = (slice(oy, oy + small.shape[0]), slice(ox, ox + small.shape[1]))
        return hist.astype(np.float64), s

    def _bands(self, gray, canvas=None):
        """(row slice, [one array per output]) bands at the input's resolution."""
        h, w = gray.shape
        hist, s = canvas if canvas is not None else self._canvas_histograms(gray)
        if s == 1.0:
            big_h = big_w = self.size
        else:
            big_h, big_w = int(round(self.size / s)), int(round(self.size / s))
        oy, ox = (big_h - h) // 2, (big_w - w) // 2  # the centre crop of the resized canvas
        splits = np.cumsum([self.net.blobs[name].shape[1] for name, _ in self.outputs])[:-1]
        for y0 in range(0, h, self.band_rows):
            n = min(self.band_rows, h - y0)
            band = upsample_predictions(hist, big_h, big_w, oy + y0, ox, n, w)
            yield slice(y0, y0 + n), np.split(band, splits, axis=-1)

    def predict(self, image):
        """The per-pixel outputs at the image's size: {"hue", "chroma"} histograms (H, W, 32) of a
        hue/chroma net; {"a", "b"} or {"ab"} histograms (or (a, b) / 100 values) of a Lab net."""
        gray = self._gray(image)
        out = {key: np.empty(gray.shape + (self.net.blobs[name].shape[1],), np.float32) for name, key in self.outputs}
        for rows, parts in self._bands(gray):
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
        canvas, bias = None, None
        if reference is not None and transfer_mode == "energy":
            self._need_hue_chroma("energy histogram transfer")
            canvas = self._canvas_histograms(gray)
            sample = canvas[0][self._placed].reshape(-1, 64)
            if len(sample) > 20000:
                sample = sample[np.random.default_rng(0).choice(len(sample), 20000, replace=False)]
            t_h, t_c = transfer.reference_histograms(to_rgb(np.asarray(reference)))
            bias = (transfer.solve_bias(sample[:, :32], t_h, lam), transfer.solve_bias(sample[:, 32:], t_c, lam))
        elif reference is not None and transfer_mode != "quantile":
            raise ValueError(f"transfer must be 'energy' or 'quantile', got {transfer_mode!r}")
        out = np.empty(gray.shape + (3,), np.float64)
        for rows, parts in self._bands(gray, canvas):
            if bias is not None:
                parts = [transfer.apply_bias(parts[0], bias[0]), transfer.apply_bias(parts[1], bias[1])]
            out[rows] = self._decode(parts, gray[rows])
        if reference is not None and transfer_mode == "quantile":
            out = color.match_lightness(transfer.quantile_transfer(out, to_rgb(np.asarray(reference))), gray)
        return out

    @staticmethod
    def _gray(image):
        a = np.asarray(image)
        if a.ndim == 2:
            return to_rgb(a)[..., 0]
        return color.gray(to_rgb(a))

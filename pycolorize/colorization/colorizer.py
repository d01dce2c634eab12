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
3. Centre it on an S x S canvas of zeros (S a multiple of 32) and run the net. (canvas="reflect"
   mirrors the photo into the border instead, as the released sparse inference pads; a model's
   calibration file may choose it: `pycolorize demo` does, by its validation split.)
4. Resize the two (S, S, K) histogram maps by 1/s (bilinear) and take the centre crop of the
   input's size.
5. Decode: chroma = median bin centre, hue = angle of the complex expectation, chroma times the
   chromatic-fading factor min(|z| / (K_h * 0.03), 1); V = L + C/2, S = 2C / (2L + C); HSV to RGB;
   finally shift each pixel so its channel mean is L again.

The released code resized with 2016 scikit-image (order-1 interpolation, constant zero outside
the image, no anti-aliasing); pycolorize.colorization.resample.resize_for_network (step 2) and
upsample_predictions (step 4) reproduce that (the reasons are beside them).

Where this differs from the released code by default: steps 4 and 5 are swapped. The released code
upsamples the K_h + K_c channel histograms to the photo's resolution and decodes every pixel; here
the histograms are decoded at the network's resolution (the part of the canvas the photo covers,
plus a one-pixel margin) and only the decoded chroma, as the Cartesian pair (a, b) = C (cos 2 pi h,
sin 2 pi h), is upsampled bilinearly (pixel centres aligned) onto the full-resolution lightness, in
float32 and in bands of rows. Interpolating (a, b) rather than (h, C) keeps hue's wrap-around right
(halfway between hue 0.95 and 0.05 is 0.0, not 0.5) and lets a colour fade through gray rather than
through the hues between. The cost outside the net is then a few float32 operations per pixel, and
the memory one output image, where the released order cost about 2 (K_h + K_c) float64 values per
pixel (a 4000 x 2667 photo: 28 s and 4.4 GB before). The two agree exactly where the photo is not
resized (s = 1: every photo with short side <= S/2 and long side < S - 12, as in `pycolorize
evaluate` at the paper's 256 px) and differ elsewhere only where the histograms change within a few
network pixels (edges). `Colorizer(..., exact_upsample=True)` keeps the released order (float64).

For interactive recolouring (`pycolorize serve`) the net runs once:

    pred = c.prepare(image)              # the histograms at the network's resolution, and the lightness
    rgb = c.render(pred, bias={"hue": b_h, "chroma": b_c}, param="mode:expectation")
    u = c.uncertainty_map(pred)

render() decodes with any bias of Eq. 5 (a global (K,) vector, or per-pixel (h, w, K) for a region
with a soft mask: pycolorize.colorization.sampling builds both), any decoding, at any output size, without
running the net again.

For a photo too large to hold as float RGB (`pycolorize colorize` on a 100-megapixel scan):

    gray = pycolorize.data.images.load_lightness(path)   # float32 (H, W), no RGB copy of the photo
    pred = c.prepare_lightness(gray)
    for rows, rgb in c.colorize_bands(pred, threads=2):  # float32 (rows, W, 3), the rows of colorize()
        out[rows] = to_uint8(rgb)                        # the released tool's truncation to 8 bits

The same numbers as colorize(load_image(path)), bit for bit: lightness() is the float32 of the float64
mean either way, the gray is resized from the rows it reads (_resize_rows_read), and a band's
numbers do not depend on its height or on the thread that made it.
"""
import os
import time
from typing import NamedTuple

import numpy as np

from pycolorize.colorization import calibration as cal
from pycolorize.colorization import color, decode, transfer
from pycolorize.colorization import resample
from pycolorize.colorization.resample import upsample_predictions
from pycolorize.colorization.color import to_rgb
from pycolorize.engine.net import Net
from pycolorize.models import spaces
from pycolorize.engine.runtime import synchronize

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


# (a, b) per pixel of a Lab net's outputs, by its space's decoding (models.spaces.OutputSpace.decoding)
_LAB_AB = {
    "marginals": lambda parts, mode: np.stack([decode.lab_marginal(parts[0], mode), decode.lab_marginal(parts[1], mode)],
                                              axis=-1),
    "joint": lambda parts, mode: decode.lab_joint(parts[0], mode),
    "values": lambda parts, mode: parts[0][..., :2] * 100.0,  # (a, b) / 100 regressed
}


class Colorizer:
    def __init__(self, prototxt, weights, size=512, param="median:expectation-cf", band_rows=256, seed=0,
                 calibration="auto", exact_upsample=False, clamp_chroma=None, canvas=None):
        """`calibration`: temperatures for the hue and chroma histograms (pycolorize.colorization.calibration):
        "auto" applies <weights stem>.calibration.json when it exists beside the weights (what
        `pycolorize demo` writes); a path to such a file, or a calibration.Calibration (what
        calibration.load and calibration.parse return), applies that; None, none.
        `exact_upsample`: the released order (upsample the histograms, then decode every pixel, in
        float64) instead of the default (decode at the network's resolution, upsample the decoded
        chroma, float32); see the module's docstring.
        `clamp_chroma`: decode no more chroma than the pixel's lightness admits (color.max_chroma:
        black and white pixels stay gray, dark ones faint), where the released formation clips the
        colour and so makes dark pixels saturated (in the lightness-normalised alpha-beta of the
        paper's RMSE, the largest errors); None: as the calibration says (`pycolorize demo` chooses
        it on its validation split), else off, the released behaviour.
        `canvas`: what surrounds the resized photo on the net's S x S input: "zeros" (black, the
        released dense inference) or "reflect" (the photo mirrored, as the released sparse
        inference pads); None: as the calibration says, else "zeros". A net trained on crops of
        photos never saw black borders: around a thin photo they fill most of its deep layers'
        view, and the demo's validation split prefers "reflect" for its model."""
        if size % 32:
            raise ValueError(f"size {size} is not a multiple of 32 (the dense net's pooling and upsampling need it)")
        self.size, self.band_rows, self.seed = int(size), int(band_rows), int(seed)
        self.exact_upsample = bool(exact_upsample)
        # inference only: on the CPU, blobs other than the outputs share memory by liveness (Net's reuse_memory)
        self.net = Net(prototxt, phase="test", weights=weights, reuse_memory=True)
        # the output space (models.spaces) is the one whose prediction_*_full blobs the net has
        self.space = spaces.of_deploy_outputs({name: b.shape[1] if len(b.shape) > 1 else None for name, b in self.net.blobs.items()})
        if self.space is None:
            raise ValueError(f"{prototxt}: no prediction_h_full/prediction_c_full (hue/chroma) nor prediction_a_full/"
                             "prediction_b_full or prediction_ab_full (Lab) blobs; a dense net is needed "
                             "(e.g. prototxt/colorize_deploy.prototxt)")
        self.variant, self.outputs = self.space.name, self.space.deploy_blobs()
        # The bin counts are the nets' (the released one has 32 hue and 32 chroma bins; others may differ).
        self.bins = {key: self._bin_count(prototxt, name) for name, key in self.outputs}
        self.temperature = self._temperature(calibration, weights)
        if clamp_chroma is None:
            clamp_chroma = bool(self.temperature and self.temperature["clamp_chroma"])
        self.clamp_chroma = bool(clamp_chroma)
        if self.clamp_chroma:
            self._need_hue_chroma("clamp_chroma")
        if canvas is None:
            canvas = self.temperature["canvas"] if self.temperature else "zeros"
        self.canvas = cal.check_canvas(canvas)
        self.modes = self._modes(param)

    @classmethod
    def pretrained(cls, name="hypercolumn", **kwargs):
        """The released model `name` (pycolorize.models.zoo; "hypercolumn": the paper's model as the
        authors released it) from the cache, with its deploy net; `kwargs` as Colorizer's (size,
        param, ...). Never downloads: when the model is not cached, a zoo.NotFetchedError (a
        FileNotFoundError) naming the command that fetches it once, `pycolorize weights fetch`
        (in Python: pycolorize.models.zoo.fetch(name)). The authors' load_default_classifier()."""
        from pycolorize.models import zoo

        return cls(zoo.prototxt(name), zoo.path(name), **kwargs)

    def _modes(self, param):
        """The decoding `param` names, for this net: (chroma, hue) modes of a hue/chroma net, one mode
        of a Lab histogram net, None for the L2 net (which has nothing to choose)."""
        if self.space.hue_chroma:
            return parse_param(param)
        if not self.space.histogram:
            return None
        mode = "expectation" if param == "median:expectation-cf" else param
        if mode not in self.space.modes:
            raise ValueError(f"--param for a Lab histogram net is expectation or mode (or median for marginals); got {param!r}")
        return mode

    def _temperature(self, calibration, weights):
        if calibration is None:
            return None
        if isinstance(calibration, dict) and not isinstance(calibration, cal.Calibration):
            raise TypeError("calibration: a path, \"auto\", None or a calibration.Calibration "
                            "(pycolorize.colorization.calibration.parse makes one of a dict)")
        if calibration == "auto":
            calibration = cal.path_for(weights)
            if not os.path.exists(calibration) or not self.space.hue_chroma:
                return None
        if not self.space.hue_chroma:
            raise ValueError(f"calibration applies to hue/chroma histograms; this net predicts {self.variant}")
        t = calibration if isinstance(calibration, cal.Calibration) else cal.load(calibration)
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
        if not self.space.histogram:
            return k
        if k < 2:
            raise ValueError(f"{prototxt}: {name} has {k} channel(s); a histogram output needs at least 2 bins")
        if self.space.decoding == "joint" and int(round(np.sqrt(k))) ** 2 != k:
            raise ValueError(f"{prototxt}: {name} has {k} channels, neither 2 (a, b) values nor a joint histogram "
                             "of k * k bins")
        return k

    # ---- the net on the canvas -------------------------------------------------------------
    def _canvas(self, gray, timings=None, dtype=np.float64):
        """Run the net on the gray, resized by the released rule and centred on the S x S canvas
        (`timings`, a dict: its "network_s" gains the forward pass's seconds). The histograms in
        `dtype` (the net's float32 values, as float64 for the released order's arithmetic)."""
        h, w = gray.shape
        s = released_scale(h, w, self.size)
        small = gray if s == 1.0 else _resize_rows_read(gray, max(1, int(round(h * s))), max(1, int(round(w * s))))
        oy, ox = (self.size - small.shape[0]) // 2, (self.size - small.shape[1]) // 2
        # "zeros": constant 0; "reflect": numpy mirrors again and again where the border is wider than the photo
        canvas = np.pad(np.asarray(small, np.float32), ((oy, self.size - oy - small.shape[0]), (ox, self.size - ox - small.shape[1])),
                        mode="reflect" if self.canvas == "reflect" else "constant")
        if timings is not None:
            synchronize()  # the device's earlier work is not the network's
            start = time.perf_counter()
        out = self.net.forward(data=canvas[None, None])
        if timings is not None:
            synchronize()
            timings["network_s"] = timings.get("network_s", 0.0) + time.perf_counter() - start
        # (the layout astype keeps, the channels outermost, is what every step after this was written and checked against)
        hist = np.concatenate([out[name][0] for name, _ in self.outputs]).transpose(1, 2, 0).astype(dtype, copy=False)
        return Canvas(hist, s, (slice(oy, oy + small.shape[0]), slice(ox, ox + small.shape[1])))

    def split_outputs(self, maps):
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
            yield slice(y0, y0 + n), self.split_outputs(upsample_predictions(canvas.hist, big_h, big_w, oy + y0, ox, n, w))

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

    # ---- decoding ------------------------------------------------------------------------------
    def _decode_lab(self, parts, lightness, mode):
        a, b = np.moveaxis(self._lab_ab(parts, mode), -1, 0)
        big_l = color.rgb_to_lab(np.repeat(lightness[..., None], 3, axis=-1))[..., 0]  # L of the gray itself
        rgb = color.lab_to_rgb(np.stack([big_l, a, b], axis=-1))
        return color.match_lightness(rgb, lightness)

    def _lab_ab(self, parts, mode):
        return _LAB_AB[self.space.decoding](parts, mode)

    def _hue_chroma(self, parts, modes):
        """(hue, chroma) per pixel from a hue/chroma net's histograms, by the (chroma, hue) modes."""
        ph, pc = parts
        chroma_mode, hue_mode = modes
        rng = np.random.default_rng(self.seed)  # "sample": an independent draw per pixel, reproducible
        pick = {"median": decode.median, "mode": decode.mode, "expectation": decode.expectation,
                "sample": lambda p: decode.sample(p, rng)}
        c = pick[chroma_mode](pc)
        if hue_mode in ("expectation-cf", "expectation"):
            hue, fade = decode.hue_expectation(ph, fading=hue_mode == "expectation-cf")
            c = c * fade
        else:
            hue = pick[hue_mode](ph)
        return hue, c

    def _decode(self, parts, lightness, modes=None):
        """RGB of histograms at the lightness's resolution (the released order: exact_upsample)."""
        modes = self.modes if modes is None else modes
        if not self.space.hue_chroma:
            return self._decode_lab(parts, lightness, modes)
        hue, c = self._hue_chroma(parts, modes)
        if self.clamp_chroma:
            c = np.minimum(c, color.max_chroma(hue, lightness))
        return color.match_lightness(color.hue_chroma_to_rgb(hue, c, lightness), lightness)

    def _decode_ab(self, parts, modes):
        """The decoded chroma as a Cartesian pair (..., 2), the form that is upsampled: (a, b) of Lab for
        a Lab net, C (cos 2 pi h, sin 2 pi h) for a hue/chroma net."""
        if not self.space.hue_chroma:
            return self._lab_ab(parts, modes).astype(np.float32)
        hue, c = self._hue_chroma(parts, modes)
        angle = 2 * np.pi * hue
        return np.stack([c * np.cos(angle), c * np.sin(angle)], axis=-1).astype(np.float32)

    def _ab_to_rgb(self, ab, lightness):
        """RGB (float32) from upsampled Cartesian chroma and the lightness, as _decode forms colour."""
        if not self.space.hue_chroma:
            a, b = ab[..., 0].astype(np.float64), ab[..., 1].astype(np.float64)
            big_l = color.rgb_to_lab(np.repeat(lightness[..., None], 3, axis=-1))[..., 0]
            rgb = color.lab_to_rgb(np.stack([big_l, a, b], axis=-1))
        else:
            c = np.hypot(ab[..., 0], ab[..., 1])
            hue = np.arctan2(ab[..., 1], ab[..., 0])
            hue /= np.float32(2 * np.pi)
            _wrap_unit(hue)  # hue % 1.0
            if self.clamp_chroma:  # at full resolution: the bound is the full-resolution lightness's
                c = np.minimum(c, color.max_chroma(hue, lightness))
            return _hue_chroma_rgb32(hue, c, lightness)
        return color.match_lightness(rgb, lightness).astype(np.float32)

    # ---- predict once, decode many times (decode at the network's resolution) -----------------
    def prepare(self, image, timings=None):
        """Run the net once: a Prediction holding the (calibrated) histograms at the network's
        resolution and the photo's lightness, for render() and uncertainty_map(). `timings`: as for
        colorize()."""
        return self.prepare_lightness(self._gray32(image), timings)

    def prepare_lightness(self, gray, timings=None):
        """prepare() of a photo whose lightness is `gray`, float32 (H, W) in [0, 1] as lightness()
        computes it (pycolorize.data.images.load_lightness reads it from a file without the photo's
        colour channels): the Prediction keeps that array itself, not a copy."""
        gray = np.asarray(gray)
        if gray.dtype != np.float32 or gray.ndim != 2:
            raise ValueError(f"the lightness is a float32 (H, W) array; got {gray.dtype} of shape {gray.shape}")
        return Prediction(gray, self._canvas(gray, timings, dtype=np.float32), self)

    def render(self, pred, bias=None, param=None, size=None):
        """RGB float32 (H, W, 3) in [0, 1] of a Prediction, at the photo's size or `size` = (H, W) (a
        preview: the lightness is area-averaged to it). `bias`: {"hue": b_h, "chroma": b_c} added to the
        log histograms before decoding (Eq. 5's posteriors softmax(log y + b)); each is a (K,) vector (a
        global bias) or (h, w, K) over pred.shape (a bias that varies over the photo, e.g. mask x
        vector), or absent. `param`: the decoding ('chroma:hue'; default the Colorizer's)."""
        return self._upsample_to(pred, self._decode_ab(*self._biased(pred, bias, param)), size, self._ab_to_rgb, 3)

    def render_bands(self, pred, bias=None, param=None, threads=1, band_rows=None):
        """render(pred, bias, param) at the photo's size, one band of rows at a time: (row slice,
        float32 RGB (rows, W, 3)) in order from the top, the same numbers as render()'s rows. For a
        photo too large to hold as float RGB: only a few bands' float32 exist at once (`threads`
        bands computed at once, and one more ready), of `band_rows` rows (default the Colorizer's;
        a band's numbers do not depend on its height)."""
        return self._upsample_bands(pred, self._decode_ab(*self._biased(pred, bias, param)), None, self._ab_to_rgb,
                                    threads, band_rows)

    def _biased(self, pred, bias, param):
        """(the histograms with `bias` applied, the decoding modes of `param`), for _decode_ab."""
        modes = self.modes if param is None else self._modes(param)
        parts = pred.parts
        if bias:
            self._need_hue_chroma("a bias")
            unknown = set(bias) - {"hue", "chroma"}
            if unknown:
                raise ValueError(f"bias keys are 'hue' and 'chroma', got {sorted(unknown)}")
            parts = [p if bias.get(key) is None else transfer.softmax_biased(log, bias[key])
                     for (_, key), p, log in zip(self.outputs, pred.parts, pred.logs)]
        return parts, modes

    def uncertainty_map(self, pred, size=None):
        """Normalised hue entropy x chroma (pycolorize.colorization.sampling.uncertainty) at the network's
        resolution, upsampled to the photo's size (or `size`); float32 in [0, 1]."""
        from pycolorize.colorization import sampling

        self._need_hue_chroma("the uncertainty map")
        u = sampling.uncertainty(*pred.parts).astype(np.float32)
        return self._upsample_to(pred, u[..., None], size, _first_channel, None)

    def uncertainty_bands(self, pred, threads=1, band_rows=None):
        """uncertainty_map(pred) at the photo's size in bands of rows, as render_bands()."""
        from pycolorize.colorization import sampling

        self._need_hue_chroma("the uncertainty map")
        u = sampling.uncertainty(*pred.parts).astype(np.float32)
        return self._upsample_bands(pred, u[..., None], None, _first_channel, threads, band_rows)

    def reference_bias(self, pred, reference, lam=10.0, max_pixels=20000):
        """{"hue", "chroma"}: Eq. 5's global biases towards a reference photo's colour histograms,
        solved on up to max_pixels of the photo's network-resolution pixels (the solve's cost grows
        with them: seconds for the default)."""
        self._need_hue_chroma("energy histogram transfer")
        inner = [p[pred.inner].reshape(-1, p.shape[-1]) for p in pred.parts]
        return dict(zip(("hue", "chroma"), self._solve_transfer(inner, reference, lam, max_pixels)))

    def _upsample_to(self, pred, values, size, finish, channels):
        """finish(values upsampled to the output, its lightness), assembled from _upsample_bands."""
        height, width = pred.gray.shape if size is None else size
        out = np.empty((height, width) + ((channels,) if channels else ()), np.float32)
        for rows, band in self._upsample_bands(pred, values, size, finish):
            out[rows] = band
        return out

    def _upsample_bands(self, pred, values, size, finish, threads=1, band_rows=None):
        """(row slice, finish(values upsampled to those rows of the output, their lightness)) for
        bands of band_rows rows, in order; `values` (h, w, C) over the window, bilinear with pixel
        centres aligned (the photo's edge pixels read the margin). An iterator (its arguments are
        checked now); `threads` > 1 computes that many bands at once (NumPy releases the GIL), each
        band the same numbers as alone; `band_rows`: default the Colorizer's."""
        step = self.band_rows if band_rows is None else max(1, int(band_rows))
        height, width = pred.gray.shape if size is None else size
        gray = pred.gray if size is None else pred.lightness_at(height, width)
        (h, w), (r, c) = pred.photo_shape_net, (pred.inner[0].start, pred.inner[1].start)
        ry = resample.axis_weights(h, height, offset=r, window=values.shape[0], outside="edge", dtype=np.float32)
        rx = resample.axis_weights(w, width, offset=c, window=values.shape[1], outside="edge", dtype=np.float32)

        def band(rows):
            return finish(_interpolate_columns(resample.interpolate(values, ry, 0, rows), rx), gray[rows])
        return _in_order(band, [slice(y0, min(y0 + step, height)) for y0 in range(0, height, step)], threads)

    # ---- the photo in, colour out -------------------------------------------------------------
    def prediction_for(self, image):
        """What samples() and uncertainty() decode, computed once for several of them: prepare()'s
        Prediction, or in the released order (exact_upsample) predict()'s histograms."""
        return self.predict(image) if self.exact_upsample else self.prepare(image)

    def samples(self, image, n=4, strength=2.0, seed=0, prediction=None):
        """n spatially coherent colorizations (pycolorize.colorization.sampling), each RGB in [0, 1].
        `prediction`, the image's prediction_for() if the caller has it, saves running the net again."""
        biases = self.sample_biases(n, strength, seed)
        prediction = self.prediction_for(image) if prediction is None else prediction
        if not self.exact_upsample:
            return [self.render(prediction, bias) for bias in biases]
        return [self.decode_histograms(prediction, image, b) for b in biases]

    def decode_histograms(self, hist, image, bias=None, param=None):
        """The released order's colours: predict()'s per-pixel histograms of `image` decoded at its
        resolution in float64, after a global bias {"hue": b_h, "chroma": b_c} (Eq. 5's posteriors
        softmax(log y + b)) if given, by the decoding `param` (default: the Colorizer's)."""
        parts = [hist[key] for _, key in self.outputs]
        if bias:
            self._need_hue_chroma("a bias")
            parts = [p if bias.get(key) is None else transfer.apply_bias(p, bias[key])
                     for (_, key), p in zip(self.outputs, parts)]
        return self._decode(parts, self._gray(image), None if param is None else self._modes(param))

    def sample_biases(self, n=4, strength=2.0, seed=0):
        """The n biases {"hue", "chroma"} that samples() decodes with (render(pred, bias) or
        render_bands(pred, bias) gives sample i of a Prediction)."""
        from pycolorize.colorization import sampling

        self._need_hue_chroma("samples")
        return [{"hue": b_h, "chroma": b_c}
                for b_h, b_c in sampling.sample_biases(n, strength, seed, self.bins["hue"], self.bins["chroma"])]

    def uncertainty(self, image, prediction=None):
        """Per-pixel uncertainty in [0, 1]: normalised hue entropy times chroma (pycolorize.colorization.sampling);
        `prediction` as for samples()."""
        from pycolorize.colorization import sampling

        self._need_hue_chroma("the uncertainty map")
        prediction = self.prediction_for(image) if prediction is None else prediction
        if not self.exact_upsample:
            return self.uncertainty_map(prediction)
        return sampling.uncertainty(prediction["hue"], prediction["chroma"])

    def _need_hue_chroma(self, what):
        if not self.space.hue_chroma:
            raise ValueError(f"{what} needs a hue/chroma net; this one predicts {self.variant}")

    def colorize(self, image, reference=None, transfer_mode="energy", lam=10.0, timings=None):
        """An RGB float image in [0, 1] of the input's size (float32; float64 with exact_upsample).
        With a `reference` image, its colour distribution is transferred (pycolorize.colorization.transfer):
        "energy" biases the predicted hue and chroma histograms (Eq. 5, solved on the canvas's pixels,
        applied everywhere), "quantile" matches the lightness-normalised RGB quantiles of the result.
        `timings`: a dict whose "network_s" gains the seconds of the network's forward pass (the
        device synchronised around it); the rest of the call is decoding and upsampling."""
        energy = self._check_transfer(reference, transfer_mode)
        if self.exact_upsample:
            gray = self._gray(image)
            out = self._colorize_exact(gray, reference if energy else None, lam, timings)
        else:
            pred = self.prepare(image, timings)
            gray = pred.gray
            out = self.render(pred, self.reference_bias(pred, reference, lam) if energy else None)
        if reference is not None and transfer_mode == "quantile":
            out = self._quantile(out, reference, gray)
        return out

    def colorize_bands(self, pred, reference=None, transfer_mode="energy", lam=10.0, threads=1, band_rows=None):
        """colorize() of the photo of a Prediction (prepare() or prepare_lightness()) in bands of
        rows, as render_bands(): (row slice, float32 RGB (rows, W, 3)), the same numbers as the rows
        of colorize(image, reference, transfer_mode, lam). Quantile transfer matches the whole
        result's quantiles, so with it the whole float32 image is made first (the bands are its rows)."""
        energy = self._check_transfer(reference, transfer_mode)
        if reference is None or energy:
            return self.render_bands(pred, self.reference_bias(pred, reference, lam) if energy else None,
                                     threads=threads, band_rows=band_rows)
        out = self._quantile(self.render(pred), reference, pred.gray)
        step = self.band_rows if band_rows is None else max(1, int(band_rows))
        return ((slice(y0, min(y0 + step, len(out))), out[y0:y0 + step]) for y0 in range(0, len(out), step))

    def _check_transfer(self, reference, transfer_mode):
        """Whether the transfer is the energy one (checked: a known mode, a net that can)."""
        if reference is not None and transfer_mode not in ("energy", "quantile"):
            raise ValueError(f"transfer must be 'energy' or 'quantile', got {transfer_mode!r}")
        energy = reference is not None and transfer_mode == "energy"
        if energy:
            self._need_hue_chroma("energy histogram transfer")
        return energy

    @staticmethod
    def _quantile(out, reference, gray):
        return color.match_lightness(transfer.quantile_transfer(out, to_rgb(np.asarray(reference))), gray).astype(out.dtype)

    def _colorize_exact(self, gray, reference, lam, timings=None):
        """The released order: histograms upsampled to the photo (in bands of rows), then decoded."""
        canvas = self._canvas(gray, timings)
        bias = None
        if reference is not None:
            bias = self._solve_transfer(self.split_outputs(canvas.hist[canvas.placed].reshape(-1, canvas.hist.shape[-1])),
                                        reference, lam)
        out = np.empty(gray.shape + (3,), np.float64)
        for rows, parts in self._bands(gray, canvas):
            if bias is not None:
                parts = [transfer.apply_bias(part, b) for part, b in zip(parts, bias)]
            out[rows] = self._decode(parts, gray[rows])
        return out

    def _solve_transfer(self, parts, reference, lam, max_pixels=20000):
        """The global (hue, chroma) biases of Eq. 5 towards the reference's histograms, solved on (up
        to max_pixels of) the network-resolution pixels the photo covers (`parts`: (N, K) per output)."""
        n = len(parts[0])
        if n > max_pixels:
            pick = np.random.default_rng(0).choice(n, max_pixels, replace=False)
            parts = [p[pick] for p in parts]
        targets = transfer.reference_histograms(to_rgb(np.asarray(reference)), self.bins["hue"], self.bins["chroma"])
        return [transfer.solve_bias(part, t, lam) for part, t in zip(parts, targets)]

    def _gray32(self, image):
        return lightness(image)

    @staticmethod
    def _gray(image):
        return _gray64(image)


def lightness(image, out=None):
    """The network's input of any image array (gray, gray + alpha, RGB, RGBA; 8 or 16 bit, or float
    in [0, 1]): L = mean(R, G, B) as float32 (H, W), converted in bands of rows (no full-size float64
    RGB copy); into `out` (float32 (H, W)) when given. An 8-bit photo takes a shortcut: the exact
    integer sum R + G + B divided by 765 in float32 (gray: L / 255), the same float32 as the float64
    mean of to_rgb's channels rounded (checked for all 2^24 RGB triples and all 256 gray levels),
    in 0.2 instead of 1 s for 24 megapixels."""
    a = np.asarray(image)
    out = np.empty(a.shape[:2], np.float32) if out is None else out
    step = max(1, (1 << 22) // max(1, a.shape[1] if a.ndim > 1 else 1))
    rgb8 = a.dtype == np.uint8 and a.ndim == 3 and a.shape[-1] in (3, 4)
    for y0 in range(0, a.shape[0], step):
        band = a[y0:y0 + step]
        if rgb8:
            total = band[..., 0].astype(np.uint16)
            total += band[..., 1]
            total += band[..., 2]
            np.divide(total, np.float32(765), out=out[y0:y0 + step], dtype=np.float32)
        elif a.dtype == np.uint8 and a.ndim == 2:
            np.divide(band, np.float32(255), out=out[y0:y0 + step], dtype=np.float32)
        else:
            out[y0:y0 + step] = _gray64(band)
    return out


def _gray64(image):
    """mean(R, G, B) of to_rgb(image), float64 (gray input: its one channel)."""
    a = np.asarray(image)
    if a.ndim == 2:
        return to_rgb(a)[..., 0]
    return color.gray(to_rgb(a))


def to_uint8(rgb, in_place=False):
    """8-bit pixels as the released tool saved them: truncation of rgb * 255 (after clipping to
    [0, 1]), in the input's float precision: `(np.clip(rgb, 0, 1) * 255).astype(np.uint8)`.
    `in_place`: the same numbers, with `rgb` (a float array) as the scratch space."""
    if not in_place:
        return (np.clip(rgb, 0, 1) * 255).astype(np.uint8)
    np.clip(rgb, 0, 1, out=rgb)
    rgb *= 255
    return rgb.astype(np.uint8)


def _in_order(fn, items, threads=1):
    """(item, fn(item)) for the items in order: computed one by one, or with `threads` > 1 by that
    many threads, never more than threads + 1 results held (so memory stays a few bands')."""
    if threads <= 1:
        return ((item, fn(item)) for item in items)

    def ahead():
        from collections import deque
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(threads) as pool:
            pending = deque()
            for item in items:
                pending.append((item, pool.submit(fn, item)))
                if len(pending) > threads:
                    first, done = pending.popleft()
                    yield first, done.result()
            while pending:
                first, done = pending.popleft()
                yield first, done.result()
    return ahead()


def _interpolate_columns(a, idx):
    """resample.interpolate(a, idx, 1) for a (rows, w, C): the same products and sum, in place
    (two temporaries of the result's size instead of four)."""
    i0, w0, i1, w1 = idx
    out = np.take(a, i0, axis=1)
    out *= w0[:, None]
    other = np.take(a, i1, axis=1)
    other *= w1[:, None]
    out += other
    return out


def _first_channel(values, _lightness):
    return values[..., 0]


def _resize_rows_read(gray, height, width):
    """resize_for_network(gray, height, width), bit for bit, reading only the rows of `gray` that
    the order-1 interpolation weighs, converted to float64 (not the whole photo: for 100 megapixels
    that copy alone would be 800 MB). The same weights multiply the same float64 values, in the
    same order: only the unread rows are left out."""
    i0, w0, i1, w1 = resample.axis_weights(gray.shape[0], height)
    rows, where = np.unique(np.concatenate([i0, i1]), return_inverse=True)
    used = np.asarray(gray[rows], dtype=np.float64)
    by_rows = resample.interpolate(used, (where[:len(i0)], w0, where[len(i0):], w1), 0)
    return resample.interpolate(by_rows, resample.axis_weights(gray.shape[1], width), 1)


class Prediction:
    """One photo's net output, kept for decoding many times (Colorizer.prepare): `parts`, the calibrated
    histograms [hue (h, w, K_h), chroma (h, w, K_c)] (or a Lab net's) at the network's resolution over
    `shape` = (h, w), the canvas window the photo covers plus a one-pixel margin; `logs`, their logs;
    `inner`, the (rows, cols) slices of the photo within the window; `gray`, the photo's lightness
    (H, W) float32. float32 throughout: about (K_h + K_c) x 4 bytes per network pixel, twice that
    once a bias was applied (`logs`)."""

    def __init__(self, gray, canvas, colorizer):
        rows, cols = canvas.placed
        s = colorizer.size
        r0, r1, c0, c1 = max(rows.start - 1, 0), min(rows.stop + 1, s), max(cols.start - 1, 0), min(cols.stop + 1, s)
        maps = canvas.hist[r0:r1, c0:c1].astype(np.float32)
        self.parts = [np.ascontiguousarray(p, dtype=np.float32) for p in colorizer.split_outputs(maps)]
        self._logs = None
        self.inner = (slice(rows.start - r0, rows.stop - r0), slice(cols.start - c0, cols.stop - c0))
        self.shape = (r1 - r0, c1 - c0)
        self.photo_shape_net = (rows.stop - rows.start, cols.stop - cols.start)
        self.scale = canvas.scale
        self.gray = gray
        self._previews = {}

    @property
    def logs(self):
        """The parts' logs (what a bias is added to), made when first asked for and kept."""
        if self._logs is None:
            self._logs = [np.log(np.maximum(p, np.float32(1e-12))) for p in self.parts]
        return self._logs

    def grid(self):
        """(y, x): the photo's pixel coordinates (of its full resolution, pixel centres at +0.5) of
        every window pixel's centre, each (h, w) float32; for masks drawn in photo coordinates."""
        (h, w), (height, width) = self.photo_shape_net, self.gray.shape
        y = (np.arange(self.shape[0]) - self.inner[0].start + 0.5) * (height / h)
        x = (np.arange(self.shape[1]) - self.inner[1].start + 0.5) * (width / w)
        return np.broadcast_arrays(y.astype(np.float32)[:, None], x.astype(np.float32)[None, :])

    def lightness_at(self, height, width):
        """The lightness area-averaged to height x width (cached; Pillow's box filter)."""
        if (height, width) == self.gray.shape:
            return self.gray
        key = (height, width)
        if key not in self._previews:
            from PIL import Image

            small = Image.fromarray(self.gray, mode="F").resize((width, height), Image.Resampling.BOX)
            self._previews[key] = np.asarray(small, dtype=np.float32)
        return self._previews[key]


def _hue_chroma_rgb32(hue, chroma, lightness):
    """color.match_lightness(color.hue_chroma_to_rgb(hue, chroma, L), L) (the released colour
    formation, which is the reference and tested against this) fused in float32 for the per-pixel
    path: HSV to RGB in its branchless form f(n) = V - V S clip(min(k, 4 - k), 0, 1), k = (n + 6 H)
    mod 6, with n = 5, 3, 1 for R, G, B. In place where it can be (a band's temporaries are a few
    float32 planes): the same operations on the same operands as the plain expressions beside them."""
    hue, chroma, lightness = (np.asarray(x, np.float32) for x in (hue, chroma, lightness))
    v = np.divide(chroma, 2, dtype=np.float32)
    v += lightness  # lightness + chroma / 2
    denom = np.multiply(lightness, 2, dtype=np.float32)
    denom += chroma  # 2 * lightness + chroma
    positive = denom > 0
    s = np.multiply(chroma, 2, dtype=np.float32)
    np.divide(s, denom, out=s, where=positive)  # 2 chroma / denom where denom > 0, else 0
    s[~positive] = 0
    del denom, positive
    np.clip(s, 0, 1, out=s)
    np.clip(v, 0, 1, out=v)
    vs = s
    vs *= v  # v * s
    h6 = np.clip(hue, 0, 1)
    h6 *= 6
    out = np.empty(hue.shape + (3,), np.float32)
    k, t = np.empty_like(h6), np.empty_like(h6)
    for j, n in enumerate((5, 3, 1)):
        np.add(h6, n, out=k)
        np.subtract(k, 6, out=k, where=k >= 6)  # mod 6 (k < 12); np.mod is several times slower
        np.subtract(4, k, out=t)
        np.minimum(k, t, out=k)
        np.clip(k, 0, 1, out=k)
        k *= vs
        np.subtract(v, k, out=out[..., j])
    del h6, k, vs, v
    shift = np.add(out[..., 0], out[..., 1], out=t)
    shift += out[..., 2]
    shift /= 3
    np.subtract(lightness, shift, out=shift)  # lightness - (R + G + B) / 3
    out += shift[..., None]
    return np.clip(out, 0, 1, out=out)


def _wrap_unit(x):
    """x % 1.0 in place for float32 x in [-1, 1) (hue angles / 2 pi), several times faster than
    np.remainder: x + 1 where x < 0, and -0 made +0. The same bits as x % 1.0 for every float32 in
    [-1, 1) (checked exhaustively; at 1 itself the remainder is 0, which an angle never reaches)."""
    np.add(x, np.float32(1), out=x, where=x < 0)
    x += np.float32(0)
    return x

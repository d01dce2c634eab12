"""One photo on the page: its decoded upload, its Prediction (the net's histograms at the network's
resolution), and the decoding of an edit state into an image. No web code here.

An edit state is a JSON object (the page sends the whole state with every edit, so undo and redo
are the page's own; every field is optional and checked here):

    {"hue": 0..1, "hue_strength": 0..HUE_STRENGTH_MAX,   # global pull towards a hue (Eq. 5's b_h)
     "chroma": -CHROMA_MAX..CHROMA_MAX,                   # global chroma bias (b_c)
     "param": "median:expectation-cf",                     # the decoding (chroma:hue)
     "sample": 0..,                                        # 0: none; n: the n-th coherent sample
     "reference": false,                                   # add the uploaded reference's bias
     "strokes": [{"points": [[x, y], ...],                 # in [0, 1] of the photo's width, height
                  "radius": 0..0.5,                        # of the photo's longer side
                  "color": "#rrggbb", "strength": 0..STROKE_STRENGTH_MAX}, ...]}

A stroke's mask is 1 within `radius` of its polyline and falls linearly to 0 at 1.5 radius (soft);
a later stroke replaces earlier ones where it covers them (their masks are multiplied by 1 - its
mask), so painting over a region changes its colour rather than mixing two pulls.
"""
import io
import secrets
import threading
import time
from collections import OrderedDict

import numpy as np

from pycolorize.colorization import color, sampling
from pycolorize.colorization.colorizer import parse_param
from pycolorize.data.images import TooManyPixels, UndecodableImage, decode_image

HUE_STRENGTH_MAX, CHROMA_MAX, STROKE_STRENGTH_MAX = 20.0, 20.0, 50.0
SAMPLE_STRENGTH = 2.0  # the strength of `pycolorize colorize --samples`
MAX_STROKES, MAX_POINTS = 200, 5000
MASK_CACHE_BYTES = 128 << 20  # a session's cached stroke masks (about 1 MB each for a 512 x 512 photo)
PREVIEW_SIDE = 1024  # the page shows the photo at most this long; the download is full size


class BadRequest(ValueError):
    """A request the page cannot be served for, with the message the page shows (HTTP `status`)."""

    def __init__(self, message, status=400):
        super().__init__(message)
        self.status = status


def decode_upload(data, max_pixels):
    """Image bytes -> (H, W) or (H, W, 3|4) uint8/float array, EXIF orientation applied; a BadRequest
    for bytes that are no image, a corrupt one, or one over max_pixels (refused before decoding)."""
    try:
        a = decode_image(io.BytesIO(data), max_pixels=max_pixels, exif_transpose=True)
    except TooManyPixels as e:
        raise BadRequest(f"the photo has {e.width} x {e.height} pixels, more than this server's limit of "
                         f"{max_pixels / 1e6:.0f} megapixels", 413) from None
    except UndecodableImage as e:
        if e.unidentified:
            raise BadRequest("not an image (or not a format Pillow reads: PNG, JPEG, TIFF, WebP, BMP, GIF, ...)", 415) from None
        raise BadRequest(f"a broken or truncated image ({' '.join(str(e).split())[:200]})", 415) from None
    if min(a.shape[:2]) < 2:
        raise BadRequest(f"the photo is {a.shape[1]} x {a.shape[0]} pixels; it needs at least 2 x 2", 415)
    return a


def _number(state, key, lo, hi, default):
    v = state.get(key, default)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v):
        raise BadRequest(f"edit field {key!r} must be a number, got {v!r}"[:200])
    return float(min(max(v, lo), hi))


def parse_color(text):
    """'#rrggbb' -> (hue, chroma) of rgb_to_hcv, both in [0, 1]."""
    if not (isinstance(text, str) and len(text) == 7 and text[0] == "#"):
        raise BadRequest(f"a stroke's colour must be '#rrggbb', got {text!r}"[:200])
    try:
        rgb = np.array([int(text[i:i + 2], 16) for i in (1, 3, 5)], np.float64) / 255
    except ValueError:
        raise BadRequest(f"a stroke's colour must be '#rrggbb', got {text!r}") from None
    h, c, _ = color.rgb_to_hcv(rgb)
    return float(h), float(c)


def parse_state(state):
    """A checked, normalised copy of an edit state (see the module doc); a BadRequest naming the field."""
    if not isinstance(state, dict):
        raise BadRequest("the edit state must be a JSON object")
    out = {"hue": _number(state, "hue", 0.0, 1.0, 0.0),
           "hue_strength": _number(state, "hue_strength", 0.0, HUE_STRENGTH_MAX, 0.0),
           "chroma": _number(state, "chroma", -CHROMA_MAX, CHROMA_MAX, 0.0),
           "sample": int(_number(state, "sample", 0, 1e6, 0)),
           "reference": bool(state.get("reference", False))}
    param = state.get("param", "median:expectation-cf")
    try:
        out["param"] = ":".join(parse_param(param if isinstance(param, str) else repr(param)))
    except ValueError as e:
        raise BadRequest(str(e).replace("--param", "the decoding")) from None
    strokes = state.get("strokes", [])
    if not isinstance(strokes, list) or len(strokes) > MAX_STROKES:
        raise BadRequest(f"'strokes' must be a list of at most {MAX_STROKES} strokes")
    out["strokes"] = []
    for s in strokes:
        if not isinstance(s, dict):
            raise BadRequest("each stroke must be a JSON object")
        pts = s.get("points")
        try:
            pts = np.asarray(pts, dtype=np.float64)
        except (TypeError, ValueError):
            raise BadRequest("a stroke's points must be [[x, y], ...] numbers") from None
        if pts.ndim != 2 or pts.shape[1] != 2 or not 1 <= len(pts) <= MAX_POINTS or not np.isfinite(pts).all():
            raise BadRequest(f"a stroke's points must be 1 to {MAX_POINTS} pairs [x, y] of finite numbers")
        out["strokes"].append({"points": np.clip(pts, -0.5, 1.5).round(5).tolist(),
                               "radius": _number(s, "radius", 0.001, 0.5, 0.03),
                               "color": s.get("color", "#ff0000"),
                               "strength": _number(s, "strength", 0.0, STROKE_STRENGTH_MAX, 8.0)})
        parse_color(out["strokes"][-1]["color"])
    return out


def stroke_mask(y, x, points, radius):
    """The soft mask over a grid of photo pixel coordinates (y, x: (h, w), y constant along rows and x
    along columns, both increasing, as Prediction.grid gives) of a polyline of `points` (photo pixels,
    (n, 2) as x, y): 1 within radius, 0 beyond 1.5 radius, linear between. Each segment only visits
    the grid's block within 1.5 radius of it."""
    ys, xs = np.asarray(y, np.float32)[:, 0], np.asarray(x, np.float32)[0]
    reach = 1.5 * radius
    d2 = np.full(np.shape(y), np.inf, np.float32)
    p = np.asarray(points, np.float32)
    segments = zip(p, p[1:]) if len(p) > 1 else [(p[0], p[0])]
    for (ax, ay), (bx, by) in segments:
        r0, r1 = np.searchsorted(ys, min(ay, by) - reach), np.searchsorted(ys, max(ay, by) + reach, "right")
        c0, c1 = np.searchsorted(xs, min(ax, bx) - reach), np.searchsorted(xs, max(ax, bx) + reach, "right")
        if r0 >= r1 or c0 >= c1:
            continue
        yb, xb = ys[r0:r1, None], xs[None, c0:c1]
        dx, dy = bx - ax, by - ay
        t = np.clip(((xb - ax) * dx + (yb - ay) * dy) / max(dx * dx + dy * dy, 1e-12), 0, 1)
        block = d2[r0:r1, c0:c1]
        np.minimum(block, (xb - ax - t * dx) ** 2 + (yb - ay - t * dy) ** 2, out=block)
    return np.clip((reach - np.sqrt(d2)) / (0.5 * radius), 0, 1)


class Session:
    """A photo on the page: `pred` (Colorizer.prepare), the preview size, the reference's bias and
    cached masks. Renders may run in parallel; the net runs under the app's lock."""

    def __init__(self, colorizer, image):
        self.colorizer = colorizer
        self.pred = colorizer.prepare(image)
        self.height, self.width = self.pred.gray.shape
        f = min(1.0, PREVIEW_SIDE / max(self.height, self.width))
        self.preview = (max(1, round(self.height * f)), max(1, round(self.width * f)))
        self.reference = None  # {"hue", "chroma"} biases of Eq. 5 once a reference is uploaded
        self.touched = time.monotonic()
        self._masks = OrderedDict()  # stroke -> its mask over pred.grid(), least recently used first
        self._lock = threading.Lock()

    def biases(self, state):
        """The state's Eq. 5 biases {"hue": (K_h,) or (h, w, K_h), "chroma": ...}, float32."""
        k_h, k_c = self.colorizer.bins["hue"], self.colorizer.bins["chroma"]
        b_h = sampling.hue_rotation_bias(state["hue"], state["hue_strength"], k_h)
        b_c = sampling.chroma_bias(state["chroma"], k_c)
        if state["sample"]:
            s_h, s_c = sampling.sample_biases(1, SAMPLE_STRENGTH, state["sample"], k_h, k_c)[0]
            b_h, b_c = b_h + s_h, b_c + s_c
        if state["reference"] and self.reference is not None:
            b_h, b_c = b_h + self.reference["hue"], b_c + self.reference["chroma"]
        b_h, b_c = b_h.astype(np.float32), b_c.astype(np.float32)
        keep = None  # where no later stroke covers: a later stroke replaces an earlier one where it covers it
        for s in reversed(state["strokes"]):
            mask = self._mask(s)
            m = mask if keep is None else mask * keep
            keep = (1 - mask) if keep is None else keep * (1 - mask)
            hue, chroma = parse_color(s["color"])
            t_h, t_c = sampling.toward_bias(hue, chroma, s["strength"], k_h, k_c)
            b_h = b_h + m[..., None] * t_h.astype(np.float32)
            b_c = b_c + m[..., None] * t_c.astype(np.float32)
        return {"hue": b_h, "chroma": b_c}

    def _mask(self, stroke):
        key = repr((stroke["points"], stroke["radius"]))
        with self._lock:
            if key in self._masks:
                self._masks.move_to_end(key)
                return self._masks[key]
        y, x = self.pred.grid()
        pts = np.asarray(stroke["points"]) * [self.width, self.height]
        m = stroke_mask(y, x, pts, stroke["radius"] * max(self.height, self.width)).astype(np.float32)
        with self._lock:
            self._masks[key] = m
            while sum(v.nbytes for v in self._masks.values()) > MASK_CACHE_BYTES and len(self._masks) > 1:
                self._masks.popitem(last=False)  # the least recently used
        return m

    def render(self, state, full=False):
        """RGB float32 of a parsed state, at the preview size (or the photo's, `full`)."""
        self.touched = time.monotonic()
        return self.colorizer.render(self.pred, self.biases(state), state["param"], None if full else self.preview)

    def gray(self):
        return self.pred.lightness_at(*self.preview)

    def uncertainty(self):
        """The uncertainty map at the preview size, scaled to its maximum (at least 0.05)."""
        u = self.colorizer.uncertainty_map(self.pred, self.preview)
        return u / max(float(u.max()), 0.05)


def new_id():
    return secrets.token_urlsafe(18)

"""Training data: image sources, the paper's sampling, per-sample targets, background prefetch.

    source = pycolorize.data.open_source({"type": "folder", "path": "photos/"})
    loader = pycolorize.data.Loader(source, batch=8, crop=256, variant="hue_chroma", seed=0)
    for batch in loader:        # dicts of arrays named like the training net's Input blobs
        ...
    loader.close()

Per image (fact sheet 2.1): resize so the short side is at most `short_side` (256, never
upscaling), take a random crop x crop window and mirror it with probability 1/2, draw `samples`
integer pixel locations uniformly inside a `margin`, and compute at those pixels the targets of the
chosen output space (pycolorize.models): one-hot hue and chroma bins and the chroma (the hue
loss weight), one-hot Lab bins, or (a, b) / 100. The input is gray = mean(R, G, B) in [0, 1],
minus `mean_shift` (0 for the released model).

Every random choice comes from a generator seeded by (seed, epoch, position), so the stream is
the same whatever the number of worker threads, and `state()` / `restore()` resume it exactly.
An image that cannot be read, or is smaller than the crop, is reported once (with its path) on
stderr and skipped.
"""
import collections
import concurrent.futures
import os
import queue
import struct
import sys
import threading

import numpy as np
from PIL import Image

from . import color
from ._core import Error

EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


# ---- reading images ------------------------------------------------------------------------

def to_rgb(array):
    """Any image array to float64 RGB in [0, 1]: gray is repeated, alpha dropped, integer types
    (8- or 16-bit) scaled by their maximum."""
    a = np.asarray(array)
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.shape[-1] not in (1, 2, 3, 4):
        raise ValueError(f"not an image: array of shape {a.shape}")
    # One float64 copy of the colour channels, then scaled and clipped in place: a photo of N
    # pixels peaks at about 27 N bytes here, not three float64 copies of it.
    top = np.iinfo(a.dtype).max if np.issubdtype(a.dtype, np.integer) else 1
    if a.shape[-1] in (1, 2):  # gray, gray + alpha
        out = np.repeat(a[..., :1].astype(np.float64), 3, axis=-1)
    else:
        out = a[..., :3].astype(np.float64)
    if top != 1:
        out /= top
    return np.clip(out, 0.0, 1.0, out=out)


# What Pillow raises for a file it cannot decode: OSError (unidentified or truncated), SyntaxError and
# ValueError (broken headers), and from deeper in its format plugins EOFError, struct.error,
# IndexError, KeyError, TypeError, ZeroDivisionError; DecompressionBombError for absurd sizes.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, KeyError, TypeError,
                  ZeroDivisionError, Image.DecompressionBombError)


def load_image(path):
    """Read an image file as float64 RGB in [0, 1] (Pillow; 16-bit files keep their precision).
    A file that cannot be opened raises OSError (FileNotFoundError, ...); one that is not a decodable
    image, or has more than PIL.Image.MAX_IMAGE_PIXELS pixels, raises pycolorize.Error naming it."""
    with open(path, "rb") as f:
        try:
            with Image.open(f) as im:
                # Refused before decoding: the float64 RGB of a bigger image takes gigabytes.
                if im.width * im.height > (Image.MAX_IMAGE_PIXELS or float("inf")):
                    raise Error(f"{path}: {im.width} x {im.height} pixels, more than PIL.Image.MAX_IMAGE_PIXELS "
                                f"({Image.MAX_IMAGE_PIXELS})")
                im.load()
                if im.mode.startswith("I"):  # 16-bit gray (Pillow opens 16-bit PNGs as I or I;16)
                    return to_rgb(np.clip(np.asarray(im).astype(np.float64) / 65535.0, 0, 1))
                if im.mode not in ("RGB", "RGBA", "L", "LA"):
                    im = im.convert("RGBA" if "A" in im.mode else "RGB")
                return to_rgb(np.asarray(im))
        except Error:
            raise
        except _DECODE_ERRORS as e:
            raise Error(f"{path}: not a readable image ({type(e).__name__}: {e})") from None


def resize(rgb, height, width):
    """Bilinear resize of a float RGB image (per channel, Pillow 'F' mode)."""
    if rgb.shape[:2] == (height, width):
        return rgb
    chans = [np.asarray(Image.fromarray(rgb[..., c].astype(np.float32), mode="F").resize((width, height), Image.BILINEAR))
             for c in range(rgb.shape[-1])]
    return np.stack(chans, axis=-1).astype(np.float64)


# ---- sources -------------------------------------------------------------------------------

class Source:
    """A list of images: `len(source)`, `source.name(i)` (a path, for messages) and `source.read(i)`."""

    def __init__(self, names, reader):
        self.names, self._reader = list(names), reader

    def __len__(self):
        return len(self.names)

    def name(self, i):
        return self.names[i]

    def read(self, i):
        return self._reader(i)


def list_source(list_file, root=None):
    """Caffe's image-list format: one `path [label]` per line (labels ignored; blank lines and
    '#' comments skipped). With `root`, each path is appended to it (as Caffe's root_folder, so
    '/n01440764/x.JPEG' lists work); without, relative paths are taken from the list's folder."""
    base = os.path.dirname(os.path.abspath(list_file))
    paths = []
    # surrogateescape turns each byte that is not UTF-8 into U+DC80..U+DCFF, reported with its line below
    with open(list_file, encoding="utf-8", errors="surrogateescape") as f:
        for n, line in enumerate(f, 1):
            bad = next((ch for ch in line if "\udc80" <= ch <= "\udcff" or ch == "\0"), None)
            if bad is not None:
                byte = 0 if bad == "\0" else ord(bad) - 0xDC00
                raise ValueError(f"{list_file}:{n}: byte 0x{byte:02X} in a path (the list must be UTF-8 text)")
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split()
            if len(parts) > 2 or (len(parts) == 2 and not parts[1].lstrip("-").isdigit()):
                raise ValueError(f"{list_file}:{n}: expected 'path [label]', got {line!r}")
            paths.append(os.path.join(root, parts[0].lstrip("/")) if root else os.path.join(base, parts[0]))
    if not paths:
        raise ValueError(f"{list_file}: no images listed")
    return Source(paths, lambda i: load_image(paths[i]))


def folder_source(folder, extensions=EXTENSIONS):
    """Every image file under `folder` (recursively), in sorted order."""
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{folder}: no such folder")
    paths = sorted(os.path.join(d, f) for d, _, files in os.walk(folder) for f in files
                   if f.lower().endswith(tuple(extensions)))
    if not paths:
        raise ValueError(f"{folder}: no image files ({', '.join(extensions)})")
    return Source(paths, lambda i: load_image(paths[i]))


def hdf5_source(path, dataset="images"):
    """Images in an HDF5 file: one dataset (N, H, W[, C]) of equal-sized images, or a group whose
    datasets are one image each. Read with h5py (one reader at a time)."""
    import h5py

    f = h5py.File(path, "r")
    if dataset not in f:
        raise ValueError(f"{path}: no '{dataset}' in the file (has: {', '.join(list(f)[:10])})")
    node = f[dataset]
    lock = threading.Lock()
    if isinstance(node, h5py.Dataset):
        if node.ndim not in (3, 4):
            raise ValueError(f"{path}:/{dataset}: expected (N, H, W[, C]) images, got shape {node.shape}")
        names = [f"{path}:/{dataset}[{i}]" for i in range(node.shape[0])]

        def read(i):
            with lock:
                return to_rgb(node[i])
    else:
        keys = sorted(node)
        names = [f"{path}:/{dataset}/{k}" for k in keys]

        def read(i):
            with lock:
                return to_rgb(node[keys[i]][()])
    src = Source(names, read)
    src.file = f
    return src


def open_source(spec):
    """A source from a config dict: {"type": "list", "path": list_file, "root": folder},
    {"type": "folder", "path": folder} or {"type": "hdf5", "path": file, "dataset": "images"}."""
    # The dict comes from a YAML file: wrong kinds of value are errors saying which, not AttributeError.
    if not isinstance(spec, dict):
        raise ValueError(f"data config: 'source' must be a mapping such as {{type: folder, path: ...}}, got {spec!r:.80}")
    for key in ("type", "path", "root", "dataset"):
        if key in spec and not isinstance(spec[key], str):
            raise ValueError(f"data config: source '{key}' must be a string, got {spec[key]!r:.80}")
    kind = spec.get("type", "folder")
    if kind in ("list", "folder", "hdf5") and "path" not in spec:
        raise ValueError(f"data config: the {kind} source needs a 'path'")
    if kind == "list":
        return list_source(spec["path"], spec.get("root"))
    if kind == "folder":
        return folder_source(spec["path"])
    if kind == "hdf5":
        return hdf5_source(spec["path"], spec.get("dataset", "images"))
    raise ValueError(f"unknown source type {kind!r}; use list, folder or hdf5")


# ---- one training example ------------------------------------------------------------------

def targets(rgb_samples, variant):
    """The per-sample targets of an output space from (P, 3) RGB values."""
    if variant == "hue_chroma":
        h, c, _ = color.rgb_to_hcv(rgb_samples)
        return {"hist_h": color.one_hot(color.uniform_bin(h, 32), 32),
                "hist_c": color.one_hot(color.uniform_bin(c, 32), 32), "chroma": c.astype(np.float32)}
    lab = color.rgb_to_lab(rgb_samples)
    if variant == "lab_k32":
        return {"hist_a": color.one_hot(color.lab_bin(lab[:, 1], 32), 32),
                "hist_b": color.one_hot(color.lab_bin(lab[:, 2], 32), 32)}
    if variant == "lab_16x16":
        return {"hist_ab": color.one_hot(color.lab_joint_bin(lab[:, 1], lab[:, 2], 16), 256)}
    if variant == "lab_l2":
        return {"ab": (lab[:, 1:] / 100.0).astype(np.float32)}
    raise ValueError(f"unknown variant {variant!r}")


class TooSmall(ValueError):
    pass


def lightness_weight(gray):
    """The from-scratch trainer's per-sample chroma-loss weight (fact sheet 2.2, item 9): min(3L, 1,
    3(1 - L)) of the gray L in [0, 1], the largest chroma possible at that lightness (so very dark and
    very light samples, which can hardly be colourful, count less). Not in the paper's Eq. 3."""
    return np.minimum(np.minimum(3.0 * gray, 1.0), 3.0 * (1.0 - gray)).astype(np.float32)


def make_example(rgb, rng, crop=256, short_side=256, mirror=True, samples=128, margin=16, mean_shift=0.0,
                 variant="hue_chroma", chroma_weight=False):
    """One image's input, sample locations and targets (and with chroma_weight, the
    lightness_weight of each sample, for scratch_net's chroma loss)."""
    h, w = rgb.shape[:2]
    scale = min(1.0, short_side / min(h, w))
    if scale < 1.0:
        h, w = max(1, int(round(h * scale))), max(1, int(round(w * scale)))
        rgb = resize(rgb, h, w)
    if min(h, w) < crop:
        raise TooSmall(f"{rgb.shape[1]}x{rgb.shape[0]} after resizing, smaller than the {crop}x{crop} crop")
    y0, x0 = rng.integers(0, h - crop + 1), rng.integers(0, w - crop + 1)
    window = rgb[y0:y0 + crop, x0:x0 + crop]
    if mirror and rng.random() < 0.5:
        window = window[:, ::-1]
    pts = rng.integers(margin, crop - margin, size=(samples, 2))
    gray = color.gray(window)
    ex = {"data": (gray - mean_shift).astype(np.float32)[None], "centroids": pts.astype(np.float32)}
    ex.update(targets(window[pts[:, 0], pts[:, 1]], variant))
    if chroma_weight:
        ex["chroma_weight"] = lightness_weight(gray[pts[:, 0], pts[:, 1]])
    return ex


# ---- the loader ----------------------------------------------------------------------------

class Loader:
    """Batches of examples from a source, prepared ahead by worker threads (Pillow decoding and
    NumPy release the GIL). Iterate it; each batch is a dict named like the net's Input blobs
    (data (B, 1, crop, crop), centroids (B, P, 2), targets (B*P, ...))."""

    def __init__(self, source, batch=8, seed=0, workers=4, prefetch=4, log=sys.stderr, **example_args):
        if example_args.get("crop", 256) <= 2 * example_args.get("margin", 16):
            raise ValueError("the crop must be larger than twice the margin")
        self.source, self.batch, self.seed = source, int(batch), int(seed)
        self.workers, self.prefetch, self.log = max(1, int(workers)), max(1, int(prefetch)), log
        self.args = example_args
        self.skipped = {}
        self._position = (0, 0)  # (epoch, index in that epoch's order) of the next example
        self._thread = None
        self._stop = threading.Event()

    # -- state: the position of the next batch
    def state(self):
        return {"epoch": self._position[0], "index": self._position[1], "seed": self.seed}

    def restore(self, state):
        if self._thread is not None:
            raise RuntimeError("restore() before iterating")
        self.seed = int(state.get("seed", self.seed))
        self._position = (int(state["epoch"]), int(state["index"]))

    def _order(self, epoch):
        return np.random.default_rng([self.seed, epoch]).permutation(len(self.source))

    def _example(self, epoch, pos, index):
        rng = np.random.default_rng([self.seed, epoch, pos])
        try:
            return make_example(self.source.read(index), rng, **self.args)
        except (OSError, ValueError, SyntaxError) as e:  # unreadable, corrupt, too small, not an image
            return e

    def _examples(self, pool):
        epoch, pos = self._position
        ahead = collections.deque()
        while not self._stop.is_set():
            order = self._order(epoch)
            good, whole_epoch = 0, pos == 0
            while pos < len(order) or ahead:
                while pos < len(order) and len(ahead) < 2 * self.workers + self.batch:
                    ahead.append((epoch, pos, order[pos], pool.submit(self._example, epoch, pos, order[pos])))
                    pos += 1
                e, p, index, fut = ahead.popleft()
                ex = fut.result()
                if isinstance(ex, Exception):
                    name = self.source.name(index)
                    if name not in self.skipped:
                        self.skipped[name] = str(ex)
                        print(f"pycolorize.data: skipping {name}: {ex}", file=self.log, flush=True)
                    continue
                good += 1
                yield (e, p + 1), ex
            if good == 0 and whole_epoch and not self._stop.is_set():
                raise RuntimeError(f"no usable image in the source ({len(self.source)} tried, all skipped)")
            epoch, pos = epoch + 1, 0

    def _run(self, out):
        try:
            with concurrent.futures.ThreadPoolExecutor(self.workers) as pool:
                buf = []
                for position, ex in self._examples(pool):
                    buf.append(ex)
                    if len(buf) == self.batch:
                        batch = {k: np.stack([b[k] for b in buf]) for k in buf[0]}
                        for k in batch:  # per-sample targets are (B*P, ...) rows, as the net wants
                            if k not in ("data", "centroids"):
                                batch[k] = batch[k].reshape((-1,) + batch[k].shape[2:])
                        while not self._stop.is_set():
                            try:
                                out.put((position, batch), timeout=0.1)
                                break
                            except queue.Full:
                                pass
                        buf = []
                        if self._stop.is_set():
                            return
        except BaseException as e:  # hand the error to the consumer
            out.put((None, e))

    def __iter__(self):
        if self._thread is None:
            self._queue = queue.Queue(maxsize=self.prefetch)
            self._thread = threading.Thread(target=self._run, args=(self._queue,), daemon=True)
            self._thread.start()
        return self

    def __next__(self):
        if self._thread is None:
            iter(self)
        position, batch = self._queue.get()
        if position is None:
            raise batch
        self._position = position
        return batch

    def close(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

"""Images: which files are images, how one is read, how a folder or a list file names a set of them,
the sources training reads, and the two resamplers. Training (pycolorize.data), evaluation
(pycolorize.evaluation) and `pycolorize colorize` all find and read images here, so the same folder
or list gives each of them the same images in the same order.

    paths = pycolorize.images.find_images("photos/")          # the folder rule below
    entries = pycolorize.images.read_list("ctest10k.txt", root="/data/val256")   # the list rule
    rgb = pycolorize.images.load_image(paths[0])              # float64 RGB in [0, 1]

The folder rule: every file under the folder, recursively, whose name ends in one of EXTENSIONS
(in any case), except hidden ones: a file or folder whose name starts with '.' is skipped (macOS's
'._photo.jpg' resource forks end in .jpg but are no images). Symbolic links to folders are not
followed. The order is that of the paths relative to the folder, compared as strings.

The list rule (Caffe's image list, read as Caffe's ImageData layer reads it since it allowed spaces
in names, with the label optional):
  - one image per line; whitespace around a line is ignored; blank lines and lines whose first
    character (after that whitespace) is '#' are skipped;
  - if the line's last whitespace-separated word is an integer and something comes before it, that
    word is a label (not used) and the path is the text before it; otherwise the whole line is the
    path. So a path may contain spaces: "my photo.jpg" and "my photo.jpg 3" both name my photo.jpg
    (a path that itself ends in a space and a number, "scan 2", needs a label after it);
  - with a root folder, the path, without a leading '/', is appended to the root (Caffe's
    root_folder: the authors' cval1k / ctest10k lists hold '/n01440764/x.JPEG' lines). Without one,
    a relative path is relative to the list file's folder and an absolute path is kept;
  - the list is UTF-8 text: an undecodable byte or a NUL is an error naming the line, and so is a
    list with no image in it. Listed files are not looked at while the list is read (ctest10k has
    10,000); one that is missing is reported when it is read, with the list line that named it.
"""
import os
import re
import struct
import threading
from typing import NamedTuple

import numpy as np
from PIL import Image

from ._core import Error

EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


# ---- reading one image ---------------------------------------------------------------------

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


# ---- folders and lists (the rules in the module doc) ---------------------------------------

def _hidden(name):
    return name.startswith(".")


def find_images(folder, extensions=EXTENSIONS):
    """The image files under `folder` by the folder rule (module doc), as paths that start with
    `folder` (os.path.relpath(p, folder) is the name inside it). FileNotFoundError if there is no
    such folder, ValueError if it holds no image."""
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{folder}: no such folder")
    suffixes = tuple(e.lower() for e in extensions)
    found = []
    for d, dirs, files in os.walk(folder):
        dirs[:] = [x for x in dirs if not _hidden(x)]  # pruned in place: os.walk does not enter them
        found += [os.path.join(d, f) for f in files if not _hidden(f) and f.lower().endswith(suffixes)]
    if not found:
        raise ValueError(f"{folder}: no image files ({', '.join(extensions)}; hidden files are skipped)")
    return sorted(found, key=lambda p: os.path.relpath(p, folder))


class ListEntry(NamedTuple):
    """One image of a list file: its `line` number, the path as `listed`, and the `path` to read."""
    line: int
    listed: str
    path: str


def _split_label(line):
    """The path of a non-blank, non-comment list line: the line without a trailing integer label."""
    words = line.rsplit(None, 1)
    if len(words) == 2 and re.fullmatch(r"[+-]?[0-9]+", words[1]):
        return words[0]
    return line


def read_list(list_file, root=None):
    """The images of a list file by the list rule (module doc), as ListEntry tuples. ValueError
    naming the file (and line) for a list that is not UTF-8 text or names no image."""
    base = os.path.dirname(os.path.abspath(list_file))
    entries = []
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
            listed = _split_label(line)
            path = os.path.join(root, listed.lstrip("/")) if root else os.path.join(base, listed)
            entries.append(ListEntry(n, listed, path))
    if not entries:
        raise ValueError(f"{list_file}: the list is empty (no image paths; blank lines and '#' comments are skipped)")
    return entries


# ---- sources (what training reads) ---------------------------------------------------------

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
    """The images of a list file (read_list's rule; labels are not used). Reading one that is missing
    raises FileNotFoundError naming the list file and line."""
    entries = read_list(list_file, root)

    def read(i):
        try:
            return load_image(entries[i].path)
        except FileNotFoundError:
            raise FileNotFoundError(f"{list_file}:{entries[i].line}: no such file: {entries[i].path}") from None

    return Source([e.path for e in entries], read)


def folder_source(folder, extensions=EXTENSIONS):
    """The images under `folder` (find_images' rule)."""
    paths = find_images(folder, extensions)
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
    {"type": "folder", "path": folder}, {"type": "hdf5", "path": file, "dataset": "images"}, or for
    segmentation {"type": "voc", "path": VOC_ROOT, "list": "ImageSets/Segmentation/train.txt",
    "holdout": 0, "holdout_seed": 0} (pycolorize.segmentation.voc_source: (image, label) pairs)."""
    # The dict comes from a YAML file: wrong kinds of value are errors saying which, not AttributeError.
    if not isinstance(spec, dict):
        raise ValueError(f"data config: 'source' must be a mapping such as {{type: folder, path: ...}}, got {spec!r:.80}")
    for key in ("type", "path", "root", "dataset", "list"):
        if key in spec and not isinstance(spec[key], str):
            raise ValueError(f"data config: source '{key}' must be a string, got {spec[key]!r:.80}")
    for key in ("holdout", "holdout_seed"):
        if key in spec and (not isinstance(spec[key], int) or isinstance(spec[key], bool) or spec[key] < 0):
            raise ValueError(f"data config: source '{key}' must be a whole number >= 0, got {spec[key]!r:.80}")
    kind = spec.get("type", "folder")
    if kind in ("list", "folder", "hdf5", "voc") and "path" not in spec:
        raise ValueError(f"data config: the {kind} source needs a 'path'")
    if kind == "list":
        return list_source(spec["path"], spec.get("root"))
    if kind == "folder":
        return folder_source(spec["path"])
    if kind == "hdf5":
        return hdf5_source(spec["path"], spec.get("dataset", "images"))
    if kind == "voc":
        from .segmentation import voc_source

        return voc_source(spec["path"], spec.get("list", "ImageSets/Segmentation/train.txt"), spec.get("holdout", 0),
                          spec.get("holdout_seed", 0))
    raise ValueError(f"unknown source type {kind!r}; use list, folder, hdf5 or voc")


# ---- resampling ----------------------------------------------------------------------------
#
# One interpolation, two purposes. The released package (autocolorize 0.2.1) resized with 2016
# scikit-image, rescale(order=1, mode='constant', cval=0): bilinear with pixel centres aligned,
# zeros outside the image and no anti-aliasing. Inference keeps exactly that, both for the gray
# the net sees (resize_for_network) and for bringing its predicted maps back to the photo's size
# (upsample_predictions), so the released weights give the released colorizations.
#
# Training resizes with the same resize_for_network, deliberately: a net must see at test time
# what it saw in training, and at test time it sees this non-anti-aliased bilinear. (Training used
# Pillow's bilinear, which widens its filter when shrinking, i.e. anti-aliases: a net trained here
# saw smoother photos than the ones the colorizer then gave it.) Both only ever shrink the
# photo (scale <= 1), and a shrinking order-1 resize with centres aligned reads only inside the
# image, so the zeros outside never darken a border; only upsample_predictions enlarges.

def _axis(n_in, n_out, start=0, count=None):
    """Order-1 interpolation along one axis from n_in to n_out samples (pixel centres aligned,
    zeros outside): for output indices start..start+count, the two source indices and weights."""
    count = n_out - start if count is None else count
    pos = (np.arange(start, start + count) + 0.5) * (n_in / n_out) - 0.5
    i0 = np.floor(pos).astype(np.int64)
    w1 = pos - i0
    w0 = 1.0 - w1
    i1 = i0 + 1
    w0 = np.where((i0 >= 0) & (i0 < n_in), w0, 0.0)
    w1 = np.where((i1 >= 0) & (i1 < n_in), w1, 0.0)
    return np.clip(i0, 0, n_in - 1), w0, np.clip(i1, 0, n_in - 1), w1


def _resample(a, axis, idx):
    i0, w0, i1, w1 = idx
    shape = [1] * a.ndim
    shape[axis] = -1
    return np.take(a, i0, axis=axis) * w0.reshape(shape) + np.take(a, i1, axis=axis) * w1.reshape(shape)


def resize_for_network(image, height, width):
    """What the network sees, in training and at inference: the first two axes of `image` (any
    trailing channels) resized to height x width as 2016 skimage's rescale(order=1,
    mode='constant', cval=0) without anti-aliasing. float64."""
    a = np.asarray(image, dtype=np.float64)
    return _resample(_resample(a, 0, _axis(a.shape[0], height)), 1, _axis(a.shape[1], width))


def upsample_predictions(maps, height, width, top=0, left=0, rows=None, cols=None):
    """Predicted maps (H, W, K) brought back towards the photo's resolution: the rows top..top+rows
    and columns left..left+cols of their resize to height x width, by the interpolation of
    resize_for_network (the released package's); only that window is computed, so a large photo
    can be done in bands of rows. float64."""
    a = np.asarray(maps, dtype=np.float64)
    rows = height - top if rows is None else rows
    cols = width - left if cols is None else cols
    return _resample(_resample(a, 0, _axis(a.shape[0], height, top, rows)), 1, _axis(a.shape[1], width, left, cols))

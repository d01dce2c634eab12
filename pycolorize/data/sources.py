"""Sources: what training reads, made from a config dict by type (open_source; SOURCE_TYPES holds
one entry per type: folder, list, hdf5 and tar here, voc in pycolorize.data.voc).

Two shapes of source, each saying which it is (`stream`) and what it gives (`kind`: IMAGE, or
IMAGE_LABEL pairs). A Source is a list (stream False): `len(source)`, `source.read(i)`, read in
any order (the Loader shuffles the positions of each epoch). A tar source
(pycolorize.data.shards.TarSource, the WebDataset layout; it registers the "tar" type) is a stream
(stream True): shards read from the first byte to the last, locally or over HTTP, in an order
shuffled per epoch; the Loader asks it for each epoch's items (`epoch_items`), read ahead by
`shuffle` samples."""
import threading

import numpy as np

from pycolorize.colorization.color import gray, to_rgb
from pycolorize.colorization.resample import resize_for_network
from pycolorize.data.images import EXTENSIONS, find_images, load_image, read_list
from pycolorize.data.pixels import load_pixels

IMAGE, IMAGE_LABEL = "image", "image+label"  # what a source's read(i) gives (Source.kind)

# ---- sources (what training reads) ---------------------------------------------------------

class Source:
    """A list of training items: `len(source)`, `source.name(i)` (a path, for messages) and
    `source.read(i)`. Its `kind` says what read(i) gives: IMAGE, an RGB image (H, W, 3) in [0, 1];
    IMAGE_LABEL, a pair (RGB image, label map). `held_out` lists the items a source kept out of
    training (list lines, for scoring snapshots on); `file`, an open file the source reads from.

    `pixels(i)` (an IMAGE source's, for the Loader) gives the image as its decoder does (uint8, no
    float64 copy; loader.make_example reads either); `reopen()`, the source to use in a worker
    process forked from this one (an HDF5 source opens its file again there)."""
    stream = False  # a list, read in any order (the module doc)

    def __init__(self, names, reader, kind=IMAGE, held_out=(), file=None, pixels=None, reopen=None):
        if kind not in (IMAGE, IMAGE_LABEL):
            raise ValueError(f"a source's kind is {IMAGE!r} or {IMAGE_LABEL!r}, not {kind!r}")
        self.names, self._reader, self.kind = list(names), reader, kind
        self.held_out, self.file = list(held_out), file
        self._pixels, self._reopen = pixels, reopen

    def pixels(self, i):
        return self._pixels(i) if self._pixels is not None else self.read(i)

    def reopen(self):
        return self._reopen() if self._reopen is not None else self

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

    def reader(load):
        def read(i):
            try:
                return load(entries[i].path)
            except FileNotFoundError:
                raise FileNotFoundError(f"{list_file}:{entries[i].line}: no such file: {entries[i].path}") from None
        return read

    return Source([e.path for e in entries], reader(load_image), pixels=reader(load_pixels))


def folder_source(folder, extensions=EXTENSIONS):
    """The images under `folder` (find_images' rule)."""
    paths = find_images(folder, extensions)
    return Source(paths, lambda i: load_image(paths[i]), pixels=lambda i: load_pixels(paths[i]))


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

        def raw(i):
            with lock:
                return node[i]
    else:
        keys = sorted(node)
        names = [f"{path}:/{dataset}/{k}" for k in keys]

        def raw(i):
            with lock:
                return node[keys[i]][()]

    def pixels(i):  # integers as stored (to_rgb's scaling is make_example's); floats as read() gives them
        a = raw(i)
        return a if np.issubdtype(a.dtype, np.unsignedinteger) else to_rgb(a)
    # a forked worker process opens the file again: HDF5 handles are not shared across a fork
    return Source(names, lambda i: to_rgb(raw(i)), file=f, pixels=pixels, reopen=lambda: hdf5_source(path, dataset))


# type -> fn(spec): the source of a config dict of that type, one entry per type. Another module's
# kind registers itself here (pycolorize.data.shards: "tar"; pycolorize.data.voc: "voc").
SOURCE_TYPES = {
    "folder": lambda spec: folder_source(spec["path"]),
    "list": lambda spec: list_source(spec["path"], spec.get("root")),
    "hdf5": lambda spec: hdf5_source(spec["path"], spec.get("dataset", "images")),
}


def gray_images(folder, count, short_side=256, seed=0, on_skip=None, on_read=None):
    """Up to `count` images of `folder` (a random choice seeded by `seed`), gray (color.gray), their
    short side at most `short_side` (resized as the network's input is): what convert-vgg16
    balances the hypercolumn on. An image that does not read is skipped (`on_skip(name, error)`);
    `on_read()` runs after each image tried. ValueError when none reads."""
    src = folder_source(folder)
    out = []
    for i in np.random.default_rng(seed).permutation(len(src))[:count]:
        try:
            rgb = src.read(i)
        except (OSError, ValueError) as e:
            if on_skip is not None:
                on_skip(src.name(i), e)
            continue
        finally:
            if on_read is not None:
                on_read()
        s = min(1.0, short_side / min(rgb.shape[:2]))
        if s < 1:
            rgb = resize_for_network(rgb, int(round(rgb.shape[0] * s)), int(round(rgb.shape[1] * s)))
        out.append(gray(rgb))
    if not out:
        raise ValueError(f"{folder}: no usable images")
    return out


def open_source(spec):
    """A source from a config dict: {"type": "list", "path": list_file, "root": folder},
    {"type": "folder", "path": folder}, {"type": "hdf5", "path": file, "dataset": "images"},
    {"type": "tar", "path": "shards/train-{0000..0146}.tar", "shuffle": 256}, or for
    segmentation {"type": "voc", "path": VOC_ROOT, "list": "ImageSets/Segmentation/train.txt",
    "holdout": 0, "holdout_seed": 0} (pycolorize.data.voc.voc_source: (image, label) pairs)."""
    # The dict comes from a YAML file: wrong kinds of value are errors saying which, not AttributeError.
    if not isinstance(spec, dict):
        raise ValueError(f"data config: 'source' must be a mapping such as {{type: folder, path: ...}}, got {spec!r:.80}")
    for key in ("type", "path", "root", "dataset", "list"):
        if key in spec and not isinstance(spec[key], str):
            raise ValueError(f"data config: source '{key}' must be a string, got {spec[key]!r:.80}")
    for key in ("holdout", "holdout_seed", "shuffle"):
        if key in spec and (not isinstance(spec[key], int) or isinstance(spec[key], bool) or spec[key] < 0):
            raise ValueError(f"data config: source '{key}' must be a whole number >= 0, got {spec[key]!r:.80}")
    kind = spec.get("type", "folder")
    if kind not in SOURCE_TYPES:
        raise ValueError(f"unknown source type {kind!r}; use {', '.join(SOURCE_TYPES)}")
    if "path" not in spec:
        raise ValueError(f"data config: the {kind} source needs a 'path'")
    return SOURCE_TYPES[kind](spec)

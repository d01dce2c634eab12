"""Caffe's HDF5 weight layout, read and written with h5py.

The file has a group ``/data`` with one subgroup per layer (parameter-less layers too, as empty
groups) holding float32 datasets ``"0"``, ``"1"``, ... in blob order, shaped like the blobs
(Caffe's ``Net::ToHDF5``). read_caffe_h5 (on a file from open_h5) and write_caffe_h5 are the one
reader and writer of that layout as {layer: [arrays]}: save_weights and load_weights below and the
VGG-16 converter (vgg.py) go through them.

Loading follows ``Net::CopyTrainedLayersFromHDF5``: layers in the file that the net lacks are
ignored, net layers the file lacks keep their filler values, and a shape mismatch is an error
naming the layer and both shapes, with two exceptions that hold the same numbers in the same order:

* shapes that differ only by trailing 1s, as an InnerProduct's (out, in) and a 1x1 Convolution's
  (out, in, 1, 1);
* a stored (out, in) blob loading into a Convolution's (out, c, kh, kw) when c*kh*kw == in. The
  2017 release of the authors' weights (``autocolorize.caffemodel.h5``) stored fc6 as (4096, 25088)
  and h_fc1 as (1024, 12417), where the net has (4096, 512, 7, 7) and (1024, 12417, 1, 1). The
  authors' own Caffe reshaped on load when the counts matched, so that file worked for them; BVLC
  Caffe 1.0 refuses it ("Source shape is 4096 25088 ... target shape is 4096 512 7 7"). We follow
  the released code and accept both published forms, with one warning per load listing the layers
  reshaped this way (fc6 there; h_fc1 is the trailing-1s case, which loads silently because every
  training net's InnerProduct-shaped h_fc1 needs it to reach a deploy net). Only the leading
  (output) axis must agree; any other difference stays an error.
"""
import contextlib
import os
import warnings

import h5py
import numpy as np

from pycolorize.engine.core import Error
from pycolorize.util.files import atomic_path


def _strip_ones(shape):
    """A shape without trailing 1s: an InnerProduct's (out, in) weights load into the 1x1
    Convolution (out, in, 1, 1) of a dense net and back; nothing else is reshaped."""
    shape = tuple(shape)
    while shape and shape[-1] == 1:
        shape = shape[:-1]
    return shape


def _fits(stored, target):
    """Whether a stored blob of shape `stored` holds the weights of a net blob of shape `target`
    in the same memory order: equal up to trailing 1s, or (out, in) into (out, c, kh, kw) with
    c*kh*kw == in (see the module docstring)."""
    stored, target = _strip_ones(stored), tuple(target)
    if stored == _strip_ones(target):
        return True
    return (len(stored) == 2 and len(target) == 4 and stored[0] == target[0]
            and stored[1] == int(np.prod(target[1:])))  # (out, in) or (out, in, 1, 1)


# What h5py raises on a damaged file (OSError, RuntimeError, KeyError) and NumPy on a dataset of the
# wrong type or shape (TypeError, ValueError, IndexError).
H5_ERRORS = (OSError, RuntimeError, KeyError, TypeError, ValueError, IndexError)

MAX_BLOBS = 64  # a blob index past this is a damaged file, not a layer (Caffe's have at most a handful)


@contextlib.contextmanager
def open_h5(path, kind="HDF5 weights file"):
    """h5py.File(`path`, "r") for reading, with every h5py or NumPy error on a damaged or odd file,
    at opening or inside the block, raised as one Error: ``<path>: not a readable <kind> (<the
    error>)``. A missing file is a FileNotFoundError naming it."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such {kind}")
    try:
        with h5py.File(path, "r") as f:
            yield f
    except Error:
        raise
    except H5_ERRORS as e:
        raise Error(f"{path}: not a readable {kind} ({type(e).__name__}: {e})") from None


def read_caffe_h5(f, path, layers=None, kind="HDF5 weights file", lazy=False):
    """{layer: [float32 array, ...]} in blob order from the ``/data/<layer>/<i>`` groups of the
    Caffe HDF5 file `f` (open, from open_h5; `path` names it in errors), in file order; only the
    layers named in `layers` when given (the others are neither read nor checked: Caffe ignores
    them). A layer without parameters has an empty list. An index the file lacks (a shared
    parameter, which Caffe stores with its owner only) is None in the list. With `lazy`, the
    h5py datasets themselves, checked for all but their data, which read_into copies into place.

    Anything else is an Error naming the file and the group or dataset: no ``/data`` group, a layer
    that is not a group, a member that is not a blob index 0, 1, ... or not a dataset of numbers
    (``not a readable <kind> (<h5py's error>) at /data/<layer>/<i>`` when h5py cannot read it as
    float32)."""
    data = f.get("data")
    if not isinstance(data, h5py.Group):
        raise Error(f"{path}: no /data group; not a Caffe HDF5 weights file")
    out = {}
    for layer in data:
        if layers is not None and layer not in layers:
            continue
        group = data[layer]
        where = f"/data/{layer}"
        if not isinstance(group, h5py.Group):
            raise Error(f"{path}: {where} is not a group of blobs {where}/0, {where}/1, ... "
                        f"(it is a {type(group).__name__})")
        blobs = {}
        for key in group:
            if not (key.isascii() and key.isdigit() and str(int(key)) == key and int(key) < MAX_BLOBS):
                raise Error(f"{path}: {where}/{key} is not a blob: the blobs of {where} are named 0, 1, 2, ...")
            src = group[key]
            if not isinstance(src, h5py.Dataset) or src.shape is None:
                raise Error(f"{path}: {where}/{key} is not a numeric dataset (it is "
                            f"{'an empty dataset' if isinstance(src, h5py.Dataset) else 'a ' + type(src).__name__})")
            if lazy and src.dtype.kind not in "fiub":
                read_into(src, False, path, kind)  # strings, compound types: h5py's error, as the eager read's
            value = src if lazy else read_into(src, None, path, kind)
            if src.dtype.kind not in "fiu":  # booleans convert, but are not weights
                raise Error(f"{path}: {where}/{key} is not a numeric dataset (its type is {src.dtype})")
            blobs[int(key)] = value
        out[layer] = [blobs.get(i) for i in range(max(blobs, default=-1) + 1)]
    return out


READ_CHUNK = 1 << 22  # elements per read when only checking that a dataset reads (16 MB of float32)


def _pieces(shape, chunk):
    """Index tuples covering an array of `shape` in pieces of at most `chunk` elements (or one
    element): whole rows of the outermost axis that fit, else slices of an inner axis."""
    shape = tuple(int(n) for n in shape)
    if not shape:
        yield ()
        return
    if 0 in shape:
        return
    axis = next(a for a in range(len(shape)) if int(np.prod(shape[a + 1:], dtype=np.int64)) <= chunk)
    step = max(1, chunk // int(np.prod(shape[axis + 1:], dtype=np.int64)))
    for outer in np.ndindex(*shape[:axis]):
        for start in range(0, shape[axis], step):
            yield outer + (slice(start, start + step),)


def read_into(src, out, path, kind="HDF5 weights file"):
    """The h5py dataset `src` as float32: into the C-contiguous float32 array `out` (of its element
    count) and returned, or, with `out` None, a new array; with `out` False, read in pieces of at
    most READ_CHUNK elements and dropped (a check that every byte reads, in bounded memory; the
    loader reads each dataset this way first, then into the net, so twice). h5py's errors (a
    truncated or damaged file) are an Error naming the file and the dataset."""
    try:
        if out is None:
            return np.asarray(src, dtype=np.float32)
        if out is False:
            as_float = src.astype(np.float32)  # HDF5's conversion, as np.asarray(src, np.float32) uses
            for piece in _pieces(src.shape, READ_CHUNK):
                as_float[piece]  # read and dropped
            return None
        src.read_direct(out.reshape(src.shape))
        return out
    except H5_ERRORS as e:
        raise Error(f"{path}: not a readable {kind} ({type(e).__name__}: {e}) at {src.name}") from None


WEIGHT_SUFFIXES = (".caffemodel.h5", ".caffemodel", ".h5")


def weights_stem(path):
    """A weights file's path without its suffix (snap_iter_10.caffemodel.h5 -> snap_iter_10)."""
    path = os.fspath(path)
    for ext in WEIGHT_SUFFIXES:
        if path.endswith(ext):
            return path[:-len(ext)]
    return path


def load_weights(net, path):
    """Copy weights from the Caffe HDF5 file `path` into `net`; returns the names of the layers loaded.
    Everything is read and checked before the first weight is written, so a bad file (a damaged
    one, a group or dataset where the other belongs, a wrong shape) is an Error naming the file
    and the layer, and leaves the net as it was.

    BatchNorm statistics ``X_bn`` in the file (a from-scratch snapshot) for a net that has the
    convolution X but no layer X_bn (the deploy net, a downstream trunk) are folded into X, exactly
    (pycolorize.engine.weights.fold_batchnorm), with a warning: the net then computes what the trained net
    computes in its TEST phase."""
    path = os.fspath(path)
    params = net.params
    with open_h5(path) as f:
        file_layers = list(f["data"]) if isinstance(f.get("data"), h5py.Group) else []
        folds = [n for n in file_layers if n.endswith("_bn") and n not in params and n[:-3] in params]
        # Datasets, not arrays: the weights are read straight into the blobs, after every check
        # and after a first read in small slices that fails now, not halfway, on a damaged file
        # (so the peak memory is the net's, not twice the file's: 588 MB for the released net).
        stored = read_caffe_h5(f, path, layers=set(params) | set(folds), lazy=True)
        if folds:
            from pycolorize.engine.weights import fold_batchnorm, is_batchnorm

            def arrays(datasets):  # the folding reads whole (small) blobs
                return [None if d is None else read_into(d, None, path) for d in datasets]

            bn = {n: arrays(stored.pop(n)) for n in folds}
            bn = {n: b for n, b in bn.items() if is_batchnorm(b)}
            if bn:
                convs = {n[:-3]: arrays(stored.get(n[:-3], [])) for n in bn}
                stored.update(fold_batchnorm({**convs, **bn}, where=path))
                warnings.warn(f"{path}: BatchNorm statistics folded into the convolutions of net '{net.name}', which has "
                              f"no BatchNorm layers: {', '.join(bn)}", stacklevel=2)
        pending, loaded, reshaped = match_blobs(net, path, params, stored)
        for _, src in pending:
            if isinstance(src, h5py.Dataset):
                read_into(src, False, path)
        for blob, src in pending:
            if isinstance(src, h5py.Dataset):
                read_into(src, blob.data, path)
            else:
                blob.data[...] = src.reshape(blob.shape)
    if params and not loaded:
        raise Error(f"{path}: none of its layers ({', '.join(file_layers[:8])}{', ...' if len(file_layers) > 8 else ''}) "
                    f"is a layer with parameters in net '{net.name}' ({', '.join(list(params)[:8])}); wrong network?")
    if reshaped:
        warnings.warn(f"{path}: reshaped on load, as the authors' Caffe did (BVLC Caffe 1.0 refuses these): "
                      + ", ".join(reshaped), stacklevel=2)
    return loaded


def match_blobs(net, path, params, stored):
    """(blob, source) pairs to copy (a source is an h5py dataset or a float32 array of the blob's
    count), the layers they come from and the reshapes to warn about ("layer blob i (stored shape)
    -> (net shape)"), from read_caffe_h5's datasets or arrays; reads and writes nothing."""
    pending, loaded, reshaped = [], [], []
    for layer, arrays in stored.items():
        blobs = params[layer]
        count = sum(a is not None for a in arrays)
        if len(arrays) > len(blobs):
            raise Error(f"{path}: layer '{layer}' has {count} blobs in the file but {len(blobs)} in the net")
        for i, blob in enumerate(blobs):
            src = arrays[i] if i < len(arrays) else None
            if src is None:
                if net.param_owner(layer, i) >= 0:
                    continue  # shared with another layer, which holds it
                raise Error(f"{path}: layer '{layer}' has {count} blobs in the file but {len(blobs)} in the net")
            if not _fits(src.shape, blob.shape):
                raise Error(f"{path}: layer '{layer}' blob {i}: shape {tuple(src.shape)} in the file but "
                            f"{tuple(blob.shape)} in the net")
            if _strip_ones(src.shape) != _strip_ones(blob.shape):  # not the everyday trailing-1s case
                reshaped.append(f"{layer} blob {i} {tuple(src.shape)} -> {tuple(blob.shape)}")
            pending.append((blob, src))
        loaded.append(layer)
    return pending, loaded, reshaped


@contextlib.contextmanager
def atomic_h5(path, before_publish=None):
    """Open an HDF5 file for writing that appears at `path` only once complete (pycolorize.util.files:
    a temporary file beside it, flushed to disk and renamed over `path`; an exception or Ctrl-C
    midway leaves any previous `path` untouched). `before_publish()`, if given, runs once the
    temporary is complete, just before the rename (the solver uses it to retire a stale companion
    file). An OS error (disk full, read-only or missing folder) is an Error naming `path` and the
    OS's reason."""
    try:
        with atomic_path(path, before_publish) as tmp, h5py.File(tmp, "w") as f:
            yield f
    except OSError as e:
        raise Error(str(e)) from None


def write_caffe_h5(layers, path, before_publish=None):
    """Write {layer: [array, ...]} in Caffe's HDF5 layout (``/data/<layer>/<i>``, float32),
    atomically (see atomic_h5); a None in a list (a shared parameter, stored by its owner) and an
    empty list (a layer without parameters) write no dataset, and every layer gets its group."""
    with atomic_h5(path, before_publish) as f:
        data = f.create_group("data")
        for name, blobs in layers.items():
            group = data.create_group(name)
            for i, b in enumerate(blobs):
                if b is not None:
                    group.create_dataset(str(i), data=np.asarray(b, dtype=np.float32))


def save_weights(net, path, before_publish=None):
    """Write `net`'s parameters in Caffe's HDF5 layout, atomically (see atomic_h5): one group per
    layer, parameter-less ones too, and shared parameters stored by their owner only."""
    layers = {layer.name: [None if net.param_owner(index, i) >= 0 else blob.data for i, blob in enumerate(layer.blobs)]
              for index, layer in enumerate(net.layers)}
    write_caffe_h5(layers, path, before_publish)


# ---- BatchNorm folding -----

BN_EPS = 1e-5  # BatchNorm's default eps (the generated nets do not change it)


def is_batchnorm(blobs):
    """Caffe BatchNorm's blobs: two per-channel sums of one shape and a one-element factor."""
    return (len(blobs) == 3 and all(b is not None for b in blobs) and blobs[0].ndim == 1
            and blobs[1].shape == blobs[0].shape and blobs[2].size == 1)


def fold_batchnorm(layers, eps=BN_EPS, where="weights"):
    """{layer: [arrays]} with every BatchNorm group ``X_bn`` folded into its convolution ``X`` and
    dropped; other layers are returned as they are. A BatchNorm group without its convolution, or
    whose channel count differs from it, is an error naming both (`where`: the file)."""
    out = {name: blobs for name, blobs in layers.items() if not (name.endswith("_bn") and is_batchnorm(blobs))}
    for name in layers.keys() - out.keys():
        conv = name[:-len("_bn")]
        mean_sum, var_sum, factor = (np.asarray(b, np.float64) for b in layers[name])
        if conv not in layers or not layers[conv] or layers[conv][0] is None:
            raise ValueError(f"{where}: BatchNorm statistics {name} follow no convolution named {conv!r}")
        w = np.asarray(layers[conv][0], np.float64)
        if w.shape[0] != mean_sum.size:
            raise ValueError(f"{where}: BatchNorm {name} has {mean_sum.size} channels, convolution {conv} "
                             f"{w.shape[0]} outputs")
        f = float(factor.reshape(-1)[0])
        scale = 0.0 if f == 0 else 1.0 / f  # Caffe's rule for a factor of 0
        s = 1.0 / np.sqrt(var_sum * scale + eps)
        b = np.asarray(layers[conv][1], np.float64) if len(layers[conv]) > 1 and layers[conv][1] is not None else 0.0
        w = w * s.reshape((-1,) + (1,) * (w.ndim - 1))
        out[conv] = [w.astype(np.float32), ((b - mean_sum * scale) * s).astype(np.float32)]
    return out

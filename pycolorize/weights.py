"""Caffe's HDF5 weight layout, read and written with h5py.

The file has a group ``/data`` with one subgroup per layer (parameter-less layers too, as empty
groups) holding float32 datasets ``"0"``, ``"1"``, ... in blob order, shaped like the blobs
(Caffe's ``Net::ToHDF5``). Loading follows ``Net::CopyTrainedLayersFromHDF5``: layers in the file
that the net lacks are ignored, net layers the file lacks keep their filler values, and a shape
mismatch is an error naming the layer and both shapes, with two exceptions that hold the same
numbers in the same order:

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
import tempfile
import warnings

import h5py
import numpy as np

from ._core import Error


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


def load_weights(net, path):
    """Copy weights from the Caffe HDF5 file `path` into `net`; returns the names of the layers loaded.
    Everything is read and checked before the first weight is written, so a bad file (a damaged
    one, a group or dataset where the other belongs, a wrong shape) is an Error naming the file
    and the layer, and leaves the net as it was."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such weights file")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise Error(f"{path}: not an HDF5 weights file ({e})") from None
    try:
        with f:
            pending, loaded, reshaped, file_layers = _read_weights(net, path, f)
    except Error:
        raise
    except (OSError, RuntimeError, KeyError, TypeError, ValueError) as e:  # h5py's, on a damaged file
        raise Error(f"{path}: damaged HDF5 weights file ({type(e).__name__}: {e})") from None
    for blob, array in pending:
        blob.data[...] = array
    if net.params and not loaded:
        raise Error(f"{path}: none of its layers ({', '.join(file_layers[:8])}{', ...' if len(file_layers) > 8 else ''}) "
                    f"is a layer with parameters in net '{net.name}' ({', '.join(list(net.params)[:8])}); wrong network?")
    if reshaped:
        warnings.warn(f"{path}: reshaped on load, as the authors' Caffe did (BVLC Caffe 1.0 refuses these): "
                      + ", ".join(reshaped), stacklevel=2)
    return loaded


def _read_weights(net, path, f):
    """(blob, float32 array) pairs to copy, the layers they come from, the reshapes to warn about
    ("layer blob i (stored shape) -> (net shape)") and the file's layers; writes nothing."""
    params = net.params
    pending, loaded, reshaped = [], [], []
    data = f.get("data")
    if not isinstance(data, h5py.Group):
        raise Error(f"{path}: no /data group; not a Caffe HDF5 weights file")
    file_layers = list(data)
    for layer in file_layers:
        if layer not in params:
            continue  # Caffe: "Ignoring source layer"
        blobs = params[layer]
        group = data[layer]
        if not isinstance(group, h5py.Group):
            raise Error(f"{path}: /data/{layer} is a {type(group).__name__}, not a group of blobs")
        if len(group) > len(blobs):
            raise Error(f"{path}: layer '{layer}' has {len(group)} blobs in the file but {len(blobs)} in the net")
        for i, blob in enumerate(blobs):
            key = str(i)
            if key not in group:
                if net.param_owner(layer, i) >= 0:
                    continue  # shared with another layer, which holds it
                raise Error(f"{path}: layer '{layer}' has {len(group)} blobs in the file but {len(blobs)} in the net")
            src = group[key]
            if not isinstance(src, h5py.Dataset) or src.dtype.kind not in "fiu" or src.shape is None:
                raise Error(f"{path}: /data/{layer}/{key} is not a numeric dataset")
            if not _fits(src.shape, blob.shape):
                raise Error(f"{path}: layer '{layer}' blob {i}: shape {tuple(src.shape)} in the file but "
                            f"{tuple(blob.shape)} in the net")
            if _strip_ones(src.shape) != _strip_ones(blob.shape):  # not the everyday trailing-1s case
                reshaped.append(f"{layer} blob {i} {tuple(src.shape)} -> {tuple(blob.shape)}")
            pending.append((blob, np.asarray(src, dtype=np.float32).reshape(blob.shape)))
        loaded.append(layer)
    return pending, loaded, reshaped, file_layers


@contextlib.contextmanager
def atomic_h5(path, before_publish=None):
    """Open an HDF5 file for writing that appears at `path` only once complete: it is written to a
    temporary file beside it (``.tmp-*.h5``), flushed to disk and renamed over `path`. An exception
    (or Ctrl-C) midway removes the temporary and leaves any previous `path` untouched; a ``kill -9``
    midway leaves at most the temporary. `before_publish()`, if given, runs once the temporary is
    complete, just before the rename (the solver uses it to retire a stale companion file). An OS
    error (disk full, read-only or missing folder) is an Error naming `path` and the OS's reason."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".h5", dir=directory)
        os.close(fd)
        with h5py.File(tmp, "w") as f:
            yield f
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        if before_publish is not None:
            before_publish()
        os.replace(tmp, path)
        tmp = None
        _fsync_dir(directory)  # the rename itself survives a power cut
    except OSError as e:
        raise Error(f"cannot write {path}: {e}; any earlier file there is untouched") from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)


def _fsync_dir(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return  # not every system lets a folder be opened
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_weights(net, path, before_publish=None):
    """Write `net`'s parameters in Caffe's HDF5 layout, atomically (see atomic_h5)."""
    with atomic_h5(path, before_publish) as f:
        data = f.create_group("data")
        for index, layer in enumerate(net.layers):
            group = data.create_group(layer.name)
            for i, blob in enumerate(layer.blobs):
                if net.param_owner(index, i) < 0:  # shared params are stored by their owner only
                    group.create_dataset(str(i), data=blob.data)

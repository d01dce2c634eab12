"""Caffe's HDF5 weight layout, read and written with h5py.

The file has a group ``/data`` with one subgroup per layer (parameter-less layers too, as empty
groups) holding float32 datasets ``"0"``, ``"1"``, ... in blob order, shaped like the blobs
(Caffe's ``Net::ToHDF5``). Loading follows ``Net::CopyTrainedLayersFromHDF5``: layers in the file
that the net lacks are ignored, net layers the file lacks keep their filler values, and a shape
mismatch is an error naming the layer and both shapes (shapes that differ only by trailing 1s, as an
InnerProduct's (out, in) and a 1x1 Convolution's (out, in, 1, 1), are the same weights and load).
"""
import contextlib
import os
import tempfile

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


def load_weights(net, path):
    """Copy weights from the Caffe HDF5 file `path` into `net`; returns the names of the layers loaded."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such weights file")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise Error(f"{path}: not an HDF5 weights file ({e})") from None
    params = net.params
    loaded = []
    file_layers = []
    with f:
        if "data" not in f or not isinstance(f["data"], h5py.Group):
            raise Error(f"{path}: no /data group; not a Caffe HDF5 weights file")
        data = f["data"]
        file_layers = list(data)
        for layer in file_layers:
            if layer not in params:
                continue  # Caffe: "Ignoring source layer"
            blobs = params[layer]
            group = data[layer]
            if len(group) > len(blobs):
                raise Error(f"{path}: layer '{layer}' has {len(group)} blobs in the file but {len(blobs)} in the net")
            for i, blob in enumerate(blobs):
                key = str(i)
                if key not in group:
                    if net.param_owner(layer, i) >= 0:
                        continue  # shared with another layer, which holds it
                    raise Error(f"{path}: layer '{layer}' has {len(group)} blobs in the file but {len(blobs)} in the net")
                src = group[key]
                if _strip_ones(src.shape) != _strip_ones(blob.shape):
                    raise Error(f"{path}: layer '{layer}' blob {i}: shape {tuple(src.shape)} in the file but "
                                f"{tuple(blob.shape)} in the net")
                blob.data[...] = np.asarray(src, dtype=np.float32).reshape(blob.shape)
            loaded.append(layer)
    if params and not loaded:
        raise Error(f"{path}: none of its layers ({', '.join(file_layers[:8])}{', ...' if len(file_layers) > 8 else ''}) "
                    f"is a layer with parameters in net '{net.name}' ({', '.join(list(params)[:8])}); wrong network?")
    return loaded


@contextlib.contextmanager
def atomic_h5(path):
    """Open an HDF5 file for writing that appears at `path` only once complete: it is written to a
    temporary file beside it, flushed to disk and renamed over `path`. An exception (or Ctrl-C)
    midway removes the temporary and leaves any previous `path` untouched."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".h5", dir=directory)
    os.close(fd)
    try:
        with h5py.File(tmp, "w") as f:
            yield f
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def save_weights(net, path):
    """Write `net`'s parameters in Caffe's HDF5 layout, atomically (see atomic_h5)."""
    with atomic_h5(path) as f:
        data = f.create_group("data")
        for index, layer in enumerate(net.layers):
            group = data.create_group(layer.name)
            for i, blob in enumerate(layer.blobs):
                if net.param_owner(index, i) < 0:  # shared params are stored by their owner only
                    group.create_dataset(str(i), data=blob.data)

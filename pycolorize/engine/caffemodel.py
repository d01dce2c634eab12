"""Read Caffe's binary .caffemodel (a serialized NetParameter protobuf) without protobuf: a small
wire-format decoder for the fields that hold weights.

    layers = read_caffemodel("VGG_ILSVRC_16_layers.caffemodel")   # {layer name: [arrays]}

NetParameter.layer (100) holds LayerParameter messages: name (1) and blobs (7); the legacy
NetParameter.layers (2) holds V1LayerParameter: name (4) and blobs (6). A BlobProto has its
shape as BlobShape (7, packed int64 dims, field 1) or as legacy num/channels/height/width
(1-4), and its values as packed float data (5) or double_data (8).
"""
import math

import numpy as np

from pycolorize.engine.core import Error

MAX_DIMS = 32  # BlobShape dims past this are not a blob (NumPy's own limit is 64)


class DecodeError(Error):
    """A file that is not a well-formed Caffe binary model; the message names the file and the fault."""


def _varint(buf, pos):
    result, shift = 0, 0
    while True:
        if pos >= len(buf):
            raise DecodeError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise DecodeError("varint too long")


def fields(buf):
    """Yield (field number, wire type, value) of a message; length-delimited values are memoryviews."""
    buf = memoryview(buf)
    pos, end = 0, len(buf)
    while pos < end:
        key, pos = _varint(buf, pos)
        num, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
            yield num, wire, value
            continue
        if wire == 2:
            n, pos = _varint(buf, pos)
        elif wire in (1, 5):
            n = 8 if wire == 1 else 4
        else:
            raise DecodeError(f"field {num}: unsupported wire type {wire}")
        if pos + n > end:
            raise DecodeError(f"field {num}: {n} bytes run past the end of the message")
        value, pos = buf[pos:pos + n], pos + n
        yield num, wire, value


def _packed_varints(view):
    out, pos = [], 0
    while pos < len(view):
        v, pos = _varint(view, pos)
        out.append(v)
    return out


def _floats(value, wire, dtype):
    """Packed (wire 2) or single fixed-width (wire 5 float, wire 1 double) values as an array."""
    size = np.dtype(dtype).itemsize
    if wire not in (2, 5 if size == 4 else 1):
        raise DecodeError(f"blob values of wire type {wire}, expected packed {np.dtype(dtype).name}")
    if len(value) % size:
        raise DecodeError(f"packed {np.dtype(dtype).name} data of {len(value)} bytes, not a multiple of {size}")
    return np.frombuffer(value, dtype=dtype)


def _blob(buf):
    dims, legacy, data, ddata = None, {}, [], []
    for num, wire, value in fields(buf):
        if num == 7 and wire == 2:  # BlobShape
            dims = []
            for n, w, v in fields(value):
                if n == 1:
                    dims += _packed_varints(v) if w == 2 else [v] if w == 0 else []
        elif num in (1, 2, 3, 4) and wire == 0:
            legacy[num] = value
        elif num == 5:
            data.append(_floats(value, wire, "<f4"))
        elif num == 8:
            ddata.append(_floats(value, wire, "<f8"))
    values = np.concatenate(data) if data else (np.concatenate(ddata) if ddata else np.zeros(0))
    if dims is None:
        dims = [legacy.get(k, 1) for k in (1, 2, 3, 4)] if legacy else [values.size]
    # math.prod is exact; NumPy's product of huge dims wraps around and could match by accident.
    if len(dims) > MAX_DIMS or math.prod(dims) != values.size:
        shape = f"({', '.join(map(str, dims[:MAX_DIMS]))}{', ...' if len(dims) > MAX_DIMS else ''})"
        raise DecodeError(f"blob of shape {shape} holds {values.size} values")
    with np.errstate(over="raise"):  # double_data past float32's range would load as inf
        try:
            values = values.astype(np.float32)
        except FloatingPointError:
            raise DecodeError("blob double_data holds values beyond float32's range") from None
    return values.reshape(dims)


def read_caffemodel(path):
    """{layer name: [blob arrays]} for every layer with blobs, in file order."""
    with open(path, "rb") as f:
        buf = f.read()
    layers = {}
    try:
        for num, wire, value in fields(buf):
            if wire != 2 or num not in (100, 2):
                continue
            name_field, blob_field = (1, 7) if num == 100 else (4, 6)
            name, blobs = None, []
            for n, w, v in fields(value):
                if n == name_field and w == 2:
                    try:
                        name = bytes(v).decode("utf-8")
                    except UnicodeDecodeError as e:
                        raise DecodeError(f"layer name {bytes(v)[:40]!r} is not UTF-8 ({e.reason})") from None
                elif n == blob_field and w == 2:
                    try:
                        blobs.append(_blob(v))
                    except DecodeError as e:
                        raise DecodeError(f"layer {name!r} blob {len(blobs)}: {e}") from None
            if name is not None and blobs:
                layers[name] = blobs
    except DecodeError as e:
        raise DecodeError(f"{path}: not a Caffe binary model ({e})") from None
    if not layers:
        raise DecodeError(f"{path}: no layer with weights found; not a Caffe binary model?")
    return layers

"""The pycaffe-shaped Python face of the C++ Net."""
import os
from collections import OrderedDict

import numpy as np

from . import _core

_PHASES = {"train": 0, "test": 1}


def _phase(phase):
    if isinstance(phase, str) and phase.lower() in _PHASES:
        return _PHASES[phase.lower()]
    if phase in (0, 1):
        return int(phase)
    raise ValueError(f"phase must be 'train' or 'test', got {phase!r}")


class Net:
    """A network built from a Caffe prototxt.

    Net(prototxt, phase="test", weights=None, level=0, stages=())
        prototxt: path to a net definition in Caffe's text format.
        weights:  optional Caffe HDF5 weights file (``/data/<layer>/<i>``) to load.
    Net.from_string(text, ...) builds one from prototxt text instead.

    Attributes (as in pycaffe): ``blobs`` and ``params`` (ordered by net order), ``layers``,
    ``inputs``, ``outputs``, ``blob_loss_weights``.
    """

    def __init__(self, prototxt, phase="test", weights=None, level=0, stages=()):
        path = os.fspath(prototxt)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: no such prototxt file")
        with open(path, "rb") as f:  # bytes: the parser quotes a non-UTF-8 byte in its error as \xNN
            text = f.read()
        self._init(text, path, phase, weights, level, stages)

    @classmethod
    def from_string(cls, text, phase="test", weights=None, level=0, stages=(), name="<string>"):
        """Build a net from prototxt text; errors name `name` as the file."""
        net = cls.__new__(cls)
        net._init(text, name, phase, weights, level, stages)
        return net

    def _init(self, text, filename, phase, weights, level, stages):
        self._net = _core.Net(text, filename, _phase(phase), int(level), list(stages))
        self.source = filename
        if weights is not None:
            self.copy_from(weights)

    # ---- structure ---------------------------------------------------------------------------
    @property
    def name(self):
        return self._net.name

    @property
    def phase(self):
        return "train" if self._net.phase == 0 else "test"

    @property
    def layers(self):
        """The layers in net order (auto-inserted Split layers included)."""
        return [self._net.layer(i) for i in range(self._net.num_layers)]

    @property
    def _layer_names(self):
        return self._net.layer_names

    @property
    def blobs(self):
        """OrderedDict blob name -> Blob (``.data``, ``.diff``, ``.shape``, ``.reshape``)."""
        return OrderedDict((n, self._net.blob(i)) for i, n in enumerate(self._net.blob_names))

    @property
    def params(self):
        """OrderedDict layer name -> list of parameter Blobs, for layers that have any."""
        out = OrderedDict()
        for i, name in enumerate(self._net.layer_names):
            blobs = self._net.layer(i).blobs
            if blobs:
                out[name] = blobs
        return out

    @property
    def inputs(self):
        names = self._net.blob_names
        return [names[i] for i in self._net.input_blob_indices]

    @property
    def outputs(self):
        names = self._net.blob_names
        return [names[i] for i in self._net.output_blob_indices]

    @property
    def blob_loss_weights(self):
        return OrderedDict((n, self._net.blob_loss_weight(i)) for i, n in enumerate(self._net.blob_names))

    def param_owner(self, layer, i):
        """-1 if parameter i of `layer` owns its memory, else the net index of the owner it shares."""
        return self._net.param_owner(self._layer_index(layer), i)

    def _layer_index(self, name):
        names = self._net.layer_names
        if isinstance(name, int):
            return name
        try:
            return names.index(name)
        except ValueError:
            raise KeyError(f"no layer named {name!r}; layers: {', '.join(names)}") from None

    # ---- running -----------------------------------------------------------------------------
    def forward(self, blobs=None, start=None, end=None, **inputs):
        """Set the given input blobs, run forward and return {output name: data array}.

        An input whose shape differs from the blob's reshapes the blob (and the net follows).
        ``start``/``end`` are layer names (inclusive); ``blobs`` lists extra blob names to return.
        """
        all_blobs = self.blobs
        for name, value in inputs.items():
            if name not in all_blobs:
                raise KeyError(f"no blob named {name!r}; inputs: {', '.join(self.inputs)}")
            arr = np.asarray(value, dtype=np.float32)
            blob = all_blobs[name]
            if tuple(arr.shape) != tuple(blob.shape):
                blob.reshape(list(arr.shape))
            blob.data[...] = arr
        first = 0 if start is None else self._layer_index(start)
        last = self._net.num_layers - 1 if end is None else self._layer_index(end)
        self._net.forward_from_to(first, last)
        names = list(self.outputs) if end is None else list(self._net.blob_names[i] for i in self._net.top_ids(last))
        names += [b for b in (blobs or []) if b not in names]
        return {n: all_blobs[n].data for n in names}

    def backward(self, start=None, end=None, **diffs):
        """Run backward (from the last layer, or `start`, down to `end`), optionally setting top
        diffs first; returns {input name: diff array}. Loss blobs already carry their loss_weight
        as diff, as in Caffe."""
        all_blobs = self.blobs
        for name, value in diffs.items():
            all_blobs[name].diff[...] = np.asarray(value, dtype=np.float32)
        first = self._net.num_layers - 1 if start is None else self._layer_index(start)
        last = 0 if end is None else self._layer_index(end)
        self._net.backward_from_to(first, last)
        return {n: all_blobs[n].diff for n in self.inputs}

    def reshape(self):
        """Propagate input-blob shape changes through the net without running it."""
        self._net.reshape()

    def clear_param_diffs(self):
        self._net.clear_param_diffs()

    def first_non_finite(self):
        """(layer, blob) of the first layer, in net order, whose output (top) data holds a NaN or an
        infinity, or None. It reads every output, so callers use it only once something is known
        to be wrong (the training loop, after a non-finite loss). An in-place layer shares its
        input's blob, so the blob shows what the last layer writing it left there."""
        names = self._net.blob_names
        for i, layer in enumerate(self._net.layer_names):
            for top in self._net.top_ids(i):
                if not np.isfinite(self._net.blob(top).data).all():
                    return layer, names[top]
        return None

    def first_non_finite_param(self):
        """(layer, index) of the first parameter blob, in net order, holding a NaN or an infinity, or None."""
        for layer, blobs in self.params.items():
            for i, blob in enumerate(blobs):
                if not np.isfinite(blob.data).all():
                    return layer, i
        return None

    # ---- weights -----------------------------------------------------------------------------
    def copy_from(self, path):
        """Load Caffe HDF5 weights (see pycolorize.weights.load_weights)."""
        from .weights import load_weights

        return load_weights(self, path)

    def save(self, path):
        """Write Caffe HDF5 weights (``/data/<layer>/<i>``), atomically."""
        from .weights import save_weights

        save_weights(self, path)

    def __repr__(self):
        return f"<pycolorize.Net {self.name!r} ({self.phase}, {self._net.num_layers} layers) from {self.source}>"

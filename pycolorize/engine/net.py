"""The pycaffe-shaped Python face of the C++ Net."""
import os
from collections import OrderedDict

import numpy as np

from pycolorize.engine.core import _core

_PHASES = {"train": 0, "test": 1}

_PASS = ("the hypercolumn projection pass removed it (a 1x1 convolution over a concat of upsampled maps "
         "runs as projections at each map's own resolution, upsampled after; see docs/design.md, 'The "
         "hypercolumn projection pass'); build the net with optimize=False to keep the literal graph")


class RemovedError(KeyError, _core.Error):
    """A blob or layer that the projection pass removed, or a blob whose memory the net reuses: a
    KeyError (it is not in ``net.blobs``) and a pycolorize.Error whose message says why and how to
    keep it."""

    def __str__(self):
        return self.args[0]


_REUSED = ("the net reuses memory (reuse_memory), so this blob's buffer holds later layers' values once its "
           "last reader has run; list it in reuse_memory=[...] to keep it, or build the net without reuse_memory")


class _Blobs(OrderedDict):
    """net.blobs: asking for a blob the projection pass removed, or one whose memory the net
    reuses, explains why it is missing."""

    def __init__(self, items, removed, reused=(), net_name=""):
        super().__init__(items)
        self._removed, self._reused, self._net_name = removed, reused, net_name

    def __missing__(self, name):
        if name in self._removed:
            raise RemovedError(f"no blob {name!r} in this net: {_PASS}")
        if name in self._reused:
            raise RemovedError(f"no blob {name!r} to read in net '{self._net_name}': {_REUSED}")
        raise KeyError(name)


class _LiteralLayer:
    """A layer of the net as written (net.literal_layers), whether it runs or the pass replaced it."""

    def __init__(self, name, type, blobs):
        self.name, self.type, self.blobs = name, type, blobs

    def __repr__(self):
        return f"<literal layer {self.name} ({self.type})>"


class _LiteralView:
    """The net as written, for save_weights: its layers and their parameter owners."""

    def __init__(self, net):
        self._literal = net._net.literal_layers
        self.layers = [_LiteralLayer(n, t, p) for n, t, p, _ in self._literal]

    def param_owner(self, index, i):
        return self._literal[index][3][i]


def _phase(phase):
    if isinstance(phase, str) and phase.lower() in _PHASES:
        return _PHASES[phase.lower()]
    if phase in (0, 1):
        return int(phase)
    raise ValueError(f"phase must be 'train' or 'test', got {phase!r}")


class Net:
    """A network built from a Caffe prototxt.

    Net(prototxt, phase="test", weights=None, level=0, stages=(), optimize=True, reuse_memory=False)
        prototxt: path to a net definition in Caffe's text format.
        weights:  optional Caffe HDF5 weights file (``/data/<layer>/<i>``) to load.
        optimize: a TEST net runs the hypercolumn projection pass where it applies (a 1x1
                  convolution over a concat of bilinearly upsampled maps: see docs/design.md); False keeps
                  the graph as written. The outputs agree to float32 rounding. ``removed_blobs``
                  and ``removed_layers`` list what the pass replaced (asking ``blobs`` for one
                  raises a KeyError that says so); ``params``, ``copy_from`` and ``save`` work on
                  the layers as written, so weights files are the same either way.
        reuse_memory: for a TEST net that only runs forward (inference): True (or a list of
                  blob names to keep) lets every blob that is not an input, an output or kept
                  share one host buffer with blobs that are not alive at the same time, as
                  inference engines do; the 512x512 deploy net then needs about a third of the
                  activation memory (on the CPU; on the GPU the blobs keep their own device
                  memory). Those blobs are gone from ``blobs`` (asking for one says why;
                  ``reused_blobs`` lists them) and forward always starts at the first layer. An
                  error for a TRAIN net or one that needs a backward pass.
    Net.from_string(text, ...) builds one from prototxt text instead.

    Attributes (as in pycaffe): ``blobs`` and ``params`` (ordered by net order), ``layers``,
    ``layer_dict``, ``bottom_names``, ``top_names``, ``inputs``, ``outputs``, ``blob_loss_weights``.
    Methods: ``forward``/``backward`` (set inputs or diffs, run, return arrays), the lower-level
    ``forward_layers``/``backward_layers`` (run a range of layers on the blobs as they are, as
    pycaffe's ``_forward``/``_backward``), ``needs_backward``/``bottom_needs_backward`` (Caffe's
    backward pruning), ``param_owner``, ``lr_mult``, ``decay_mult``, ``reshape``,
    ``clear_param_diffs``, ``copy_from`` and ``save``. A layer is named by its name or its index
    in ``layers``.
    """

    def __init__(self, prototxt, phase="test", weights=None, level=0, stages=(), optimize=True, reuse_memory=False):
        path = os.fspath(prototxt)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: no such prototxt file")
        with open(path, "rb") as f:  # bytes: the parser quotes a non-UTF-8 byte in its error as \xNN
            text = f.read()
        self._init(text, path, phase, weights, level, stages, optimize, reuse_memory)

    @classmethod
    def from_string(cls, text, phase="test", weights=None, level=0, stages=(), name="<string>", optimize=True,
                    reuse_memory=False):
        """Build a net from prototxt text; errors name `name` as the file."""
        net = cls.__new__(cls)
        net._init(text, name, phase, weights, level, stages, optimize, reuse_memory)
        return net

    def _init(self, text, filename, phase, weights, level, stages, optimize=True, reuse_memory=False):
        self._net = _core.Net(text, filename, _phase(phase), int(level), list(stages), bool(optimize))
        self.source = filename
        if reuse_memory is not False:
            keep = [] if reuse_memory is True else list(reuse_memory)
            if not all(isinstance(k, str) for k in keep):
                raise TypeError(f"reuse_memory is True, False or a list of blob names to keep; got {reuse_memory!r}")
            self._net.enable_memory_reuse(keep)
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
    def layer_names(self):
        """The layers' names in net order (auto-inserted Split layers included)."""
        return list(self._net.layer_names)

    def flat_params(self):
        """The parameter blobs in net order (layer by layer): (blob, "layer/index", whether it owns its
        memory: a shared parameter points at its owner's)."""
        core = self._net
        return [(blob, f"{name}/{j}", core.param_owner(i, j) < 0)
                for i, name in enumerate(core.layer_names) for j, blob in enumerate(core.layer(i).blobs)]

    @property
    def layers(self):
        """The layers in net order (auto-inserted Split layers included)."""
        return [self._net.layer(i) for i in range(self._net.num_layers)]

    @property
    def layer_dict(self):
        """OrderedDict layer name -> layer (``.name``, ``.type``, ``.blobs``), in net order."""
        return OrderedDict(zip(self._net.layer_names, self.layers))

    @property
    def bottom_names(self):
        """OrderedDict layer name -> the names of its input (bottom) blobs, in net order."""
        names = self._net.blob_names
        return OrderedDict((layer, [names[b] for b in self._net.bottom_ids(i)])
                           for i, layer in enumerate(self._net.layer_names))

    @property
    def top_names(self):
        """OrderedDict layer name -> the names of its output (top) blobs, in net order."""
        names = self._net.blob_names
        return OrderedDict((layer, [names[t] for t in self._net.top_ids(i)])
                           for i, layer in enumerate(self._net.layer_names))

    @property
    def blobs(self):
        """OrderedDict blob name -> Blob (``.data``, ``.diff``, ``.shape``, ``.reshape``). A blob the
        projection pass removed (``removed_blobs``), or whose memory the net reuses
        (``reused_blobs``), raises a KeyError saying so."""
        reused = set(self._net.reused_blobs)
        return _Blobs(((n, self._net.blob(i)) for i, n in enumerate(self._net.blob_names) if n not in reused),
                      set(self.removed_blobs), reused, self.name)

    @property
    def reused_blobs(self):
        """The blobs that share memory by liveness (``reuse_memory``), in net order; [] without it."""
        return list(self._net.reused_blobs)

    @property
    def arena_bytes(self):
        """Bytes of the one host arena the reused blobs share (``reuse_memory``); 0 without it."""
        return self._net.arena_bytes

    @property
    def optimized(self):
        """Whether the projection pass rewrote this net (see ``removed_blobs``)."""
        return self._net.optimized

    @property
    def removed_blobs(self):
        """The blobs of the net as written that the projection pass removed (never computed: the
        dense hypercolumn and its upsampled parts), in net order; [] without the pass."""
        return list(self._net.removed_blobs)

    @property
    def removed_layers(self):
        """The layers as written that the projection pass replaced (their parameters stay in
        ``params``); [] without the pass."""
        return list(self._net.removed_layers)

    @property
    def literal_layers(self):
        """The layers as written (``.name``, ``.type``, ``.blobs``), in net order, whether they run or
        the projection pass replaced them: ``layers`` without the pass."""
        if not self.optimized:
            return self.layers
        return _LiteralView(self).layers

    @property
    def params(self):
        """OrderedDict layer name -> list of parameter Blobs, for layers that have any, as written
        (with the projection pass too: the layers it adds view these blobs)."""
        out = OrderedDict()
        for layer in self.literal_layers:
            blobs = layer.blobs
            if blobs:
                out[layer.name] = blobs
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
        """-1 if parameter i of `layer` owns its memory, else the net index of the owner it shares
        (in the net as written; a layer by name)."""
        if self.optimized and isinstance(layer, str):
            for name, _, blobs, owners in self._net.literal_layers:
                if name == layer:
                    if not 0 <= i < len(blobs):
                        raise IndexError(f"layer '{layer}' has {len(blobs)} parameter blob(s), not {i + 1}")
                    return owners[i]
        return self._net.param_owner(*self._param_index(layer, i))

    def lr_mult(self, layer, i):
        """The lr_mult of parameter i of `layer` (its ``param { lr_mult }``; 1 when not given; 0
        for what is not learned, such as BatchNorm's statistics)."""
        return self._net.param_lr_mult(*self._param_index(layer, i))

    def decay_mult(self, layer, i):
        """The decay_mult of parameter i of `layer` (its ``param { decay_mult }``; 1 when not given)."""
        return self._net.param_decay_mult(*self._param_index(layer, i))

    def needs_backward(self, layer):
        """Whether backward runs `layer`, as Caffe decides: it has a learned parameter (lr_mult > 0)
        or an input whose gradient is needed (a learned layer before it, force_backward), and its
        outputs reach a loss (force_backward: always)."""
        return bool(self._net.layer_need_backward(self._layer_index(layer)))

    def bottom_needs_backward(self, layer):
        """For each input (bottom) blob of `layer`, in ``bottom_names`` order, whether backward
        computes its gradient (never into labels, nor past layers that need none)."""
        return [bool(b) for b in self._net.bottom_need_backward(self._layer_index(layer))]

    def _layer_index(self, layer):
        """The index in ``layers`` of a layer given by name or index; KeyError / IndexError else."""
        names = self._net.layer_names
        if isinstance(layer, (int, np.integer)) and not isinstance(layer, bool):
            if not 0 <= layer < len(names):
                raise IndexError(f"layer index {layer} out of range: net '{self.name}' has {len(names)} layers")
            return int(layer)
        try:
            return names.index(layer)
        except ValueError:
            if layer in self._net.removed_layers:
                raise RemovedError(f"no layer {layer!r} runs in this net: {_PASS}") from None
            raise KeyError(f"no layer named {layer!r}; layers: {', '.join(names)}") from None

    def _param_index(self, layer, i):
        index = self._layer_index(layer)
        count = len(self._net.layer(index).blobs)
        if not 0 <= i < count:
            raise IndexError(f"layer '{self._net.layer_names[index]}' has {count} parameter blob(s), not {i + 1}")
        return index, int(i)

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
        self.forward_layers(start, end)
        names = list(self.outputs) if end is None else self.top_names[self._net.layer_names[self._layer_index(end)]]
        names += [b for b in (blobs or []) if b not in names]
        return {n: all_blobs[n].data for n in names}

    def forward_layers(self, start=None, end=None):
        """Run the forward pass of layers `start` to `end` (inclusive; default: all) on the blobs as
        they are, setting nothing and returning no arrays (pycaffe's ``_forward``; what a profile
        of one layer times). Returns the loss those layers produce: the sum of each loss output
        times its loss_weight."""
        first = 0 if start is None else self._layer_index(start)
        last = self._net.num_layers - 1 if end is None else self._layer_index(end)
        if first > last:
            raise ValueError(f"forward_layers({start!r}, {end!r}): layer {first} comes after layer {last}")
        return self._net.forward_from_to(first, last)

    def backward(self, start=None, end=None, **diffs):
        """Run backward (from the last layer, or `start`, down to `end`), optionally setting top
        diffs first; returns {input name: diff array}. Loss blobs already carry their loss_weight
        as diff, as in Caffe."""
        all_blobs = self.blobs
        for name, value in diffs.items():
            all_blobs[name].diff[...] = np.asarray(value, dtype=np.float32)
        self.backward_layers(start, end)
        return {n: all_blobs[n].diff for n in self.inputs}

    def backward_layers(self, start=None, end=None):
        """Run the backward pass from layer `start` down to layer `end` (inclusive; default: all)
        on the diffs as they are (pycaffe's ``_backward``); layers that need no backward
        (needs_backward) are skipped, as in Caffe. Parameter gradients accumulate: see
        clear_param_diffs."""
        first = self._net.num_layers - 1 if start is None else self._layer_index(start)
        last = 0 if end is None else self._layer_index(end)
        if first < last:
            raise ValueError(f"backward_layers({start!r}, {end!r}): layer {first} comes before layer {last}")
        self._net.backward_from_to(first, last)

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
        blobs = self.blobs
        for layer, tops in self.top_names.items():
            for top in tops:
                if top in blobs and not np.isfinite(blobs[top].data).all():  # (not the reused_blobs)
                    return layer, top
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
        """Load Caffe HDF5 weights (see pycolorize.engine.weights.load_weights)."""
        from pycolorize.engine.weights import load_weights

        return load_weights(self, path)

    def save(self, path):
        """Write Caffe HDF5 weights (``/data/<layer>/<i>``), atomically."""
        from pycolorize.engine.weights import save_weights

        save_weights(_LiteralView(self) if self.optimized else self, path)

    def __repr__(self):
        return f"<pycolorize.Net {self.name!r} ({self.phase}, {self._net.num_layers} layers) from {self.source}>"

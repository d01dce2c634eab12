"""A net prototxt as one torch.nn.Module (CaffeNet), built from the file, with its weights, and
written back to Caffe's HDF5 layout. See pycolorize.export for the functions; this module imports
PyTorch."""
import os
import warnings
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn

from pycolorize.engine.net import Net
from pycolorize.engine.weights import write_caffe_h5
from pycolorize.export import layers as L
from pycolorize.export.prototxt import Message, read_net

_PHASES = {"test": "TEST", "train": "TRAIN"}


class CaffeNet(nn.Module):
    """A Caffe net in PyTorch, layer for layer as its prototxt writes it (the auto-inserted Split
    layers of Caffe's graph included, the projection pass's rewriting not).

    net(data) or net(data=..., centroids=...) -> OrderedDict {output blob: tensor}: the inputs by
    position (``inputs`` order) or by name; ``blobs=[names]`` returns those blobs too (a blob a layer
    rewrites in place holds its last value, as in Caffe). Outputs are the blobs no layer reads
    (``outputs``), as pycolorize.Net.forward returns them; for a training net, the losses, which
    ``loss(out)`` sums with their loss_weight.

    ``layers``: nn.ModuleDict of the layers, by name ('.' in a name becomes '_'); each has
    ``caffe_name``, ``caffe_type``, ``bottoms``, ``tops`` and ``caffe_blobs()``. Learned blobs are
    parameters (requires_grad False where the prototxt's lr_mult is 0: the fixed bilinear kernels,
    frozen convolutions), BatchNorm's statistics are buffers. ``param_groups(lr, weight_decay)``
    gives torch.optim groups with the prototxt's lr_mult and decay_mult, as Caffe's SGD applies
    them. ``caffe_weights()`` is {layer: [arrays]} in Caffe's HDF5 layout (pycolorize.export.from_torch
    writes it).

    Built in eval() for a TEST net and train() for a TRAIN net; as any module, train() turns on
    Dropout (PyTorch's masks) and BatchNorm's batch statistics (Caffe's running sums) unless the
    prototxt fixes use_global_stats."""

    def __init__(self, name, phase, source, layer_modules, input_shapes, outputs, loss_weights, param_specs):
        super().__init__()
        self.caffe_net_name, self.phase, self.source = name, phase, source
        self.layers = nn.ModuleDict()
        for layer in layer_modules:
            self.layers[_key(layer.caffe_name, self.layers)] = layer
        self.input_shapes = OrderedDict(input_shapes)
        self.inputs = list(self.input_shapes)
        self.outputs = list(outputs)
        self.loss_weights = OrderedDict(loss_weights)
        self._param_specs = param_specs  # (layer key, blob attr) -> (lr_mult, decay_mult)
        self.train(phase == "train")

    def forward(self, *args, blobs=None, **kwargs):
        if len(args) > len(self.inputs):
            raise TypeError(f"net '{self.caffe_net_name}' takes {len(self.inputs)} input(s) ({', '.join(self.inputs)}), "
                            f"got {len(args)}")
        values = dict(zip(self.inputs, args))
        for name, v in kwargs.items():
            if name not in self.input_shapes:
                raise TypeError(f"net '{self.caffe_net_name}' has no input {name!r}; inputs: {', '.join(self.inputs)}")
            if name in values:
                raise TypeError(f"input {name!r} given twice")
            values[name] = v
        missing = [n for n in self.inputs if n not in values and self._needed(n)]
        if missing:
            raise TypeError(f"net '{self.caffe_net_name}' needs input(s) {', '.join(missing)}")
        for layer in self.layers.values():
            if layer.caffe_type == "Input":
                continue
            tops = layer(*(values[b] for b in layer.bottoms))
            values.update(zip(layer.tops, tops))
        names = self.outputs + [b for b in (blobs or []) if b not in self.outputs]
        return OrderedDict((n, values[n]) for n in names)

    def _needed(self, name):
        return any(name in layer.bottoms for layer in self.layers.values())

    def loss(self, outputs):
        """The net's loss from forward's outputs: sum of each loss blob times its loss_weight."""
        terms = [w * outputs[b] for b, w in self.loss_weights.items()]
        if not terms:
            raise ValueError(f"net '{self.caffe_net_name}' has no loss")
        return sum(terms[1:], terms[0])

    def param_groups(self, lr, weight_decay=0.0):
        """torch.optim parameter groups as Caffe's SGD rates them: each learned tensor at lr * lr_mult
        and weight_decay * decay_mult (its prototxt ``param { }``); tensors with lr_mult 0 left out."""
        groups = OrderedDict()
        for key, layer in self.layers.items():
            for attr in layer._blob_names:
                t = getattr(layer, attr)
                spec = self._param_specs.get((key, attr))
                if spec is None or not isinstance(t, nn.Parameter) or not t.requires_grad or spec[0] == 0:
                    continue
                groups.setdefault(spec, []).append(t)
        return [{"params": ps, "lr": lr * lm, "weight_decay": weight_decay * dm} for (lm, dm), ps in groups.items()]

    def caffe_weights(self):
        """{layer: [float32 array or None]}: every layer's blobs in Caffe's order (None for a blob it
        shares with an earlier layer, which Caffe stores with its owner only), parameter-less layers
        with an empty list, in net order: what write_caffe_h5 takes."""
        out, seen = OrderedDict(), set()
        for layer in self.layers.values():
            blobs = []
            for t in layer.caffe_blobs():
                blobs.append(None if id(t) in seen else t.detach().cpu().contiguous().numpy().astype(np.float32, copy=False))
                seen.add(id(t))
            out[layer.caffe_name] = blobs
        return out

    def extra_repr(self):
        return f"name={self.caffe_net_name!r}, phase={self.phase!r}, inputs={self.inputs}, outputs={self.outputs}"


def _key(name, taken):
    """A ModuleDict key for layer `name`: '.' is not allowed there; a name that an nn.Module
    attribute already has, or a clash, gets a trailing '_'."""
    key = name.replace(".", "_") or "_"
    while key in taken or hasattr(nn.ModuleDict, key):
        key += "_"
    return key


class InputLayer(L.Layer):
    caffe_type = "Input"

    def forward(self):  # the net sets its tops
        raise RuntimeError("Input layers are not run")


def read_prototxt(prototxt):
    """(text bytes, filename) of a prototxt path, or of prototxt text (anything holding '{')."""
    if isinstance(prototxt, bytes) or (isinstance(prototxt, str) and "{" in prototxt):
        text = prototxt if isinstance(prototxt, bytes) else prototxt.encode()
        return text, "<string>"
    path = os.fspath(prototxt)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such prototxt file")
    with open(path, "rb") as f:
        return f.read(), path


def to_torch(prototxt, weights=None, phase="test", level=0, stages=()):
    """See pycolorize.export.to_torch."""
    if phase not in _PHASES:
        raise ValueError(f"phase must be 'train' or 'test', got {phase!r}")
    text, filename = read_prototxt(prototxt)
    net = Net.from_string(text, phase=phase, level=level, stages=stages, name=filename, optimize=False)
    if weights is not None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            net.copy_from(weights)
        for w in caught:  # the loader's (BatchNorm folded, a released file's reshape) again, from here
            warnings.warn(str(w.message), w.category, stacklevel=3)
    described = read_net(text, filename)
    return build(net, described, phase, level, stages, filename)


def build(net, described, phase, level=0, stages=(), source="<string>"):
    """The CaffeNet of pycolorize.Net `net` (built without the projection pass), with its current
    weights; `described`: the prototxt's NetText (prototxt.read_net) for each layer's parameters."""
    flat = net.flat_params()
    owners = {}  # flat parameter index -> the tensor made for it
    bottoms, tops = net.bottom_names, net.top_names
    blob_shapes = {n: tuple(b.shape) for n, b in net.blobs.items()}
    modules, inputs, specs = [], OrderedDict(), {}
    flat_index = 0
    taken = {}
    for layer in net.layers:
        name, kind = layer.name, layer.type
        param = described.layer(name, _PHASES[phase], level, stages) or Message("LayerParameter")
        tensors = []
        for i, blob in enumerate(layer.blobs):
            owner = net.param_owner(name, i)
            if owner >= 0:
                tensors.append(owners[owner])
            else:
                # the memory the Net loaded the weights into, not a copy (the array keeps it alive):
                # the module costs no second copy of the weights, even while it is built
                data = torch.from_numpy(blob.data)
                lr = net.lr_mult(name, i)
                t = data if kind == "BatchNorm" else nn.Parameter(data, requires_grad=lr != 0)
                tensors.append(t)
            owners[flat_index] = tensors[-1]
            flat_index += 1
        cls = InputLayer if kind == "Input" else L.TYPES.get(kind, L.Unsupported)
        module = cls(name, bottoms[name], tops[name], param, tensors)
        if cls is L.Unsupported:
            module.caffe_type = kind
        if kind == "Input":
            inputs.update((t, blob_shapes[t]) for t in tops[name])
        key = _key(name, taken)
        taken[key] = True
        for i, attr in enumerate(module._blob_names):
            specs[(key, attr)] = (net.lr_mult(name, i), net.decay_mult(name, i))
        modules.append(module)
    assert flat_index == len(flat)
    unsupported = [f"{m.caffe_name} ({m.caffe_type})" for m in modules if isinstance(m, L.Unsupported)]
    if unsupported:
        raise NotImplementedError(f"net '{net.name}': no PyTorch form for layer(s) {', '.join(unsupported)}")
    losses = OrderedDict((b, w) for b, w in net.blob_loss_weights.items() if w)
    return CaffeNet(net.name, phase, source, modules, inputs, net.outputs, losses, specs)


def caffe_weights_of(module_or_state_dict, prototxt, phase=None):
    """{layer: [arrays]} of a CaffeNet, or of a state_dict of one (loaded into the net of `prototxt`),
    checked against the layers and blob shapes of the net `prototxt` describes."""
    text, filename = read_prototxt(prototxt)
    if isinstance(module_or_state_dict, CaffeNet):
        module = module_or_state_dict
        phase = phase or module.phase
    elif isinstance(module_or_state_dict, nn.Module):
        module, phase = None, phase or "test"
        state = module_or_state_dict.state_dict()
    else:
        module, phase = None, phase or "test"
        state = module_or_state_dict
    net = Net.from_string(text, phase=phase, name=filename, optimize=False)
    if module is None:
        module = build(net, read_net(text, filename), phase, source=filename)
        expected = module.state_dict()
        problems = [("missing", [k for k in expected if k not in state]),
                    ("unexpected", [k for k in state if k not in expected]),
                    ("of another shape", [f"{k} {tuple(state[k].shape)} (not {tuple(v.shape)})" for k, v in expected.items()
                                          if k in state and tuple(state[k].shape) != tuple(v.shape)])]
        if any(keys for _, keys in problems):
            raise ValueError(f"the state_dict is not one of the net of {filename}: "
                             + "; ".join(f"{what}: {', '.join(keys[:4])}{', ...' if len(keys) > 4 else ''}"
                                         for what, keys in problems if keys))
        module.load_state_dict(state)
    layers = module.caffe_weights()
    expected = [layer.name for layer in net.layers]
    if list(layers) != expected:
        raise ValueError(f"the module's layers ({', '.join(list(layers)[:6])}, ...) are not those of {filename} "
                         f"({', '.join(expected[:6])}, ...)")
    for layer in net.layers:
        for i, (ours, blob) in enumerate(zip(layers[layer.name], layer.blobs)):
            if ours is not None and ours.shape != tuple(blob.shape):
                raise ValueError(f"layer '{layer.name}' blob {i}: shape {ours.shape} in the module, "
                                 f"{tuple(blob.shape)} in {filename}")
        if len(layers[layer.name]) != len(layer.blobs):
            raise ValueError(f"layer '{layer.name}': {len(layers[layer.name])} blobs in the module, "
                             f"{len(layer.blobs)} in {filename}")
    return layers


def from_torch(module_or_state_dict, prototxt, path):
    """See pycolorize.export.from_torch."""
    layers = caffe_weights_of(module_or_state_dict, prototxt)
    write_caffe_h5(layers, path)
    return list(layers)

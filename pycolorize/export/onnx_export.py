"""An inference net (the dense colorization net: prototxt/colorize_deploy.prototxt and every
models.deploy_net) written for other runtimes, and checked against pycolorize.Net.

    info = export_onnx(prototxt, weights, "colorize.onnx", size=(512, 512))
    check_onnx("colorize.onnx", prototxt, weights)     # {"prediction_h_full": 3e-7, ...}
    export_program(prototxt, weights, "colorize.pt2")  # torch.export: torch.export.load(...).module()

The graph's inputs and outputs carry the net's blob names (``data`` in; ``prediction_h_full`` and
``prediction_c_full`` out for the hue/chroma net, ``prediction_a_full``/``prediction_b_full`` or
``prediction_ab_full`` for a Lab one). The traced example has the prototxt's input shape, or `size`
(height, width). With `dynamic` (the default) the batch, height and width axes of 4-d inputs and
outputs are symbolic (``batch``, ``height``, ``width``): the graph takes any size the net itself
takes (for the dense nets, sides that are multiples of 32, as pycolorize.Net needs; the Reshape ->
Deconvolution -> Reshape upsampling is computed from the input's shape at run time). Without it,
the sizes are fixed at the traced ones.

The ONNX graph is written by PyTorch's TorchScript-based exporter (torch.onnx.export(...,
dynamo=False): the newer one would need onnxscript), its fixed output axes then set with onnx; the
torch.export program by torch.export. Both are written atomically (complete or not at all).
"""
import contextlib
import os
import warnings

import numpy as np
import torch
import torch.nn as nn

from pycolorize.export.torch_net import read_prototxt, to_torch
from pycolorize.util.files import atomic_path

OPSET = 17  # ONNX opset of the graph (ONNX Runtime 1.14 and later run it)
DIM_AXES = {0: "batch", 2: "height", 3: "width"}  # the symbolic axes of 4-d inputs and outputs


class Outputs(nn.Module):
    """A CaffeNet whose forward takes the inputs in order and returns the outputs as a tuple, in
    ``outputs`` order: the form exporters name (a dict's keys are not graph names)."""

    def __init__(self, net):
        super().__init__()
        self.net = net
        self.inputs, self.outputs = list(net.inputs), list(net.outputs)

    def forward(self, *inputs):
        out = self.net(*inputs)
        return tuple(out[name] for name in self.outputs)


def inference_net(prototxt, weights, size=None):
    """(CaffeNet in eval(), example inputs): the TEST net of `prototxt` with `weights`; the example
    has the prototxt's input shapes, with the last two axes of 4-d inputs set to `size` (height,
    width) when given. A net with losses is refused (it is not an inference net)."""
    net = to_torch(prototxt, weights, phase="test").eval()
    if net.loss_weights:
        raise ValueError(f"net '{net.caffe_net_name}' has loss layers ({', '.join(net.loss_weights)}): export writes "
                         "inference nets, such as the deploy nets (pycolorize.export.to_torch builds training nets "
                         "for PyTorch)")
    example = []
    for name, shape in net.input_shapes.items():
        shape = list(shape)
        if size is not None:
            if len(shape) != 4:
                raise ValueError(f"size {size}: input {name!r} of net '{net.caffe_net_name}' is not an image (shape {shape})")
            shape[2:] = [int(size[0]), int(size[1])]
        example.append(torch.from_numpy(np.random.RandomState(0).rand(*shape).astype(np.float32)))
    return net, tuple(example)


@contextlib.contextmanager
def _quiet():
    """Without the exporters' deprecation and tracer warnings (they are about PyTorch's future, not
    about this graph)."""
    with warnings.catch_warnings():
        for category in (DeprecationWarning, FutureWarning, torch.jit.TracerWarning):
            warnings.filterwarnings("ignore", category=category)
        warnings.filterwarnings("ignore", category=UserWarning, module=r"torch(\.|$)")
        yield


def export_onnx(prototxt, weights, path, size=None, dynamic=True, opset=None):
    """Write the inference net of `prototxt` with `weights` as an ONNX graph at `path` (atomically:
    complete or not at all); returns
    {"inputs": {name: shape}, "outputs": {name: shape}, "dynamic": bool, "opset": int}, the shapes
    as traced (symbolic axes: see the module docstring)."""
    try:
        import onnx  # noqa: F401 (the graph's output shapes are set with it)
    except ImportError as e:
        raise ImportError(f"writing ONNX needs the onnx package ({e}); pip install 'pycolorize[export]'", name="onnx") from e
    net, example = inference_net(prototxt, weights, size)
    wrapped = Outputs(net).eval()
    with torch.no_grad():
        outs = wrapped(*example)
    axes = None
    if dynamic:
        axes = {name: DIM_AXES for name, x in zip(net.inputs, example) if x.dim() == 4}
        axes.update({name: DIM_AXES for name, y in zip(net.outputs, outs) if y.dim() == 4})
    opset = opset or OPSET
    with atomic_path(path) as tmp:  # (under 2 GB: no external data files)
        with _quiet(), torch.no_grad():
            torch.onnx.export(wrapped, example, tmp, dynamo=False, input_names=net.inputs, output_names=net.outputs,
                              dynamic_axes=axes, opset_version=opset, do_constant_folding=True)
        _fixed_output_dims(tmp, {name: tuple(y.shape) for name, y in zip(net.outputs, outs)}, axes or {})
    return {"inputs": {n: tuple(x.shape) for n, x in zip(net.inputs, example)},
            "outputs": {n: tuple(y.shape) for n, y in zip(net.outputs, outs)}, "dynamic": bool(dynamic), "opset": opset}


def _fixed_output_dims(path, shapes, axes):
    """The exporter cannot always see through the dense net's Reshape {-1, C} that C is fixed (it
    names the axis "Reshape..._dim_1"): every output axis that is not dynamic gets its traced size."""
    import onnx

    model = onnx.load(path)
    changed = False
    for out in model.graph.output:
        dims = out.type.tensor_type.shape.dim
        for axis, d in enumerate(dims):
            if axis not in axes.get(out.name, {}) and d.dim_value != shapes[out.name][axis]:
                d.dim_value = shapes[out.name][axis]  # (clears dim_param)
                changed = True
    if changed:
        onnx.save(model, path)


def export_program(prototxt, weights, path, size=None, dynamic=True):
    """Write the inference net as a torch.export program (torch.export.save) at `path` (.pt2):
    ``torch.export.load(path).module()(data)`` returns the outputs as a tuple in the net's output
    order, without pycolorize. With `dynamic`, batch and the sides are symbolic, the sides
    multiples of 32 (the dense net's strides) and at least 64. Returns what export_onnx returns."""
    net, example = inference_net(prototxt, weights, size)
    wrapped = Outputs(net).eval()
    with torch.no_grad():
        outs = wrapped(*example)
    info = {"inputs": {n: tuple(x.shape) for n, x in zip(net.inputs, example)},
            "outputs": {n: tuple(y.shape) for n, y in zip(net.outputs, outs)}, "dynamic": bool(dynamic)}
    shapes = None
    if dynamic:
        # torch.export fixes an axis traced at size 1: the batch is traced at 2
        example = tuple(torch.cat([x, x]) if x.dim() == 4 else x for x in example)
        shapes = []
        for name, x in zip(net.inputs, example):
            if x.dim() == 4:
                # sides of 64 or more: at 32 the fc6/fc7 maps are 1x1, which torch.export would trace
                # as a special case (a program traced at 32 would take nothing else)
                if min(x.shape[2:]) < 64:
                    raise ValueError(f"a dynamic torch.export program is traced at sides of 64 or more (not "
                                     f"{x.shape[2]}x{x.shape[3]}); give a larger size, or fix the size (dynamic=False, --static)")
                h, w = (torch.export.Dim(f"{name}_{a}_32", min=2) for a in ("height", "width"))
                shapes.append({0: torch.export.Dim(f"{name}_batch", min=1, max=1024), 2: 32 * h, 3: 32 * w})
            else:
                shapes.append(None)
        shapes = (tuple(shapes),)  # forward(*inputs): one entry, the tuple of the inputs
    with _quiet(), torch.no_grad():
        program = torch.export.export(wrapped, example, dynamic_shapes=shapes)
    with atomic_path(path) as tmp:
        torch.export.save(program, tmp)
    return info


def relative_difference(theirs, ours):
    """max |theirs - ours| / max |ours| (the largest difference relative to the output's scale)."""
    ours = np.asarray(ours, dtype=np.float64)
    scale = float(np.abs(ours).max()) or 1.0
    return float(np.abs(np.asarray(theirs, dtype=np.float64) - ours).max()) / scale


def pycolorize_net(prototxt, weights):
    """pycolorize.Net of `prototxt` (a file or text) with `weights`, as the Colorizer builds it."""
    from pycolorize.engine.net import Net

    text, name = read_prototxt(prototxt)
    return Net.from_string(text, weights=weights, name=name)


def check_onnx(path, prototxt, weights, size=None, seed=0, batch=None):
    """onnx.checker's check of the graph at `path`, then ONNX Runtime (CPU) on a random input in
    [0, 1) against pycolorize.Net (the prototxt's input shape, or `size` (height, width); `batch`
    images); returns {output: max relative difference} (relative_difference)."""
    import onnx
    import onnxruntime as ort

    onnx.checker.check_model(os.fspath(path), full_check=True)
    session = ort.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"])
    net = pycolorize_net(prototxt, weights)
    feeds = _random_feeds(net, [i.name for i in session.get_inputs()], size, batch, seed)
    got = dict(zip([o.name for o in session.get_outputs()], session.run(None, feeds)))
    want = net.forward(**feeds)
    if set(want) != set(got):
        raise ValueError(f"{path}: outputs {sorted(got)} are not the net's {sorted(want)}")
    return {k: relative_difference(got[k], want[k]) for k in want}


def _random_feeds(net, names, size, batch, seed):
    rng = np.random.RandomState(seed)
    feeds = {}
    for name in names:
        shape = list(net.blobs[name].shape)
        if size is not None and len(shape) == 4:
            shape[2:] = [int(size[0]), int(size[1])]
        if batch is not None:
            shape[0] = int(batch)
        feeds[name] = rng.rand(*shape).astype(np.float32)
    return feeds


def check_program(path, prototxt, weights, size=None, seed=0, batch=None):
    """A torch.export program at `path` (export_program) loaded and run on a random input in [0, 1)
    against pycolorize.Net, as check_onnx; returns {output: max relative difference}."""
    program = torch.export.load(os.fspath(path))
    net = pycolorize_net(prototxt, weights)
    feeds = _random_feeds(net, net.inputs, size, batch, seed)
    with torch.no_grad():
        got = program.module()(*(torch.from_numpy(feeds[n]) for n in net.inputs))
    want = net.forward(**feeds)
    if len(got) != len(want):
        raise ValueError(f"{path}: {len(got)} outputs, the net has {len(want)} ({', '.join(want)})")
    return {k: relative_difference(g.numpy(), want[k]) for k, g in zip(want, got)}

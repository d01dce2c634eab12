"""The colorization nets outside pycolorize: as a PyTorch module, back from one, and as an ONNX or
torch.export graph (docs/export.md).

    net = to_torch("prototxt/colorize_deploy.prototxt", "autocolorize.caffemodel.h5")
    out = net(torch.from_numpy(gray[None, None]))     # {"prediction_h_full": ..., "prediction_c_full": ...}
    from_torch(net, "prototxt/colorize_deploy.prototxt", "tuned.caffemodel.h5")
    export_onnx("prototxt/colorize_deploy.prototxt", "autocolorize.caffemodel.h5", "colorize.onnx")

The module is built from the prototxt as written (prototxt: a layer per layer, its parameters and
defaults read with the core's schema), so it follows the file: every net pycolorize.models
generates (the deploy and training nets of every output space, the from-scratch net with its
BatchNorm, the segmentation nets) and the authors' own files.

May import: pycolorize.models, pycolorize.engine and pycolorize.util (the layer between models and
colorization). Importing it imports no PyTorch, ONNX or ONNX Runtime: the functions do, when called
(pip install 'pycolorize[export]').
"""

__all__ = ["to_torch", "from_torch", "export_onnx", "export_torch", "check_onnx", "check_torch", "EXTRA"]

EXTRA = "pip install 'pycolorize[export]'"  # torch, onnx, onnxruntime


def _module(name):
    """pycolorize.export.<name> (torch_net, onnx_export), which import PyTorch: an ImportError saying
    how to install it when it is missing."""
    import importlib

    try:
        return importlib.import_module(f"pycolorize.export.{name}")
    except ImportError as e:
        if getattr(e, "name", None) in ("torch", "onnx", "onnxruntime"):
            raise ImportError(f"pycolorize.export needs PyTorch ({e}); {EXTRA}", name=e.name) from e
        raise


def to_torch(prototxt, weights=None, phase="test", level=0, stages=()):
    """A torch.nn.Module (export.torch_net.CaffeNet) computing the net of `prototxt` (a file, or
    prototxt text) with the weights of `weights` (Caffe HDF5, loaded as pycolorize.Net loads them:
    InnerProduct/1x1-convolution shapes, the released file's fc6, BatchNorm statistics folded into
    a net without BatchNorm layers; None: the prototxt's fillers). `phase` "test" (Dropout off,
    BatchNorm on its stored statistics; the module in eval()) or "train" (the layers a TRAIN net
    keeps; the module in train()). Its outputs equal pycolorize.Net's to float32 rounding."""
    return _module("torch_net").to_torch(prototxt, weights, phase, level, stages)


def from_torch(module_or_state_dict, prototxt, path):
    """Write the weights of a to_torch module (or of its state_dict, or of a module with that
    state_dict) to `path` in Caffe's HDF5 layout (/data/<layer>/<i>, every layer, atomically),
    checked against the layers and shapes of `prototxt`, so that pycolorize.Net(prototxt,
    weights=path) computes what the module does. Returns the layer names written."""
    return _module("torch_net").from_torch(module_or_state_dict, prototxt, path)


def export_onnx(prototxt, weights, path, size=None, dynamic=True, opset=None):
    """Write the inference net of `prototxt` with `weights` as an ONNX graph (see export.onnx_export)."""
    return _module("onnx_export").export_onnx(prototxt, weights, path, size=size, dynamic=dynamic, opset=opset)


def export_torch(prototxt, weights, path, size=None, dynamic=True):
    """Write the inference net as a torch.export program (.pt2; see export.onnx_export)."""
    return _module("onnx_export").export_program(prototxt, weights, path, size=size, dynamic=dynamic)


def check_onnx(path, prototxt, weights, size=None, seed=0, batch=None):
    """onnx.checker on `path`, and ONNX Runtime's outputs against pycolorize.Net's (see export.onnx_export)."""
    return _module("onnx_export").check_onnx(path, prototxt, weights, size=size, seed=seed, batch=batch)


def check_torch(path, prototxt, weights, size=None, seed=0, batch=None):
    """The torch.export program at `path` against pycolorize.Net, as check_onnx (see export.onnx_export)."""
    return _module("onnx_export").check_program(path, prototxt, weights, size=size, seed=seed, batch=batch)

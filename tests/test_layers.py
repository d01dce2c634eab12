"""Every layer against the naive NumPy references of reference.py (forward and backward), plus a
finite-difference gradient check through the whole (single-layer) net.

Tolerances: forward/backward vs the float64 references 1e-5 (scaled as in conftest.assert_close);
gradient checks use Caffe's float32 settings (step 1e-2, threshold 1e-2 relative to
max(|analytic|, |numeric|, 1)) with inputs kept away from kinks (ReLU at 0, max ties).
"""
import numpy as np
import pytest

import pycolorize
from pycolorize._core import _testing  # Philox and Dropout's seed: hooks for the tests only
from pycolorize.engine.gradcheck import check_gradients

import reference as ref
from conftest import CPU_PATHS, assert_close, cpu_path, net_from

TOL = 1e-5


def build(layer, inputs, phase="test"):
    """A force_backward net: one Input layer per input, then `layer` (prototxt body) named L."""
    text = "force_backward: true\n"
    for name, arr in inputs.items():
        dims = " ".join(f"dim: {d}" for d in arr.shape)
        text += f'layer {{ name: "{name}" type: "Input" top: "{name}" input_param {{ shape {{ {dims} }} }} }}\n'
    text += "layer { name: \"L\" " + layer + " }\n"
    net = net_from(text, phase=phase)
    for name, arr in inputs.items():
        net.blobs[name].data[...] = arr
    return net


def fwd_bwd(net, tops, seed=0):
    """Forward, random top diffs on `tops`, backward; returns (outputs, top diffs)."""
    net.forward()
    rng = np.random.RandomState(seed)
    diffs = {}
    for b in net.blobs.values():
        b.diff[...] = 0
    net.clear_param_diffs()
    for t in tops:
        diffs[t] = rng.randn(*net.blobs[t].shape).astype(np.float32)
        net.blobs[t].diff[...] = diffs[t]
    net.backward()
    return {t: net.blobs[t].data.copy() for t in tops}, diffs


def spread(shape, seed, gap=0.05):
    """Distinct values at least `gap` apart, away from 0 (no kinks for ReLU or max)."""
    n = int(np.prod(shape))
    v = (np.random.RandomState(seed).permutation(n) - n / 2 + 0.5) * gap
    return v.reshape(shape).astype(np.float32)


CONV_CASES = [
    # (C, H, W, num_output, k, s, p, d, group, bias)
    (3, 7, 9, 4, (3, 3), (1, 1), (1, 1), (1, 1), 1, True),
    (4, 11, 13, 6, (3, 3), (2, 2), (0, 0), (2, 2), 2, True),
    (5, 6, 7, 3, (1, 1), (1, 1), (0, 0), (1, 1), 1, False),
    (2, 9, 8, 4, (3, 5), (2, 1), (1, 2), (1, 1), 1, True),
    (4, 8, 8, 4, (3, 3), (1, 1), (1, 1), (1, 1), 4, True),
    # wider ones, as VGG's: a 7x7 kernel (fc6's), unequal pads
    (16, 9, 9, 18, (7, 7), (1, 1), (3, 3), (1, 1), 1, True),
    (16, 5, 8, 16, (3, 3), (1, 1), (2, 1), (1, 1), 1, True),
    # stride 1 in height only, dilated, padded past the kernel, out_w of 3 (the kernel-row unfolding's edges)
    (3, 5, 4, 4, (3, 2), (1, 3), (1, 3), (2, 1), 1, True),
    (2, 4, 11, 3, (2, 3), (1, 2), (0, 2), (1, 3), 1, False),
]


def conv_text(kind, o, k, s, p, d, g, bias, engine="DEFAULT"):
    return (f'type: "{kind}" bottom: "x" top: "y" convolution_param {{ engine: {engine} num_output: {o} kernel_h: {k[0]} kernel_w: {k[1]} '
            f'stride_h: {s[0]} stride_w: {s[1]} pad_h: {p[0]} pad_w: {p[1]} dilation: {d[0]} dilation: {d[1]} group: {g} '
            f'bias_term: {"true" if bias else "false"} weight_filler {{ type: "gaussian" std: 0.3 }} '
            f'bias_filler {{ type: "uniform" min: -0.5 max: 0.5 }} }}')


# On the GPU each engine runs: cuDNN (DEFAULT, CUDNN) and im2col + cuBLAS (CAFFE); the CPU has one.
ENGINES = ["DEFAULT", "CAFFE", "CUDNN"]


def skip_cpu_engines(device, engine):
    if device == "cpu" and engine != "DEFAULT":
        pytest.skip("the CPU has one engine")


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case", CONV_CASES)
def test_convolution(device, case, engine):
    skip_cpu_engines(device, engine)
    x = np.random.RandomState(1).randn(2, *case[:3]).astype(np.float32)
    net = build(conv_text("Convolution", *case[3:], engine), {"x": x})
    check_convolution(net, x, case, *fwd_bwd(net, ["y"]), "conv")


def check_convolution(net, x, case, out, dy, what):
    """A Convolution net's forward and gradients (after fwd_bwd) against the float64 reference,
    then the finite-difference check."""
    C, H, W, O, k, s, p, d, g, bias = case
    w = net.params["L"][0].data.astype(np.float64)
    b = net.params["L"][1].data.astype(np.float64) if bias else None
    assert_close(out["y"], ref.conv2d(x, w, b, s, p, d, g), TOL, f"{what} forward")
    dx, dw, db = ref.conv2d_backward(x, w, dy["y"].astype(np.float64), s, p, d, g)
    assert_close(net.blobs["x"].diff, dx, TOL, f"{what} dx")
    assert_close(net.params["L"][0].diff, dw, TOL, f"{what} dw")
    if bias:
        assert_close(net.params["L"][1].diff, db, TOL, f"{what} db")
    check_gradients(net)


def test_convolution_batch_split_into_gemms_of_two_images():
    """Three images with 81 output positions each, and a buffer budget for two: one GEMM of two
    images and one of the third (images_per_gemm), forward and both gradients."""
    C, O, k = 16, 18, (7, 7)
    x = np.random.RandomState(5).randn(3, C, 9, 9).astype(np.float32)
    _testing.set_conv_batch_floats(2 * (C * 49 + O) * 81 + 1)
    try:
        net = build(conv_text("Convolution", O, k, (1, 1), (3, 3), (1, 1), 1, True), {"x": x})
        out, dy = fwd_bwd(net, ["y"])
    finally:
        _testing.set_conv_batch_floats(2 ** 24)
    w, b = net.params["L"][0].data.astype(np.float64), net.params["L"][1].data.astype(np.float64)
    assert_close(out["y"], ref.conv2d(x, w, b, (1, 1), (3, 3)), TOL, "split batch forward")
    dx, dw, db = ref.conv2d_backward(x, w, dy["y"].astype(np.float64), (1, 1), (3, 3))
    assert_close(net.blobs["x"].diff, dx, TOL, "split batch dx")
    assert_close(net.params["L"][0].diff, dw, TOL, "split batch dw")
    assert_close(net.params["L"][1].diff, db, TOL, "split batch db")


def test_convolution_large_image_uses_several_bands(device):
    # 64 channels x 3x3 on a 160x96 image: 8.8M column entries, more than one 4M-float band
    x = np.random.RandomState(2).randn(1, 64, 160, 96).astype(np.float32)
    net = build(conv_text("Convolution", 8, (3, 3), (1, 1), (1, 1), (1, 1), 1, True), {"x": x})
    out, dy = fwd_bwd(net, ["y"])
    w, b = net.params["L"][0].data.astype(np.float64), net.params["L"][1].data.astype(np.float64)
    assert_close(out["y"], ref.conv2d(x, w, b, (1, 1), (1, 1)), TOL, "banded conv forward")
    dx, dw, _ = ref.conv2d_backward(x, w, dy["y"].astype(np.float64), (1, 1), (1, 1))
    assert_close(net.blobs["x"].diff, dx, TOL, "banded conv dx")
    assert_close(net.params["L"][0].diff, dw, 1e-4, "banded conv dw")


# The CPU's three ways to run a convolution (conftest.CPU_PATHS), each on every case.
def expected_passes(path, k, s, p, d, g, depthwise=False):
    """Which ways a forced CPU path runs a layer's passes (forward, input and weight gradients):
    {"im2col", "kernel_rows", "winograd"} -> whether any pass runs that way."""
    wino = path == "winograd" and k == (3, 3) and s == (1, 1) and d == (1, 1) and g == 1 and max(p) <= 2
    rows = path != "im2col" and s[0] == 1 and k[0] > 1 and not depthwise and not wino
    return {"im2col": not rows and not wino and not depthwise, "kernel_rows": rows, "winograd": wino}


def ran(counts):
    return {way: n > 0 for way, n in counts.items()}


@pytest.mark.parametrize("path", CPU_PATHS)
@pytest.mark.parametrize("case", CONV_CASES)
def test_convolution_cpu_paths(case, path):
    C, H, W, O, k, s, p, d, g, bias = case
    x = np.random.RandomState(6).randn(3, C, H, W).astype(np.float32)
    with cpu_path(path):
        net = build(conv_text("Convolution", O, k, s, p, d, g, bias), {"x": x})
        _testing.conv_path_counts(reset=True)
        out, dy = fwd_bwd(net, ["y"])
        assert ran(_testing.conv_path_counts()) == expected_passes(path, k, s, p, d, g)
        check_convolution(net, x, case, out, dy, path)


@pytest.mark.parametrize("path", CPU_PATHS)
@pytest.mark.parametrize("dilation", [1, 2])
def test_convolution_cpu_paths_in_several_bands(path, dilation):
    """Two 40x64 images, bands as small as allowed: 32 output rows per kernel-row band (2048
    positions) with a halo of (3 - 1) * dilation rows shared with the next, one tile row per
    Winograd band, the tiles of both images numbered on."""
    x = np.random.RandomState(7).randn(2, 8, 40, 64).astype(np.float32)
    outs = {}
    for name in ("im2col", path):
        with cpu_path(name, band_floats=1):
            net = build(conv_text("Convolution", 6, (3, 3), (1, 1), (dilation, dilation), (dilation, dilation), 1, True), {"x": x})
            out, dy = fwd_bwd(net, ["y"])
            w, b = net.params["L"][0].data.astype(np.float64), net.params["L"][1].data.astype(np.float64)
            s, p, d = (1, 1), (dilation, dilation), (dilation, dilation)
            assert_close(out["y"], ref.conv2d(x, w, b, s, p, d), TOL, f"{name} forward")
            dx, dw, _ = ref.conv2d_backward(x, w, dy["y"].astype(np.float64), s, p, d)
            assert_close(net.blobs["x"].diff, dx, TOL, f"{name} dx")
            assert_close(net.params["L"][0].diff, dw, 1e-4, f"{name} dw")
            outs[name] = (out["y"], net.blobs["x"].diff.copy())
    if path == "winograd" and dilation == 1:  # the knob reaches a different computation: other roundings
        assert not np.array_equal(outs["im2col"][0], outs[path][0])
        assert not np.array_equal(outs["im2col"][1], outs[path][1])


@pytest.mark.parametrize("channels,size,images,winograd", [
    (128, 32, 2, True),    # 128 channels on both sides, 2 x 16 x 16 = 512 tiles: where it pays
    (128, 30, 2, False),   # 450 tiles
    (64, 32, 2, False),    # 64 channels
])
def test_winograd_runs_by_default_where_it_pays(channels, size, images, winograd):
    x = np.random.RandomState(9).randn(images, channels, size, size).astype(np.float32)
    net = build(conv_text("Convolution", 128, (3, 3), (1, 1), (1, 1), (1, 1), 1, True), {"x": x})
    _testing.conv_path_counts(reset=True)
    net.forward()
    assert (_testing.conv_path_counts()["winograd"] == 1) == winograd
    w, b = net.params["L"][0].data.astype(np.float64), net.params["L"][1].data.astype(np.float64)
    assert_close(net.blobs["y"].data, ref.conv2d(x, w, b, (1, 1), (1, 1)), TOL, "default path forward")


DECONV_CASES = [
    (3, 4, 5, 4, (4, 4), (3, 3), (1, 1), (1, 1), 1, True),
    (1, 3, 5, 1, (4, 4), (2, 2), (1, 1), (1, 1), 1, False),   # the bilinear x2 upsampler's shape
    (3, 3, 4, 3, (8, 8), (4, 4), (2, 2), (1, 1), 3, True),    # depthwise with groups
    (2, 4, 4, 4, (3, 3), (1, 2), (0, 1), (2, 1), 2, True),
    # depthwise geometries the phase-gathered forward (layers/conv/depthwise.cpp) must get right:
    # dilation, unequal strides, pad 0 and pad > stride, kernels shorter than the stride
    (2, 5, 6, 2, (3, 5), (2, 3), (2, 0), (2, 1), 2, False),
    (1, 4, 3, 1, (5, 2), (1, 3), (0, 1), (1, 3), 1, True),
]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case", DECONV_CASES)
def test_deconvolution(device, case, engine):
    skip_cpu_engines(device, engine)
    x = np.random.RandomState(3).randn(2, *case[:3]).astype(np.float32)
    net = build(conv_text("Deconvolution", *case[3:], engine), {"x": x})
    check_deconvolution(net, x, case, *fwd_bwd(net, ["y"]), "deconv")


def check_deconvolution(net, x, case, out, dy, what):
    """A Deconvolution net's forward and gradients (after fwd_bwd) against the float64 reference,
    then the finite-difference check."""
    C, H, W, O, k, s, p, d, g, bias = case
    w = net.params["L"][0].data.astype(np.float64)
    b = net.params["L"][1].data.astype(np.float64) if bias else None
    assert_close(out["y"], ref.deconv2d(x, w, b, s, p, d, g), TOL, f"{what} forward")
    # the adjoint of deconvolution is convolution with the same weights
    dyd = dy["y"].astype(np.float64)
    # (deconvolution weights (C, O/g, k, k) are those of the convolution from O to C channels)
    assert_close(net.blobs["x"].diff, ref.conv2d(dyd, w, None, s, p, d, g), TOL, f"{what} dx")
    _, dw, _ = ref.conv2d_backward(dyd, w, x.astype(np.float64), s, p, d, g)
    assert_close(net.params["L"][0].diff, dw, TOL, f"{what} dw")
    if bias:
        assert_close(net.params["L"][1].diff, dyd.sum(axis=(0, 2, 3)), TOL, f"{what} db")
    check_gradients(net)


@pytest.mark.parametrize("path", ["im2col", "kernel_rows"])
@pytest.mark.parametrize("case", DECONV_CASES)
def test_deconvolution_cpu_paths(case, path):
    C, H, W, O, k, s, p, d, g, bias = case
    x = np.random.RandomState(8).randn(2, C, H, W).astype(np.float32)
    with cpu_path(path):
        net = build(conv_text("Deconvolution", O, k, s, p, d, g, bias), {"x": x})
        _testing.conv_path_counts(reset=True)
        out, dy = fwd_bwd(net, ["y"])
        assert ran(_testing.conv_path_counts()) == expected_passes(path, k, s, p, d, g, depthwise=C == g and O == g)
        check_deconvolution(net, x, case, out, dy, f"{path} deconv")


def test_bilinear_filler_and_upsampling(device):
    x = np.random.RandomState(4).rand(2, 1, 5, 6).astype(np.float32)
    net = build('type: "Deconvolution" bottom: "x" top: "y" param { lr_mult: 0 } convolution_param { num_output: 1 '
                'kernel_size: 8 stride: 4 pad: 2 bias_term: false weight_filler { type: "bilinear" } }', {"x": x})
    w = net.params["L"][0].data
    np.testing.assert_allclose(w[0, 0], ref.bilinear_kernel(8), rtol=1e-6)
    y = net.forward()["y"]
    assert y.shape == (2, 1, 20, 24)
    assert_close(y, ref.deconv2d(x, w.astype(np.float64), None, (4, 4), (2, 2)), TOL, "x4 upsampling")
    # interior of a constant image upsamples to the constant (border pixels lose mass, as in Caffe)
    net.blobs["x"].data[...] = 1
    y = net.forward()["y"]
    np.testing.assert_allclose(y[:, :, 4:-4, 4:-4], 1, rtol=1e-6)


def test_projection(device):
    """A 1x1 convolution of the bottoms' channel concatenation, without the concatenation."""
    rng = np.random.RandomState(11)
    xs = {"a": rng.randn(2, 3, 4, 5), "b": rng.randn(2, 1, 4, 5), "c": rng.randn(2, 4, 4, 5)}
    xs = {k: v.astype(np.float32) for k, v in xs.items()}
    net = build('type: "Projection" bottom: "a" bottom: "b" bottom: "c" top: "y" convolution_param { num_output: 6 '
                'weight_filler { type: "gaussian" std: 0.5 } bias_filler { type: "gaussian" std: 0.5 } }', xs)
    w, b = (p.data.astype(np.float64) for p in net.params["L"])
    assert w.shape == (6, 8, 1, 1)
    out, dy = fwd_bwd(net, ["y"])
    x = np.concatenate([xs["a"], xs["b"], xs["c"]], axis=1).astype(np.float64)
    assert_close(out["y"], ref.conv2d(x, w, b), TOL, "projection forward")
    dx, dw, db = ref.conv2d_backward(x, w, dy["y"].astype(np.float64))
    assert_close(np.concatenate([net.blobs[k].diff for k in "abc"], axis=1), dx, TOL, "projection dx")
    assert_close(net.params["L"][0].diff, dw, TOL, "projection dw")
    assert_close(net.params["L"][1].diff, db, TOL, "projection db")
    check_gradients(net)


def test_projection_rejects_bottoms_of_other_sizes():
    with pytest.raises(pycolorize.Error, match=r"layer 'L'.*bottom 1 has shape \(1, 2, 4, 6\)"):
        build('type: "Projection" bottom: "a" bottom: "b" top: "y" convolution_param { num_output: 2 }',
              {"a": np.zeros((1, 3, 4, 5), np.float32), "b": np.zeros((1, 2, 4, 6), np.float32)})


RESAMPLE_CASES = [
    # (kernel, stride, pad, dilation, input H x W)
    ((4, 4), (2, 2), (1, 1), (1, 1), (5, 6)),     # the bilinear x2 upsampler
    ((16, 16), (8, 8), (4, 4), (1, 1), (3, 2)),   # x8: the strides the blocked forward takes
    ((3, 5), (2, 3), (2, 0), (2, 1), (4, 3)),
]


@pytest.mark.parametrize("case", RESAMPLE_CASES)
@pytest.mark.parametrize("add", [True, False], ids=["add", "alone"])
def test_resample_add(device, case, add):
    """y += D(x) per channel plane (D a single-channel Deconvolution); with x alone, y = D(x)."""
    k, s, p, d, (H, W) = case
    rng = np.random.RandomState(12)
    x = rng.randn(2, 3, H, W).astype(np.float32)
    Ho, Wo = ((H - 1) * s[0] + d[0] * (k[0] - 1) + 1 - 2 * p[0], (W - 1) * s[1] + d[1] * (k[1] - 1) + 1 - 2 * p[1])
    y0 = rng.randn(2, 3, Ho, Wo).astype(np.float32)
    conv = (f'convolution_param {{ kernel_h: {k[0]} kernel_w: {k[1]} stride_h: {s[0]} stride_w: {s[1]} pad_h: {p[0]} '
            f'pad_w: {p[1]} dilation: {d[0]} dilation: {d[1]} bias_term: false weight_filler {{ type: "gaussian" }} }}')
    text = "force_backward: true\n"
    for name, arr in (("x", x), ("y_in", y0)):
        dims = " ".join(f"dim: {n}" for n in arr.shape)
        text += f'layer {{ name: "{name}" type: "Input" top: "{name}" input_param {{ shape {{ {dims} }} }} }}\n'
    if add:  # (a copy first, so that repeated forwards start from y0)
        text += 'layer { name: "y" type: "Power" bottom: "y_in" top: "y" }\n'
        text += 'layer { name: "L" type: "ResampleAdd" bottom: "y" bottom: "x" top: "y" ' + conv + " }\n"
    else:
        text += 'layer { name: "L" type: "ResampleAdd" bottom: "x" top: "y" ' + conv + " }\n"
    net = net_from(text)
    net.blobs["x"].data[...] = x
    net.blobs["y_in"].data[...] = y0
    w = net.params["L"][0].data.astype(np.float64)
    assert w.shape == (1, 1) + k
    out, dy = fwd_bwd(net, ["y"])
    planes = x.reshape(6, 1, H, W).astype(np.float64)
    up = ref.deconv2d(planes, w, None, s, p, d).reshape(2, 3, Ho, Wo)
    assert_close(out["y"], up + (y0 if add else 0), TOL, "resample-add forward")
    dyp = dy["y"].astype(np.float64).reshape(6, 1, Ho, Wo)
    assert_close(net.blobs["x"].diff, ref.conv2d(dyp, w, None, s, p, d).reshape(x.shape), TOL, "resample-add dx")
    assert_close(net.params["L"][0].diff, ref.conv2d_backward(dyp, w, planes, s, p, d)[1], TOL, "resample-add dw")
    if add:
        assert_close(net.blobs["y_in"].diff, dy["y"], TOL, "resample-add passes the sum's gradient through")
    check_gradients(net)


POOL_CASES = [
    ("MAX", (2, 2), (2, 2), (0, 0), (7, 9)),
    ("MAX", (3, 3), (2, 2), (1, 1), (7, 9)),
    ("AVE", (3, 3), (2, 2), (1, 1), (7, 9)),
    ("AVE", (4, 4), (4, 4), (0, 0), (10, 13)),
    ("MAX", (3, 2), (1, 2), (1, 0), (6, 7)),
    ("AVE", (2, 3), (2, 1), (1, 1), (5, 6)),
]


@pytest.mark.parametrize("case", POOL_CASES)
def test_pooling(device, case):
    method, k, s, p, (H, W) = case
    x = spread((2, 3, H, W), 5)
    net = build(f'type: "Pooling" bottom: "x" top: "y" pooling_param {{ pool: {method} kernel_h: {k[0]} kernel_w: {k[1]} '
                f'stride_h: {s[0]} stride_w: {s[1]} pad_h: {p[0]} pad_w: {p[1]} }}', {"x": x})
    out, dy = fwd_bwd(net, ["y"])
    y, arg = ref.pool2d(x.astype(np.float64), k, s, p, method)
    assert_close(out["y"], y, TOL, "pool forward")
    dx = ref.pool2d_backward(x, dy["y"].astype(np.float64), k, s, p, method, arg)
    assert_close(net.blobs["x"].diff, dx, TOL, "pool dx")
    check_gradients(net)


def test_pooling_floor_mode_global_and_mask_top(device):
    x = spread((1, 2, 7, 7), 6)
    net = build('type: "Pooling" bottom: "x" top: "y" top: "mask" pooling_param { pool: MAX kernel_size: 2 stride: 2 round_mode: FLOOR }', {"x": x})
    out = net.forward()
    y, arg = ref.pool2d(x.astype(np.float64), (2, 2), (2, 2), (0, 0), "MAX", ceil=False)
    assert out["y"].shape == (1, 2, 3, 3)
    assert_close(out["y"], y, TOL, "floor pooling")
    np.testing.assert_array_equal(out["mask"], arg)
    net = build('type: "Pooling" bottom: "x" top: "y" pooling_param { pool: AVE global_pooling: true }', {"x": x})
    assert_close(net.forward()["y"], x.mean(axis=(2, 3), keepdims=True), TOL, "global pooling")


@pytest.mark.parametrize("slope", [0.0, 0.1])
def test_relu(device, slope):
    x = spread((2, 3, 4, 5), 7)
    net = build(f'type: "ReLU" bottom: "x" top: "y" relu_param {{ negative_slope: {slope} }}', {"x": x})
    out, dy = fwd_bwd(net, ["y"])
    assert_close(out["y"], np.where(x > 0, x, slope * x), TOL)
    assert_close(net.blobs["x"].diff, dy["y"] * np.where(x > 0, 1, slope), TOL)
    check_gradients(net)


def test_dropout_train_and_test(device):
    x = np.random.RandomState(8).rand(4, 50, 10).astype(np.float32) + 1
    pycolorize.set_random_seed(5)
    net = build('type: "Dropout" bottom: "x" top: "y" dropout_param { dropout_ratio: 0.3 }', {"x": x}, phase="train")
    out, dy = fwd_bwd(net, ["y"])
    kept = out["y"] != 0
    assert 0.6 < kept.mean() < 0.8  # keep probability 0.7
    assert_close(out["y"][kept], x[kept] / 0.7, TOL)
    assert_close(net.blobs["x"].diff, dy["y"] * kept / 0.7, TOL)
    check_gradients(net)  # the checker reseeds before each forward, so the mask repeats
    net = build('type: "Dropout" bottom: "x" top: "y" dropout_param { dropout_ratio: 0.3 }', {"x": x}, phase="test")
    np.testing.assert_array_equal(net.forward()["y"], x)


def test_philox_matches_the_random123_known_answers():
    # Random123's kat_vectors, philox4x32 10: counter[4], key[2] -> four words
    cases = [((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
             ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
             ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
              (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1))]
    for counter, key, words in cases:
        assert tuple(_testing.philox4x32_10(list(counter), list(key))) == words
        assert ref.philox4x32_10(counter, key) == words


def test_dropout_mask_is_philox_of_the_drawn_seed(device):
    # Element i is kept when word i % 4 of Philox block i // 4 (key = the 64-bit seed drawn for
    # this forward) is at least r * 2^32; the Python reference recomputes all 4000 elements.
    x = np.ones((4, 1000), np.float32)
    pycolorize.set_random_seed(3)
    net = build('type: "Dropout" bottom: "x" top: "y" dropout_param { dropout_ratio: 0.25 }', {"x": x}, phase="train")
    kept = net.forward()["y"].reshape(-1) != 0
    seed = _testing.dropout_seed(net.layers[1])
    words = np.array([w for b in range(1000) for w in ref.philox4x32_10((b, 0, 0, 0), (seed & 0xFFFFFFFF, seed >> 32))])
    np.testing.assert_array_equal(kept, words >= 2**30)


def test_reshape_flatten_are_views(device):
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    net = build('type: "Reshape" bottom: "x" top: "y" reshape_param { shape { dim: 0 dim: -1 dim: 2 } }', {"x": x})
    assert net.forward()["y"].shape == (2, 30, 2)
    net = build('type: "Reshape" bottom: "x" top: "y" reshape_param { shape { dim: -1 dim: 1 } axis: 0 num_axes: 2 }', {"x": x})
    y = net.forward()["y"]
    assert y.shape == (6, 1, 4, 5)
    np.testing.assert_array_equal(y.reshape(-1), x.reshape(-1))
    net.blobs["y"].diff[...] = 3
    np.testing.assert_array_equal(net.blobs["x"].diff, 3)  # shared diff
    net = build('type: "Flatten" bottom: "x" top: "y" flatten_param { axis: 1 end_axis: 2 }', {"x": x})
    assert net.forward()["y"].shape == (2, 12, 5)


def test_concat_slice_roundtrip(device):
    rng = np.random.RandomState(9)
    a, b, c = rng.randn(2, 2, 3, 4), rng.randn(2, 3, 3, 4), rng.randn(2, 1, 3, 4)
    inputs = {"a": a.astype(np.float32), "b": b.astype(np.float32), "c": c.astype(np.float32)}
    net = build('type: "Concat" bottom: "a" bottom: "b" bottom: "c" top: "y"', inputs)
    out, dy = fwd_bwd(net, ["y"])
    np.testing.assert_array_equal(out["y"], np.concatenate([inputs[k] for k in "abc"], axis=1))
    np.testing.assert_array_equal(net.blobs["b"].diff, dy["y"][:, 2:5])
    net = build('type: "Concat" bottom: "a" bottom: "b" top: "y" concat_param { axis: 0 }', {"a": inputs["a"], "b": inputs["a"]})
    assert net.forward()["y"].shape == (4, 2, 3, 4)
    x = rng.randn(2, 6, 3, 4).astype(np.float32)
    net = build('type: "Slice" bottom: "x" top: "s0" top: "s1" top: "s2" slice_param { axis: 1 slice_point: 1 slice_point: 4 }', {"x": x})
    out, dy = fwd_bwd(net, ["s0", "s1", "s2"])
    np.testing.assert_array_equal(out["s1"], x[:, 1:4])
    np.testing.assert_array_equal(net.blobs["x"].diff, np.concatenate([dy[k] for k in ("s0", "s1", "s2")], axis=1))
    net = build('type: "Slice" bottom: "x" top: "s0" top: "s1" slice_param { axis: -1 }', {"x": x})
    assert net.forward()["s1"].shape == (2, 6, 3, 2)


@pytest.mark.parametrize("op", ["SUM", "PROD", "MAX"])
def test_eltwise(device, op):
    # distinct across bottoms too (offsets 0, 0.02, 0.04 on a 0.05 grid): no ties for MAX
    inputs = {k: spread((2, 3, 4, 5), 10 + i) + np.float32(0.02 * i) for i, k in enumerate("abc")}
    coeff = " coeff: 0.5 coeff: -1.5 coeff: 2" if op == "SUM" else ""
    net = build(f'type: "Eltwise" bottom: "a" bottom: "b" bottom: "c" top: "y" eltwise_param {{ operation: {op}{coeff} }}', inputs)
    out, dy = fwd_bwd(net, ["y"])
    a, b, c = (inputs[k].astype(np.float64) for k in "abc")
    g = dy["y"].astype(np.float64)
    if op == "SUM":
        y, grads = 0.5 * a - 1.5 * b + 2 * c, [0.5 * g, -1.5 * g, 2 * g]
    elif op == "PROD":
        y, grads = a * b * c, [g * b * c, g * a * c, g * a * b]
    else:
        stack = np.stack([a, b, c])
        y, win = stack.max(0), stack.argmax(0)
        grads = [g * (win == i) for i in range(3)]
    assert_close(out["y"], y, TOL, op)
    for k, gr in zip("abc", grads):
        assert_close(net.blobs[k].diff, gr, TOL, f"{op} d{k}")
    check_gradients(net)


@pytest.mark.parametrize("power,scale,shift", [(2, 0.5, 1), (3, -1.5, 0.25), (1, 2, -1), (0.5, 1, 4)])
def test_power(device, power, scale, shift):
    x = np.random.RandomState(12).rand(2, 3, 4).astype(np.float32)
    net = build(f'type: "Power" bottom: "x" top: "y" power_param {{ power: {power} scale: {scale} shift: {shift} }}', {"x": x})
    out, dy = fwd_bwd(net, ["y"])
    v = shift + scale * x.astype(np.float64)
    assert_close(out["y"], v ** power, TOL)
    assert_close(net.blobs["x"].diff, dy["y"] * power * scale * v ** (power - 1), TOL)
    check_gradients(net)


@pytest.mark.parametrize("axis,shape", [(1, (2, 5, 3, 4)), (-1, (3, 7)), (2, (2, 3, 6))])
def test_softmax(device, axis, shape):
    x = np.random.RandomState(13).randn(*shape).astype(np.float32) * 3
    net = build(f'type: "Softmax" bottom: "x" top: "y" softmax_param {{ axis: {axis} }}', {"x": x})
    out, dy = fwd_bwd(net, ["y"])
    y = ref.softmax(x.astype(np.float64), axis)
    assert_close(out["y"], y, TOL)
    assert_close(net.blobs["x"].diff, ref.softmax_backward(y, dy["y"].astype(np.float64), axis), TOL)
    check_gradients(net)


@pytest.mark.parametrize("transpose,axis", [(False, 1), (True, 1), (False, 2)])
def test_inner_product(device, transpose, axis):
    x = np.random.RandomState(14).randn(2, 3, 4, 5).astype(np.float32)
    net = build(f'type: "InnerProduct" bottom: "x" top: "y" inner_product_param {{ num_output: 7 axis: {axis} '
                f'transpose: {str(transpose).lower()} weight_filler {{ type: "xavier" }} bias_filler {{ type: "gaussian" }} }}', {"x": x})
    out, dy = fwd_bwd(net, ["y"])
    W = net.params["L"][0].data.astype(np.float64)
    b = net.params["L"][1].data.astype(np.float64)
    X = x.reshape(int(np.prod(x.shape[:axis])), -1).astype(np.float64)
    Wn = W.T if transpose else W
    assert_close(out["y"].reshape(X.shape[0], 7), X @ Wn.T + b, TOL)
    G = dy["y"].reshape(X.shape[0], 7).astype(np.float64)
    assert_close(net.blobs["x"].diff.reshape(X.shape), G @ Wn, TOL)
    assert_close(net.params["L"][0].diff, (G.T @ X).T if transpose else G.T @ X, TOL)
    assert_close(net.params["L"][1].diff, G.sum(0), TOL)
    check_gradients(net)


# Shapes: small planes; planes longer than the GPU reduction's blocks, with many blocks per channel
# and a remainder; (N, C) with one position per plane (BatchNorm after an InnerProduct).
@pytest.mark.parametrize("phase", ["test", "train"])
@pytest.mark.parametrize("shape", [(3, 4, 2, 3), (2, 4, 67, 75), (6, 4)])
def test_batchnorm(device, phase, shape):
    x = np.random.RandomState(15).randn(*shape).astype(np.float32) * 2 + 1
    net = build('type: "BatchNorm" bottom: "x" top: "y"', {"x": x}, phase=phase)
    bn = net.params["L"]
    bn[0].data[...] = [0.4, -0.2, 1.0, 0.0]
    bn[1].data[...] = [1.6, 0.8, 2.4, 1.2]
    bn[2].data[...] = 0.8
    x = x.reshape(shape + (1,) * (4 - len(shape)))
    saved = [b.data.copy() for b in bn]
    out, dy = fwd_bwd(net, ["y"])
    xd, g = x.astype(np.float64), dy["y"].astype(np.float64).reshape(x.shape)
    if phase == "test":
        mean, var = saved[0] / 0.8, saved[1] / 0.8
        y = (xd - mean[None, :, None, None]) / np.sqrt(var[None, :, None, None] + 1e-5)
        dx = g / np.sqrt(var[None, :, None, None] + 1e-5)
    else:
        mean, var = xd.mean(axis=(0, 2, 3)), xd.var(axis=(0, 2, 3))
        inv = 1 / np.sqrt(var + 1e-5)[None, :, None, None]
        y = (xd - mean[None, :, None, None]) * inv
        dx = (g - g.mean(axis=(0, 2, 3), keepdims=True) - y * (g * y).mean(axis=(0, 2, 3), keepdims=True)) * inv
        m = x.size // 4  # running statistics as Caffe accumulates them
        assert_close(bn[2].data, [0.8 * 0.999 + 1], TOL, "factor")
        assert_close(bn[0].data, mean + 0.999 * saved[0], TOL, "mean sum")
        assert_close(bn[1].data, var * m / (m - 1) + 0.999 * saved[1], TOL, "var sum")
    assert_close(out["y"], y.reshape(shape), TOL, "bn forward")
    assert_close(net.blobs["x"].diff, dx.reshape(shape), TOL, "bn backward")
    assert [net.lr_mult("L", i) for i in range(3)] == [0, 0, 0]  # statistics are not learned


def test_batchnorm_rejects_learned_statistics(device):
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(pycolorize.Error, match="lr_mult must be 0"):
        build('type: "BatchNorm" bottom: "x" top: "y" param { lr_mult: 1 }', {"x": x})


def test_scale_param_and_bottom(device):
    rng = np.random.RandomState(16)
    x = rng.randn(2, 4, 3, 5).astype(np.float32)
    net = build('type: "Scale" bottom: "x" top: "y" scale_param { bias_term: true filler { type: "uniform" min: 0.5 max: 1.5 } '
                'bias_filler { type: "gaussian" } }', {"x": x})
    s, b = (p.data.astype(np.float64) for p in net.params["L"])
    out, dy = fwd_bwd(net, ["y"])
    g = dy["y"].astype(np.float64)
    assert_close(out["y"], x * s[None, :, None, None] + b[None, :, None, None], TOL)
    assert_close(net.blobs["x"].diff, g * s[None, :, None, None], TOL)
    assert_close(net.params["L"][0].diff, (g * x).sum(axis=(0, 2, 3)), TOL)
    assert_close(net.params["L"][1].diff, g.sum(axis=(0, 2, 3)), TOL)
    check_gradients(net)
    sc = rng.rand(4, 3).astype(np.float32) + 0.5
    net = build('type: "Scale" bottom: "x" bottom: "s" top: "y" scale_param { axis: 1 }', {"x": x, "s": sc})
    out, dy = fwd_bwd(net, ["y"])
    assert_close(out["y"], x * sc[None, :, :, None], TOL)
    assert_close(net.blobs["s"].diff, (dy["y"] * x).sum(axis=(0, 3)), TOL)
    check_gradients(net)


@pytest.mark.parametrize("norm,ignore", [("VALID", None), ("VALID", 2), ("FULL", 2), ("BATCH_SIZE", None), ("NONE", None)])
def test_softmax_with_loss(device, norm, ignore):
    rng = np.random.RandomState(17)
    logits = rng.randn(2, 5, 3, 4).astype(np.float32)
    label = rng.randint(0, 5, (2, 1, 3, 4)).astype(np.float32)
    ig = f" ignore_label: {ignore}" if ignore is not None else ""
    net = build(f'type: "SoftmaxWithLoss" bottom: "p" bottom: "l" top: "loss" loss_weight: 2 loss_param {{ normalization: {norm}{ig} }}',
                {"p": logits, "l": label})
    loss = net.forward()["loss"]
    prob = ref.softmax(logits.astype(np.float64))
    lab = label[:, 0].astype(int)
    valid = np.ones_like(lab, bool) if ignore is None else lab != ignore
    picked = np.take_along_axis(prob, lab[:, None], 1)[:, 0]
    n = {"VALID": valid.sum(), "FULL": lab.size, "BATCH_SIZE": 2, "NONE": 1}[norm]
    assert_close(loss, -np.log(picked[valid]).sum() / n, TOL)
    net.backward()
    onehot = np.eye(5)[lab].transpose(0, 3, 1, 2)
    grad = 2 * (prob - onehot) * valid[:, None] / n
    assert_close(net.blobs["p"].diff, grad, TOL)
    assert net.bottom_needs_backward("L") == [True, False]  # never into the labels
    check_gradients(net)


def test_softmax_with_loss_rejects_bad_label(device):
    net = build('type: "SoftmaxWithLoss" bottom: "p" bottom: "l" top: "loss"',
                {"p": np.zeros((2, 3), np.float32), "l": np.array([0, 3], np.float32)})
    with pytest.raises(pycolorize.Error, match="label 3 .* outside \\[0, 3\\)"):
        net.forward()


def test_euclidean_loss(device):
    rng = np.random.RandomState(18)
    a, b = rng.randn(3, 4, 2).astype(np.float32), rng.randn(3, 4, 2).astype(np.float32)
    net = build('type: "EuclideanLoss" bottom: "a" bottom: "b" top: "loss"', {"a": a, "b": b})
    d = a.astype(np.float64) - b
    assert_close(net.forward()["loss"], (d ** 2).sum() / 6, TOL)
    net.backward()
    assert_close(net.blobs["a"].diff, d / 3, TOL)
    assert_close(net.blobs["b"].diff, -d / 3, TOL)
    check_gradients(net)


def test_silence_and_split(device):
    x = np.random.RandomState(19).randn(2, 3).astype(np.float32)
    text = ('force_backward: true\nlayer { name: "x" type: "Input" top: "x" input_param { shape { dim: 2 dim: 3 } } }\n'
            'layer { name: "a" type: "Power" bottom: "x" top: "a" power_param { scale: 2 } }\n'
            'layer { name: "b" type: "Power" bottom: "x" top: "b" power_param { scale: -3 } }\n'
            'layer { name: "s" type: "Silence" bottom: "b" }\n')
    net = net_from(text)
    net.blobs["x"].data[...] = x
    assert net.outputs == ["a"]
    assert [l.type for l in net.layers] == ["Input", "Split", "Power", "Power", "Silence"]
    out = net.forward()
    np.testing.assert_allclose(out["a"], 2 * x)
    net.blobs["a"].diff[...] = 1
    net.backward()
    np.testing.assert_allclose(net.blobs["x"].diff, 2)  # the silenced branch contributes 0


@pytest.mark.parametrize("kind", ["constant", "uniform", "gaussian", "xavier", "msra"])
def test_fillers(device, kind):
    extra = {"constant": "value: 0.25", "uniform": "min: -2 max: 3", "gaussian": "mean: 1 std: 2", "xavier": "", "msra": "variance_norm: FAN_OUT"}[kind]
    pycolorize.set_random_seed(3)
    net = build(f'type: "Convolution" bottom: "x" top: "y" convolution_param {{ num_output: 64 kernel_size: 5 '
                f'weight_filler {{ type: "{kind}" {extra} }} }}', {"x": np.zeros((1, 32, 5, 5), np.float32)})
    w = net.params["L"][0].data
    np.testing.assert_array_equal(net.params["L"][1].data, 0)  # default bias filler: constant 0
    if kind == "constant":
        np.testing.assert_array_equal(w, 0.25)
    elif kind == "uniform":
        assert w.min() >= -2 and w.max() < 3 and abs(w.mean() - 0.5) < 0.05
    elif kind == "gaussian":
        assert abs(w.mean() - 1) < 0.05 and abs(w.std() - 2) < 0.05
    elif kind == "xavier":  # U(-sqrt(3/fan_in), +), fan_in = 32*25
        lim = np.sqrt(3 / 800)
        assert np.abs(w).max() <= lim and np.abs(w).max() > 0.95 * lim
    else:  # N(0, sqrt(2/fan_out)), fan_out = 64*25
        assert abs(w.std() - np.sqrt(2 / 1600)) < 0.002


# Convolution and Pooling read kernel, stride and pad by one rule (util/window.h): a value for
# both axes, (h, w) for Convolution's repeated fields, or both _h/_w twins; the errors name the layer.
@pytest.mark.parametrize("kind", ["Convolution", "Pooling"])
@pytest.mark.parametrize("fields, message", [
    ("kernel_size: 3 pad_h: 1", "give both pad_h and pad_w \\(pad_w is missing\\)"),
    ("kernel_size: 3 stride_w: 2", "give both stride_h and stride_w \\(stride_h is missing\\)"),
    ("kernel_size: 3 kernel_h: 3 kernel_w: 3", "give kernel_size or kernel_h/kernel_w, not both"),
    ("kernel_h: 3", "give both kernel_h and kernel_w"),
    ("pad: 1", "needs kernel_size \\(or kernel_h and kernel_w\\)"),
    ("kernel_size: 3 pad: 1 pad_h: 1 pad_w: 1", "give pad or pad_h/pad_w, not both"),
])
def test_window_fields_are_read_by_one_rule(kind, fields, message):
    x = np.zeros((1, 2, 9, 9), np.float32)
    param = "convolution_param { num_output: 2 " if kind == "Convolution" else "pooling_param { pool: MAX "
    with pytest.raises(pycolorize.Error, match=f"layer 'L' \\({kind}.*{message}"):
        build(f'type: "{kind}" bottom: "x" top: "y" {param}{fields} }}', {"x": x})


@pytest.mark.parametrize("kind", ["Convolution", "Pooling"])
def test_window_twins_give_each_axis(kind):
    x = np.zeros((1, 2, 9, 11), np.float32)
    param = "convolution_param { num_output: 2 " if kind == "Convolution" else "pooling_param { pool: MAX "
    net = build(f'type: "{kind}" bottom: "x" top: "y" {param}kernel_h: 3 kernel_w: 2 stride_h: 2 stride_w: 1 '
                'pad_h: 1 pad_w: 0 }', {"x": x})
    assert net.blobs["y"].shape[2:] == ((9 + 2 - 3) // 2 + 1, (11 - 2) // 1 + 1)

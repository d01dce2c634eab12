"""CPU/GPU agreement on whole nets, the TF32 opt-in, and GPU mode without a GPU.

Tolerance for agreement: 1e-4 scaled (as conftest.assert_close), forward and backward, full FP32
on both sides: cuDNN and cuBLAS sum in other orders than OpenBLAS, so results differ by float32
rounding that grows with the reduction length (the 12-layer trunk and 1.5k-wide h_fc1 of the
golden deploy net); measured differences are reported by the assertion when they exceed it."""
import os

import numpy as np
import pytest

import pycolorize

from conftest import DATA, HAS_GPU, assert_close

AGREE = 1e-4
A2 = os.path.join(DATA, "autocolorize_small")
needs_gpu = pytest.mark.skipif(not HAS_GPU, reason="no CUDA device (or a build without CUDA)")


def run(net, inputs, device):
    (pycolorize.set_mode_gpu if device == "gpu" else pycolorize.set_mode_cpu)()
    out = net.forward(**inputs)
    rng = np.random.RandomState(7)
    for b in net.blobs.values():
        b.diff[...] = 0
    net.clear_param_diffs()
    for name in out:
        net.blobs[name].diff[...] = rng.randn(*net.blobs[name].shape)
    net.backward()
    blobs = {k: (b.data.copy(), b.diff.copy()) for k, b in net.blobs.items()}
    params = {k: [p.diff.copy() for p in ps] for k, ps in net.params.items()}
    pycolorize.set_mode_cpu()
    return blobs, params


@needs_gpu
def test_deploy_net_cpu_and_gpu_agree_blob_by_blob():
    text = open(os.path.join(A2, "deploy_small.prototxt")).read()
    net = pycolorize.Net.from_string("force_backward: true\n" + text, weights=os.path.join(A2, "deploy_small.caffemodel.h5"))
    x = np.load(os.path.join(A2, "blobs.npz"))["input"]
    cpu_b, cpu_p = run(net, {"data": x}, "cpu")
    gpu_b, gpu_p = run(net, {"data": x}, "gpu")
    for k in cpu_b:
        assert_close(gpu_b[k][0], cpu_b[k][0], AGREE, f"blob {k}")
        assert_close(gpu_b[k][1], cpu_b[k][1], AGREE, f"diff of {k}")
    for k in cpu_p:
        for i, (g, c) in enumerate(zip(gpu_p[k], cpu_p[k])):
            assert_close(g, c, AGREE, f"param diff {k}[{i}]")


@needs_gpu
def test_tf32_is_an_explicit_opt_in_that_takes_effect():
    # A GEMM (cuBLAS) and a 3x3 convolution (cuDNN) long enough that TF32's 10-bit mantissa must
    # show: the opt-in has to change both results (else it does nothing), by less than 1e-2. The
    # convolution is large enough that cuDNN's timed search picks a tensor-core algorithm when TF32
    # is allowed (at 2x128x32x32 it once kept an FP32 one, after other tests had run, H200).
    net = pycolorize.Net.from_string(
        'layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 64 dim: 1024 } } }\n'
        'layer { name: "ip" type: "InnerProduct" bottom: "x" top: "ip" inner_product_param { num_output: 512 '
        '  weight_filler { type: "gaussian" std: 0.03 } } }\n'
        'layer { name: "im" type: "Input" top: "im" input_param { shape { dim: 8 dim: 256 dim: 64 dim: 64 } } }\n'
        'layer { name: "conv" type: "Convolution" bottom: "im" top: "conv" convolution_param { num_output: 256 '
        '  kernel_size: 3 pad: 1 weight_filler { type: "gaussian" std: 0.03 } } }')
    rng = np.random.RandomState(5)
    inputs = {"x": rng.randn(64, 1024).astype(np.float32), "im": rng.randn(8, 256, 64, 64).astype(np.float32)}
    assert not pycolorize.allow_tf32()
    pycolorize.set_mode_gpu()
    fp32 = {k: v.copy() for k, v in net.forward(**inputs).items()}
    pycolorize.set_allow_tf32(True)
    try:
        assert pycolorize.allow_tf32()
        tf32 = {k: v.copy() for k, v in net.forward(**inputs).items()}
    finally:
        pycolorize.set_allow_tf32(False)
    again = net.forward(**inputs)
    for k in fp32:
        scale = np.abs(fp32[k]).max()
        changed = np.abs(tf32[k] - fp32[k]).max() / scale
        assert 3e-5 < changed < 1e-2, f"TF32 changed {k} by {changed:.3g} of its scale (expected 3e-5 .. 1e-2)"
        np.testing.assert_array_equal(again[k], fp32[k])  # and switching it off restores full FP32


@needs_gpu
def test_data_written_on_the_host_reaches_the_gpu_and_back():
    net = pycolorize.Net.from_string(
        'layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 2 dim: 3 } } }\n'
        'layer { name: "p" type: "Power" bottom: "x" top: "y" power_param { scale: 2 } }')
    pycolorize.set_mode_gpu()
    for v in (1.0, 5.0):  # the second write must invalidate the device copy
        assert np.all(net.forward(x=np.full((2, 3), v, np.float32))["y"] == 2 * v)


@needs_gpu
def test_dropout_masks_are_the_same_on_both_devices():
    net = pycolorize.Net.from_string(
        'force_backward: true\n'
        'layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 3 dim: 1001 } } }\n'
        'layer { name: "d" type: "Dropout" bottom: "x" top: "y" dropout_param { dropout_ratio: 0.4 } }',
        phase="train")
    x = np.random.RandomState(2).rand(3, 1001).astype(np.float32) + 1
    outs = {}
    for device in ("cpu", "gpu"):
        (pycolorize.set_mode_gpu if device == "gpu" else pycolorize.set_mode_cpu)()
        pycolorize.set_random_seed(11)
        first = net.forward(x=x)["y"].copy()
        second = net.forward(x=x)["y"].copy()  # the next draw: another mask
        net.blobs["y"].diff[...] = 1
        net.backward()
        outs[device] = (first, second, net.blobs["x"].diff.copy())
    pycolorize.set_mode_cpu()
    for a, b in zip(outs["cpu"], outs["gpu"]):
        np.testing.assert_array_equal(a != 0, b != 0)
        assert_close(b, a, 1e-6)
    assert np.any((outs["cpu"][0] != 0) != (outs["cpu"][1] != 0))
    np.testing.assert_array_equal(outs["cpu"][2] != 0, outs["cpu"][1] != 0)  # backward uses the last mask


@pytest.mark.skipif(HAS_GPU, reason="checks the error on machines without a GPU")
def test_gpu_mode_without_a_gpu_is_a_clear_error():
    with pytest.raises(pycolorize.Error, match="GPU mode requested but|without CUDA"):
        pycolorize.set_mode_gpu()
    assert pycolorize.mode() == "cpu"


@pytest.mark.skipif(not HAS_GPU or pycolorize.gpu_count() < 2, reason="needs two CUDA devices")
def test_a_net_run_from_another_thread_runs_on_the_chosen_device():
    # CUDA's current device is per thread; the chosen device is the process's (pycolorize serve runs
    # the net in worker threads): Net.forward/backward bind the calling thread to it
    import threading

    text = open(os.path.join(A2, "deploy_small.prototxt")).read()
    weights = os.path.join(A2, "deploy_small.caffemodel.h5")
    x = np.load(os.path.join(A2, "blobs.npz"))["input"]
    cpu = pycolorize.Net.from_string(text, weights=weights).forward(data=x)
    try:
        pycolorize.use_gpu(1)
        net = pycolorize.Net.from_string(text, weights=weights)
        got, errors = {}, []

        def worker():
            try:
                got.update({k: v.copy() for k, v in net.forward(data=x).items()})
            except Exception as e:  # noqa: BLE001 (reported below)
                errors.append(e)

        t = threading.Thread(target=worker)
        t.start()
        t.join()
        assert not errors, errors
        for k in cpu:
            assert_close(got[k], cpu[k], AGREE, f"{k} from a worker thread on device 1")
    finally:
        pycolorize.set_device(0)
        pycolorize.set_mode_cpu()

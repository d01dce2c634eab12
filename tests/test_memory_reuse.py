"""Net(reuse_memory=...) (csrc/graph/net_memory.cpp): an inference net whose intermediate blobs share one
arena by liveness and whose layers run in a schedule that lets blobs die early. Its outputs equal
the plain net's exactly (the same arithmetic, reordered only between independent layers), at
several input sizes (the plan is remade when shapes change); the arena is smaller than the blobs
it holds; kept blobs stay readable; the others explain their absence; and what cannot work (a net
that needs backward, a forward from the middle) is a clear error."""
import numpy as np
import pytest

import pycolorize
from pycolorize import models

from conftest import assert_close, net_from

WIDTHS = {"conv": (3, 4, 5, 6, 7), "fc": 9, "h_fc1": 8}


def twins(text, seed=0, **reuse):
    """The net built plainly and with reuse_memory, with the same random weights."""
    plain, reused = net_from(text), net_from(text, reuse_memory=reuse.get("keep", True))
    rng = np.random.RandomState(seed)
    for (name, a), (_, b) in zip(plain.params.items(), reused.params.items()):
        if name.endswith("_reshaped"):
            continue  # the bilinear kernels, which the projection pass needs equal
        for pa, pb in zip(a, b):
            pa.data[...] = pb.data[...] = rng.randn(*pa.shape).astype(np.float32) * 0.5
    return plain, reused


@pytest.mark.parametrize("optimize", [True, False], ids=["projection_pass", "literal"])
def test_outputs_equal_the_plain_nets_at_several_sizes(device, optimize):
    text = models.deploy_net(WIDTHS, size=64)
    plain, reused = net_from(text, optimize=optimize), net_from(text, optimize=optimize, reuse_memory=True)
    rng = np.random.RandomState(1)
    for (name, a), (_, b) in zip(plain.params.items(), reused.params.items()):
        for pa, pb in zip(a, b):
            if not name.endswith("_reshaped"):
                pa.data[...] = pb.data[...] = rng.randn(*pa.shape).astype(np.float32) * 0.5
    arena = {}
    for size in (64, 96, 64, 128):
        x = rng.rand(1, 1, size, size).astype(np.float32)
        expected = {k: v.copy() for k, v in plain.forward(data=x).items()}
        got = reused.forward(data=x)
        assert set(got) == set(expected)
        for k in expected:
            if device == "cpu":
                np.testing.assert_array_equal(got[k], expected[k], err_msg=f"{k} at {size}x{size}")
            else:  # (two nets may get different cuDNN algorithms, each timed for its own layers)
                assert_close(got[k], expected[k], 1e-5, f"{k} at {size}x{size}")
        arena.setdefault(size, []).append(reused.arena_bytes)
    if device == "cpu":  # the plan is remade for each new size, and back (host memory only)
        assert 0 < arena[64][0] == arena[64][1] < arena[96][0] < arena[128][0]
    else:
        assert arena == {64: [0, 0], 96: [0], 128: [0]}


def test_the_arena_holds_less_than_its_blobs_and_conv1_dies_early():
    plain, reused = twins(models.deploy_net(WIDTHS, size=128))
    x = np.random.RandomState(2).rand(1, 1, 128, 128).astype(np.float32)
    reused.forward(data=x)
    held = {}  # bytes of each buffer the arena holds (a Split's tops share their bottom's)
    for name in reused.reused_blobs:
        b = plain.blobs[name] if name in plain.blobs else None
        if b is not None:
            held[b.data.__array_interface__["data"][0]] = b.data.nbytes
    arena = reused.arena_bytes
    assert 0 < arena < 0.6 * sum(held.values())
    # conv1_1 (4 channels at full size) is pooled for the hypercolumn right after it is made, so
    # at most conv1_1 and conv1_2 and a few small maps are alive at once
    conv1 = plain.blobs["conv1_1"].data.nbytes
    assert arena < 2.5 * conv1
    assert "conv1_1" in reused.reused_blobs and "data" not in reused.reused_blobs
    assert set(reused.outputs) & set(reused.reused_blobs) == set()


def test_kept_blobs_stay_readable_and_others_explain_their_absence():
    plain, reused = twins(models.deploy_net(WIDTHS, size=64), keep=["fc7", "conv3_2"])
    x = np.random.RandomState(3).rand(1, 1, 64, 64).astype(np.float32)
    plain.forward(data=x)
    out = reused.forward(data=x, blobs=["fc7", "conv3_2"])
    for name in ("fc7", "conv3_2"):
        assert name not in reused.reused_blobs
        np.testing.assert_array_equal(out[name], plain.blobs[name].data)
        np.testing.assert_array_equal(reused.blobs[name].data, plain.blobs[name].data)
    assert "conv1_1" not in reused.blobs
    with pytest.raises(KeyError, match=r"no blob 'conv1_1' to read in net .*reuses memory.*reuse_memory=\[\.\.\.\]"):
        reused.blobs["conv1_1"]
    with pytest.raises(pycolorize.Error, match=r"reuses memory.*starts at its first layer, not at 'conv2_1'"):
        reused.forward_layers("conv2_1")


def test_what_cannot_reuse_memory_is_an_error():
    text = models.deploy_net(WIDTHS, size=64)
    with pytest.raises(pycolorize.Error, match=r"needs a backward pass.*only run forward"):
        net_from("force_backward: true\n" + text, reuse_memory=True)
    with pytest.raises(pycolorize.Error, match=r"is a TRAIN net.*Dropout's random draws"):
        net_from(text, phase="train", reuse_memory=True)
    with pytest.raises(pycolorize.Error, match=r"no blob 'dense_hypercolumn' to keep \(the hypercolumn projection pass removed"):
        net_from(text, reuse_memory=["dense_hypercolumn"])
    with pytest.raises(pycolorize.Error, match=r"has no blob 'nope' to keep"):
        net_from(text, reuse_memory=["nope"])
    with pytest.raises(TypeError, match=r"reuse_memory is True, False or a list of blob names"):
        net_from(text, reuse_memory=[3])


def test_colorizer_reuses_memory_and_matches_the_plain_net(tmp_path):
    """The Colorizer builds its net with reuse_memory; its histograms are the plain net's."""
    text = models.deploy_net(WIDTHS, size=64)
    proto = tmp_path / "deploy.prototxt"
    proto.write_text(text)
    plain, _ = twins(text)
    weights = tmp_path / "w.caffemodel.h5"
    plain.save(weights)
    c = pycolorize.Colorizer(str(proto), str(weights), size=64, calibration=None)
    assert c.net.reused_blobs
    x = np.random.RandomState(4).rand(1, 1, 64, 64).astype(np.float32) * 100
    expected = {k: v.copy() for k, v in plain.forward(data=x).items()}
    for k, v in c.net.forward(data=x).items():
        np.testing.assert_array_equal(v, expected[k])
    assert c.colorize(np.random.RandomState(5).rand(40, 56) * 255).shape == (40, 56, 3)


def test_the_schedule_keeps_a_read_before_a_later_in_place_write_of_the_same_buffer():
    """p reads c's buffer; later in the prototxt an in-place Eltwise writes that buffer through a
    Reshape view of it. The Eltwise is the last reader of z (so the schedule would like it early),
    but it must still run after p, or p would see the sum."""
    text = ('layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 1 dim: 2 dim: 4 dim: 4 } } }\n'
            'layer { name: "z" type: "Power" bottom: "x" top: "z" power_param { scale: 3 } }\n'
            'layer { name: "c" type: "Power" bottom: "x" top: "c" power_param { shift: 1 } }\n'
            'layer { name: "cf" type: "Reshape" bottom: "c" top: "cf" reshape_param { shape { dim: 0 dim: 0 dim: -1 } } }\n'
            'layer { name: "zf" type: "Reshape" bottom: "z" top: "zf" reshape_param { shape { dim: 0 dim: 0 dim: -1 } } }\n'
            'layer { name: "p" type: "Pooling" bottom: "c" top: "p" pooling_param { pool: AVE kernel_size: 2 stride: 2 } }\n'
            'layer { name: "r" type: "Eltwise" bottom: "cf" bottom: "zf" top: "cf" }\n'
            'layer { name: "q" type: "Power" bottom: "cf" top: "q" }\n')
    plain, reused = net_from(text), net_from(text, reuse_memory=True)
    x = np.random.RandomState(6).rand(1, 2, 4, 4).astype(np.float32)
    expected = {k: v.copy() for k, v in plain.forward(x=x).items()}
    np.testing.assert_allclose(expected["p"], (x + 1).reshape(1, 2, 2, 2, 2, 2).mean(axis=(3, 5)), rtol=1e-6)
    for k, v in reused.forward(x=x).items():
        np.testing.assert_array_equal(v, expected[k], err_msg=k)

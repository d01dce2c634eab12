"""Net-level behaviour: phases, splits, in-place layers, loss weights, backward pruning,
forward from/to, parameter sharing, reshaping, array lifetime and the errors of bad graphs."""
import gc

import numpy as np
import pytest

import pycolorize

from conftest import net_from

INPUT = 'layer {{ name: "{0}" type: "Input" top: "{0}" input_param {{ shape {{ {1} }} }} }}\n'


def inp(name, *dims):
    return INPUT.format(name, " ".join(f"dim: {d}" for d in dims))


def test_phase_include_exclude():
    text = (inp("x", 2, 3) +
            'layer { name: "d" type: "Dropout" bottom: "x" top: "y" include { phase: TRAIN } }\n'
            'layer { name: "p" type: "Power" bottom: "x" top: "y" exclude { phase: TRAIN } }\n'
            'layer { name: "s" type: "Power" bottom: "x" top: "z" include { stage: "extra" } }\n')
    assert [l.name for l in net_from(text, phase="train").layers] == ["x", "d"]
    assert [l.name for l in net_from(text, phase="test").layers] == ["x", "p"]
    assert [l.name for l in net_from(text, phase="test", stages=["extra"]).layers] == ["x", "x_x_0_split", "p", "s"]


def test_legacy_input_fields():
    net = net_from('input: "data" input_shape { dim: 1 dim: 2 dim: 3 dim: 3 }\n'
                   'layer { name: "r" type: "ReLU" bottom: "data" top: "r" }')
    assert net.inputs == ["data"] and net.blobs["data"].shape == (1, 2, 3, 3)
    net = net_from('input: "a" input_dim: 1 input_dim: 1 input_dim: 2 input_dim: 2\nlayer { name: "r" type: "ReLU" bottom: "a" top: "r" }')
    assert net.blobs["a"].shape == (1, 1, 2, 2)


def test_in_place_and_split_names_follow_caffe():
    text = (inp("data", 1, 1, 4, 4) +
            'layer { name: "conv" type: "Convolution" bottom: "data" top: "conv" convolution_param { num_output: 2 kernel_size: 1 } }\n'
            'layer { name: "relu" type: "ReLU" bottom: "conv" top: "conv" }\n'
            'layer { name: "a" type: "Power" bottom: "conv" top: "a" }\n'
            'layer { name: "b" type: "Power" bottom: "conv" top: "b" }\n')
    net = net_from(text)
    assert "conv_relu_0_split" in [l.name for l in net.layers]
    assert {"conv_relu_0_split_0", "conv_relu_0_split_1"} <= set(net.blobs)
    net.params["conv"][0].data[...] = [[[[1.0]]], [[[-1.0]]]]
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    out = net.forward(data=x)
    np.testing.assert_array_equal(out["a"][0, 0], x[0, 0])  # post-ReLU values reach both consumers
    np.testing.assert_array_equal(out["b"][0, 1], 0)


def test_loss_weights_and_backward_pruning():
    text = ("force_backward: false\n" + inp("x", 4, 3) + inp("t", 4, 3) +
            'layer { name: "ip" type: "InnerProduct" bottom: "x" top: "y" inner_product_param { num_output: 3 weight_filler { type: "gaussian" } } }\n'
            'layer { name: "frozen" type: "InnerProduct" bottom: "x" top: "z" param { lr_mult: 0 } param { lr_mult: 0 } inner_product_param { num_output: 3 } }\n'
            'layer { name: "loss" type: "EuclideanLoss" bottom: "y" bottom: "t" top: "loss" loss_weight: 3 }\n')
    net = net_from(text)
    assert not net.needs_backward("frozen") and net.needs_backward("ip") and net.needs_backward("loss")
    assert net.bottom_needs_backward("loss") == [True, False]  # into y, never into the target
    assert net.bottom_needs_backward("ip") == [False]  # no force_backward: not into the input
    assert net.lr_mult("frozen", 0) == 0 and net.lr_mult("ip", 0) == 1 and net.decay_mult("frozen", 1) == 1
    assert net.blob_loss_weights["loss"] == 3
    rng = np.random.RandomState(0)
    x, t = rng.randn(4, 3).astype(np.float32), rng.randn(4, 3).astype(np.float32)
    net.forward(x=x, t=t)
    loss = net.blobs["loss"].data.copy()
    y = net.blobs["y"].data.astype(np.float64)
    assert abs(float(loss) - ((y - t) ** 2).sum() / 8) < 1e-5
    assert abs(net.forward_layers() - 3 * float(loss)) < 1e-4  # weighted
    assert net.forward_layers("x", "ip") == 0  # no loss layer in that range
    net.backward()
    np.testing.assert_allclose(net.params["ip"][0].diff, 3 * ((y - t) / 4).T @ x, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(net.blobs["x"].diff, 0)  # no force_backward: inputs get no gradient


def test_forward_start_end_and_extra_blobs():
    text = inp("x", 2, 2) + ('layer { name: "a" type: "Power" bottom: "x" top: "a" power_param { shift: 1 } }\n'
                             'layer { name: "b" type: "Power" bottom: "a" top: "b" power_param { scale: 2 } }\n')
    net = net_from(text)
    x = np.ones((2, 2), np.float32)
    assert set(net.forward(x=x, end="a")) == {"a"}
    net.blobs["a"].data[...] = 5
    out = net.forward(start="b", blobs=["a"])
    np.testing.assert_array_equal(out["b"], 10)
    np.testing.assert_array_equal(out["a"], 5)


def test_shared_params():
    text = inp("x", 2, 3) + (
        'layer { name: "a" type: "InnerProduct" bottom: "x" top: "a" param { name: "w" } inner_product_param { num_output: 2 bias_term: false weight_filler { type: "gaussian" } } }\n'
        'layer { name: "b" type: "InnerProduct" bottom: "x" top: "b" param { name: "w" } inner_product_param { num_output: 2 bias_term: false } }\n')
    net = net_from(text)
    np.testing.assert_array_equal(net.params["a"][0].data, net.params["b"][0].data)
    net.params["a"][0].data[...] = 7
    assert (net.params["b"][0].data == 7).all()
    assert net.param_owner("b", 0) == 0 and net.param_owner("a", 0) == -1
    bad = text.replace("num_output: 2 bias_term: false }", "num_output: 3 bias_term: false }")
    with pytest.raises(pycolorize.Error, match="shared param 'w' has shape"):
        net_from(bad)


def test_structure_names_and_multipliers():
    """layer_dict, bottom_names and top_names as pycaffe has them (the auto-inserted Split layer and
    the in-place ReLU included); lr_mult and decay_mult per parameter, shared ones too."""
    text = inp("x", 2, 3) + (
        'layer { name: "a" type: "InnerProduct" bottom: "x" top: "a" param { name: "w" lr_mult: 2 decay_mult: 0.5 } '
        'param { lr_mult: 0 } inner_product_param { num_output: 2 } }\n'
        'layer { name: "r" type: "ReLU" bottom: "a" top: "a" }\n'
        'layer { name: "b" type: "InnerProduct" bottom: "x" top: "b" param { name: "w" lr_mult: 2 decay_mult: 0.5 } '
        'inner_product_param { num_output: 2 bias_term: false } }\n'
        'layer { name: "c" type: "Concat" bottom: "a" bottom: "b" top: "c" }\n')
    net = net_from(text)
    assert list(net.layer_dict) == ["x", "x_x_0_split", "a", "r", "b", "c"]
    assert [l.type for l in net.layer_dict.values()] == ["Input", "Split", "InnerProduct", "ReLU", "InnerProduct", "Concat"]
    assert net.bottom_names == {"x": [], "x_x_0_split": ["x"], "a": ["x_x_0_split_0"], "r": ["a"],
                                "b": ["x_x_0_split_1"], "c": ["a", "b"]}
    assert net.top_names == {"x": ["x"], "x_x_0_split": ["x_x_0_split_0", "x_x_0_split_1"], "a": ["a"], "r": ["a"],
                             "b": ["b"], "c": ["c"]}
    assert [net.lr_mult("a", 0), net.decay_mult("a", 0), net.lr_mult("a", 1), net.decay_mult("a", 1)] == [2, 0.5, 0, 1]
    assert (net.lr_mult("b", 0), net.decay_mult(4, 0)) == (2, 0.5)  # by name or by index in layers
    with pytest.raises(IndexError, match="layer 'b' has 1 parameter blob"):
        net.lr_mult("b", 1)
    with pytest.raises(IndexError, match="layer index 6 out of range: net .* has 6 layers"):
        net.needs_backward(6)
    with pytest.raises(KeyError, match="no layer named 'z'"):
        net.bottom_needs_backward("z")


def test_forward_and_backward_over_a_range_of_layers():
    """forward_layers/backward_layers run exactly the layers asked for, on the blobs as they are,
    and return the loss of those layers (pycaffe's _forward/_backward)."""
    text = "force_backward: true\n" + inp("x", 2, 2) + inp("t", 2, 2) + (
        'layer { name: "a" type: "Power" bottom: "x" top: "a" power_param { scale: 2 } }\n'
        'layer { name: "b" type: "Power" bottom: "a" top: "b" power_param { shift: 1 } }\n'
        'layer { name: "loss" type: "EuclideanLoss" bottom: "b" bottom: "t" top: "loss" loss_weight: 2 }\n')
    net = net_from(text)
    net.blobs["x"].data[...] = 1
    net.blobs["t"].data[...] = 0
    assert net.forward_layers("a", "a") == 0
    np.testing.assert_array_equal(net.blobs["a"].data, 2)
    np.testing.assert_array_equal(net.blobs["b"].data, 0)  # not run
    assert net.forward_layers("b") == pytest.approx(2 * 9 * 4 / 4)  # b = 3: loss 9*4/(2*2), weighted 2
    net.blobs["a"].data[...] = 10  # the next range reads the blobs as they are
    net.forward_layers(3, "b")
    np.testing.assert_array_equal(net.blobs["b"].data, 11)
    net.blobs["b"].diff[...] = 1
    net.blobs["a"].diff[...] = 0
    net.blobs["x"].diff[...] = 0
    net.backward_layers("b", "b")
    np.testing.assert_array_equal(net.blobs["a"].diff, 1)
    np.testing.assert_array_equal(net.blobs["x"].diff, 0)  # layer a not run
    net.backward_layers("a", "a")
    np.testing.assert_array_equal(net.blobs["x"].diff, 2)
    with pytest.raises(ValueError, match="layer 4 comes after layer 3"):
        net.forward_layers("loss", "b")
    with pytest.raises(ValueError, match="layer 2 comes before layer 3"):
        net.backward_layers("a", "b")


def test_test_hooks_are_apart_from_the_bindings():
    """Bindings only the tests use live in pycolorize._core._testing, not beside the real API."""
    from pycolorize import _core

    assert {"philox4x32_10", "dropout_seed"} <= set(dir(_core._testing))
    assert not {"philox4x32_10", "dropout_seed"} & set(dir(_core))


def test_input_reshape_propagates():
    text = inp("x", 1, 1, 8, 8) + ('layer { name: "c" type: "Convolution" bottom: "x" top: "c" convolution_param { num_output: 2 kernel_size: 3 pad: 1 } }\n'
                                   'layer { name: "p" type: "Pooling" bottom: "c" top: "p" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }\n')
    net = net_from(text)
    out = net.forward(x=np.zeros((3, 1, 12, 10), np.float32))
    assert out["p"].shape == (3, 2, 6, 5)
    net.blobs["x"].reshape([1, 1, 4, 4])
    net.reshape()
    assert net.blobs["p"].shape == (1, 2, 2, 2)


def test_arrays_outlive_their_net():
    net = net_from(inp("x", 2, 3) + 'layer { name: "ip" type: "InnerProduct" bottom: "x" top: "y" inner_product_param { num_output: 4 weight_filler { type: "constant" value: 1 } } }')
    y = net.forward(x=np.ones((2, 3), np.float32))["y"]
    w = net.params["ip"][0].data
    blob = net.blobs["y"]
    del net
    gc.collect()
    np.testing.assert_array_equal(y, 3)  # still readable, still correct
    np.testing.assert_array_equal(w, 1)
    assert blob.shape == (2, 4)
    # a grown blob gets new memory; the old view stays valid
    old = blob.data
    blob.reshape([100, 100])
    np.testing.assert_array_equal(old, 3)


def test_bad_graphs_give_clear_errors():
    with pytest.raises(pycolorize.Error, match=r"layer 'c' \(Concat, <string>:3:1\): bottom 1 has shape \(2, 3, 4\) but bottom 0 has \(2, 3, 5\); all dims except axis 1"):
        net_from(inp("a", 2, 3, 5) + inp("b", 2, 3, 4) + 'layer { name: "c" type: "Concat" bottom: "a" bottom: "b" top: "c" }')
    with pytest.raises(pycolorize.Error, match=r"layer 'e' \(Eltwise, <string>:3:1\): bottom 1 has shape \(2, 4\) but bottom 0 has \(2, 3\)"):
        net_from(inp("a", 2, 3) + inp("b", 2, 4) + 'layer { name: "e" type: "Eltwise" bottom: "a" bottom: "b" top: "e" }')
    with pytest.raises(pycolorize.Error, match="top blob 'a' is already produced by another layer"):
        net_from(inp("a", 2) + 'layer { name: "b" type: "Input" top: "a" input_param { shape { dim: 2 } } }')
    with pytest.raises(pycolorize.Error, match="duplicate layer name 'r'"):
        net_from(inp("a", 2) + 'layer { name: "r" type: "ReLU" bottom: "a" top: "b" }\nlayer { name: "r" type: "ReLU" bottom: "b" top: "c" }')
    with pytest.raises(pycolorize.Error, match=r"layer 'c' \(Convolution, <string>:2:1\): bottom \(1, 3, 4, 4\) has 3 channels but the weights"):
        net = net_from(inp("x", 1, 2, 4, 4) + 'layer { name: "c" type: "Convolution" bottom: "x" top: "c" convolution_param { num_output: 2 kernel_size: 3 } }')
        net.forward(x=np.zeros((1, 3, 4, 4), np.float32))
    with pytest.raises(pycolorize.Error, match="takes 2 bottom blob"):
        net_from(inp("a", 2) + 'layer { name: "l" type: "EuclideanLoss" bottom: "a" top: "l" }')
    with pytest.raises(pycolorize.Error, match="needs num_output"):
        net_from(inp("a", 1, 1, 2, 2) + 'layer { name: "c" type: "Convolution" bottom: "a" top: "c" convolution_param { kernel_size: 1 } }')
    with pytest.raises(KeyError, match="no blob named 'nope'"):
        net_from(inp("a", 2)).forward(nope=np.zeros(2))


def test_modes():
    assert pycolorize.mode() == "cpu"
    if pycolorize.gpu_count() == 0:
        with pytest.raises(pycolorize.Error, match="GPU mode requested"):
            pycolorize.set_mode_gpu()
        assert pycolorize.mode() == "cpu"

"""The hypercolumn projection pass (csrc/graph/net_optimize.cpp): where it applies, the rewritten net's
outputs equal the literal graph's (optimize=False) to float32 rounding, max |opt - lit| / max |lit|
<= 1e-5, on randomized nets of the deploy structure and several input sizes; where its conditions
fail, the graph stays literal; the weights API sees the layers as written; removed blobs explain
themselves. The golden deploy net runs with the pass on and off in test_golden.py."""
import numpy as np
import pytest

import pycolorize
from pycolorize.models import nets as models

from conftest import assert_close, net_from

TOL = 1e-5
SMALL = {"conv": (3, 4, 5, 6, 7), "fc": 9, "h_fc1": 8}


def randomize(net, seed):
    """Random weights in every learned layer (not the frozen bilinear kernels), for both nets."""
    rng = np.random.RandomState(seed)
    for name, blobs in net.params.items():
        if name.endswith("_reshaped"):
            continue
        for b in blobs:
            b.data[...] = rng.randn(*b.shape).astype(np.float32) * np.sqrt(2.0 / max(1, b.data[0].size))


def pair(text, seed=0):
    lit = net_from(text, optimize=False)
    opt = net_from(text)
    randomize(lit, seed)
    for (n1, b1), (n2, b2) in zip(lit.params.items(), opt.params.items()):
        assert n1 == n2
        for x, y in zip(b1, b2):
            y.data[...] = x.data
    return lit, opt


def compare(lit, opt, x):
    a, b = lit.forward(data=x), opt.forward(data=x)
    assert set(a) == set(b)
    for k in a:
        assert_close(b[k], a[k], TOL, f"output {k}")
    return a, b


@pytest.mark.parametrize("size", [32, 64, 96])
@pytest.mark.parametrize("widths", [SMALL, dict(SMALL, fc=0)], ids=["fc", "no_fc"])
def test_deploy_structure_matches_literal(size, widths):
    text = models.deploy_net(widths, size=size)
    lit, opt = pair(text, seed=size)
    assert opt.optimized and not lit.optimized
    assert "dense_hypercolumn" in opt.removed_blobs and "h_fc1" in opt.removed_layers
    assert "h_fc1" in opt.blobs  # written by the pass's final sum
    x = np.random.RandomState(1).rand(1, 1, size, size).astype(np.float32)
    compare(lit, opt, x)
    assert_close(opt.blobs["h_fc1"].data, lit.blobs["h_fc1"].data, TOL, "h_fc1")
    # another size through the same nets (forward reshapes)
    x2 = np.random.RandomState(2).rand(1, 1, size + 32, size).astype(np.float32)
    compare(lit, opt, x2)


def test_released_deploy_prototxt_is_rewritten():
    """The authors' deploy prototxt, unchanged: every upsampled column goes (conv4, conv5, fc6/fc7 by
    resolution) and h_fc1 runs as four projections."""
    with open("prototxt/colorize_deploy.prototxt") as f:
        text = f.read().replace("dim: 512", "dim: 64", 2)
    net = net_from(text)
    assert net.optimized
    for col in ["conv4_1", "conv4_2", "conv4_3", "conv5_1", "conv5_2", "conv5_3", "fc6", "fc7"]:
        assert f"{col}_full" in net.removed_blobs
        assert f"{col}_full_reshaped" in net.removed_layers
    assert {"data_full", "conv3_1"} <= set(net.blobs)  # inputs used as they are stay
    projections = [l for l in net.layers if l.type == "Projection"]
    assert [l.name for l in projections] == [f"h_fc1_part{k}" for k in range(4)]
    ups = [l for l in net.layers if l.type == "ResampleAdd"]
    assert [l.name for l in ups] == [f"h_fc1_part{k}_up" for k in (1, 2, 3)]
    # no concatenation and no 1024-channel map at full resolution but h_fc1 itself: the groups
    # add into it in place, and only their coarse sums are left beside it
    lit_blobs = set(net_from(text, optimize=False).blobs)
    added = sorted(set(net.blobs) - lit_blobs)
    assert added == ["h_fc1_part1", "h_fc1_part2", "h_fc1_part3"]
    assert [net.blobs[b].shape[2] for b in added] == [8, 4, 2]  # conv4, conv5, fc6/fc7 at 1/8, 1/16, 1/32
    # weights as written: the same parameter list as the literal net
    lit = net_from(text, optimize=False)
    assert [(n, [b.shape for b in bl]) for n, bl in net.params.items()] == \
        [(n, [b.shape for b in bl]) for n, bl in lit.params.items()]
    assert [l.name for l in net.literal_layers] == [l.name for l in lit.layers]


def test_interleaved_groups_and_weight_edits():
    """Inputs of one resolution apart in the concat (runs summed before one upsampling), a plain
    input between them, and weights changed after construction (the views see them)."""
    up = models._upsample
    text = ('name: "t"\n' + models._input("data", 2, 3, 16, 16)
            + 'layer { name: "a" type: "Convolution" bottom: "data" top: "a" convolution_param { num_output: 5 kernel_size: 3 pad: 1 } }\n'
            + 'layer { name: "p" type: "Pooling" bottom: "a" top: "p" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }\n'
            + 'layer { name: "b" type: "Convolution" bottom: "p" top: "b" convolution_param { num_output: 6 kernel_size: 3 pad: 1 } }\n'
            + 'layer { name: "q" type: "Pooling" bottom: "b" top: "q" pooling_param { pool: AVE kernel_size: 2 stride: 2 } }\n'
            + up("b_full", "b", 6, 2) + up("p_full", "p", 5, 2) + up("q_full", "q", 6, 4)
            + 'layer { name: "cat" type: "Concat" bottom: "b_full" bottom: "a" bottom: "q_full" bottom: "p_full" top: "cat" }\n'
            + 'layer { name: "proj" type: "Convolution" bottom: "cat" top: "proj" convolution_param { num_output: 7 kernel_size: 1 } }\n')
    lit, opt = pair(text, seed=3)
    assert opt.optimized
    x = np.random.RandomState(4).rand(2, 3, 16, 16).astype(np.float32)
    compare(lit, opt, x)
    for net in (lit, opt):
        net.params["proj"][0].data[:, 5:11] *= -2.0
        net.params["proj"][1].data[...] += 1.0
    compare(lit, opt, x)


BASE = ('name: "t"\n' + models._input("data", 1, 2, 8, 8)
        + 'layer { name: "c" type: "Convolution" bottom: "data" top: "c" convolution_param { num_output: 3 kernel_size: 3 pad: 1 } }\n'
        + 'layer { name: "d" type: "Pooling" bottom: "c" top: "d" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }\n'
        + models._upsample("d_full", "d", 3, 2))
CAT = 'layer { name: "cat" type: "Concat" bottom: "c" bottom: "d_full" top: "cat" }\n'
PROJ = 'layer { name: "proj" type: "Convolution" bottom: "cat" top: "proj" convolution_param { num_output: 4 kernel_size: 1 } }\n'


def test_minimal_net_is_rewritten():
    lit, opt = pair(BASE + CAT + PROJ, seed=5)
    assert opt.optimized
    compare(lit, opt, np.random.RandomState(6).rand(1, 2, 8, 8).astype(np.float32))


def test_only_upsampled_inputs():
    """Without an input at the concat's resolution the bias has nowhere exact to go (an upsampling
    does not carry a constant to the border unchanged): rewritten only without a bias."""
    cat = 'layer { name: "cat" type: "Concat" bottom: "d_full" bottom: "e_full" top: "cat" }\n'
    text = BASE + models._upsample("e_full", "d", 3, 2).replace('"d_reshaped"', '"d_reshaped2"') + cat
    assert not net_from(text + PROJ).optimized
    lit, opt = pair(text + PROJ.replace("kernel_size: 1", "kernel_size: 1 bias_term: false"), seed=7)
    assert opt.optimized
    compare(lit, opt, np.random.RandomState(8).rand(1, 2, 8, 8).astype(np.float32))


RELU_INSIDE = BASE.replace('layer { name: "d_full" type: "Reshape"',
                           'layer { name: "r" type: "ReLU" bottom: "d_full_reshaped" top: "d_full_reshaped" }\n'
                           'layer { name: "d_full" type: "Reshape"')


@pytest.mark.parametrize("text, why", [
    (BASE + 'layer { name: "r" type: "ReLU" bottom: "d_full" top: "d_full" }\n' + CAT + PROJ, "ReLU in between"),
    (RELU_INSIDE + CAT + PROJ, "ReLU inside the upsampling"),
    (BASE + CAT + PROJ + 'layer { name: "s" type: "Power" bottom: "cat" top: "s" }\n', "concat read twice"),
    (BASE + 'layer { name: "s" type: "Power" bottom: "d_full_reshaped" top: "s" }\n' + CAT + PROJ,
     "upsampled map read twice"),
    (BASE + CAT + PROJ.replace("kernel_size: 1", "kernel_size: 3 pad: 1"), "not 1x1"),
    (BASE + CAT + PROJ.replace("kernel_size: 1", "kernel_size: 1 stride: 2"), "strided"),
    (BASE + CAT + PROJ.replace("kernel_size: 1", "kernel_size: 1 group: 2").replace("num_output: 4", "num_output: 6"),
     "grouped"),
    (BASE.replace("lr_mult: 0", "lr_mult: 1") + CAT + PROJ, "learned upsampling"),
    (BASE.replace("bias_term: false", "bias_term: true") + CAT + PROJ, "upsampling with a bias"),
    (BASE.replace("shape { dim: -1 dim: 1 } axis: 0 num_axes: 2", "shape { dim: -1 dim: 1 dim: 0 dim: 0 } axis: 0", 1)
     + CAT + PROJ, "another spelling of the reshape"),
    (BASE + CAT.replace('top: "cat"', 'top: "cat" concat_param { axis: 2 }') + PROJ.replace('"cat"', '"cat"'),
     "concat along height"),
    (BASE + CAT + PROJ.replace('convolution_param', 'param { name: "shared" } convolution_param'), "shared parameters"),
    (BASE + 'layer { name: "cat" type: "Concat" bottom: "c" top: "cat" }\n' + PROJ, "nothing upsampled"),
])
def test_pass_leaves_other_graphs_literal(text, why):
    try:
        lit = net_from(text, optimize=False)
    except pycolorize.Error:
        pytest.fail(f"{why}: the test net itself is invalid")
    net = net_from(text)
    assert not net.optimized, why
    assert net.removed_blobs == [] and [l.name for l in net.layers] == [l.name for l in lit.layers]


def test_train_phase_and_optimize_false_stay_literal():
    assert not net_from(BASE + CAT + PROJ, phase="train").optimized
    assert not net_from(BASE + CAT + PROJ, optimize=False).optimized
    assert not net_from("force_backward: true\n" + BASE + CAT + PROJ).optimized


def test_removed_blob_explains_itself():
    net = net_from(BASE + CAT + PROJ)
    assert "cat" in net.removed_blobs and "cat" not in net.blobs
    with pytest.raises(KeyError, match="optimize=False"):
        net.blobs["cat"]
    with pytest.raises(pycolorize.Error, match="projection pass removed it"):
        net.forward(data=np.zeros((1, 2, 8, 8), np.float32), blobs=["cat"])
    with pytest.raises(KeyError, match="optimize=False"):
        net.needs_backward("proj")
    with pytest.raises(KeyError):  # a name that never existed stays a plain KeyError
        net.blobs["nothing"]


def test_unequal_upsampling_kernels_are_refused():
    """The pass sums a group's projections before upsampling with the first member's kernel: if a
    weights file gives the members different kernels, forward says so instead of computing wrong."""
    text = models.deploy_net(SMALL, size=64)
    lit, opt = pair(text)
    x = np.random.RandomState(0).rand(1, 1, 64, 64).astype(np.float32)
    compare(lit, opt, x)
    opt.params["conv4_2_full_reshaped"][0].data[...] *= 1.5
    with pytest.raises(pycolorize.Error, match="conv4_1_full_reshaped.*conv4_2_full_reshaped.*optimize=False"):
        opt.forward(data=x)
    # the first member's kernel is the one that runs: changing it in both nets keeps them equal
    for net in (lit, opt):
        net.params["conv4_2_full_reshaped"][0].data[...] = net.params["conv4_3_full_reshaped"][0].data
        for name in ("conv5_1_full_reshaped", "conv5_2_full_reshaped", "conv5_3_full_reshaped"):
            net.params[name][0].data[...] *= 0.5
    compare(lit, opt, x)


def test_save_and_load_go_through_the_layers_as_written(tmp_path):
    text = models.deploy_net(SMALL, size=64)
    lit, opt = pair(text, seed=9)
    a, b = tmp_path / "lit.caffemodel.h5", tmp_path / "opt.caffemodel.h5"
    lit.save(a)
    opt.save(b)
    import h5py

    with h5py.File(a) as fa, h5py.File(b) as fb:
        assert sorted(fa["data"]) == sorted(fb["data"])
        for layer in fa["data"]:
            assert sorted(fa["data"][layer]) == sorted(fb["data"][layer])
            for k in fa["data"][layer]:
                np.testing.assert_array_equal(fa["data"][layer][k][()], fb["data"][layer][k][()])
    fresh = pycolorize.Net.from_string(text, weights=str(a))
    assert fresh.optimized
    x = np.random.RandomState(0).rand(1, 1, 64, 64).astype(np.float32)
    compare(lit, fresh, x)


@pytest.mark.gpu
@pytest.mark.skipif(not (pycolorize.cuda_compiled() and pycolorize.gpu_count() > 0), reason="no CUDA GPU visible")
def test_gpu_matches_literal():
    text = models.deploy_net(SMALL, size=64)
    lit, opt = pair(text, seed=11)
    x = np.random.RandomState(0).rand(1, 1, 64, 64).astype(np.float32)
    ref = lit.forward(data=x)
    pycolorize.set_mode_gpu()
    out = opt.forward(data=x)
    for k in ref:
        assert_close(out[k], ref[k], TOL, f"gpu output {k}")


def test_backward_through_the_rewritten_graph():
    """A TEST net with a loss can still run backward (pycaffe allows it): the views' weight
    gradients land in the columns of the literal layer's diff, and the gradient reaches the trunk."""
    loss = ('layer { name: "target" type: "Input" top: "target" input_param { shape { dim: 1 dim: 4 dim: 8 dim: 8 } } }\n'
            'layer { name: "loss" type: "EuclideanLoss" bottom: "proj" bottom: "target" top: "loss" }\n')
    lit, opt = pair(BASE + CAT + PROJ + loss, seed=12)
    assert opt.optimized
    rng = np.random.RandomState(13)
    x, t = rng.rand(1, 2, 8, 8).astype(np.float32), rng.rand(1, 4, 8, 8).astype(np.float32)
    for net in (lit, opt):
        net.clear_param_diffs()
        net.forward(data=x, target=t)
        net.backward()
    assert_close(opt.blobs["loss"].data, lit.blobs["loss"].data, TOL, "loss")
    for layer in ("proj", "c"):
        for i, (a, b) in enumerate(zip(lit.params[layer], opt.params[layer])):
            assert np.abs(a.diff).max() > 0
            assert_close(b.diff, a.diff, TOL, f"{layer} diff {i}")

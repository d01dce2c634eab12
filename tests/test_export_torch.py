"""pycolorize.export: the nets as PyTorch modules (to_torch) equal to pycolorize.Net and to real
Caffe, their weights written back bit for bit (from_torch), and `pycolorize export`'s ONNX graphs
and torch.export programs checked with onnx.checker, ONNX Runtime and PyTorch (docs/export.md).

These need PyTorch, ONNX and ONNX Runtime (pip install 'pycolorize[export]'); without them each test
skips saying so. CI installs '.[test]' only (PyTorch is too large a download for its time); these
tests ran where docs/export.md says. Tolerances: the module and the runtimes compute in float32 in
other orders than the core, so outputs differ by float32 rounding (measured ~1e-6 relative); the
brief asks 1e-4, the tests ask 1e-5 of the module and 1e-4 of ONNX Runtime."""
try:
    import torch  # before pycolorize where both are present (a CUDA build's library clash; harmless here)
except ImportError:
    torch = None
import json
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

import pycolorize
from pycolorize import cli, models

from conftest import DATA, assert_close

EXTRA = "pip install 'pycolorize[export]'"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
A2 = os.path.join(DATA, "autocolorize_small")
DEPLOY, WEIGHTS = os.path.join(A2, "deploy_small.prototxt"), os.path.join(A2, "deploy_small.caffemodel.h5")
NARROW = {"conv": (4, 4, 8, 8, 8), "fc": 8, "h_fc1": 8}
TOL = 1e-5  # the module against pycolorize.Net and against Caffe's recorded blobs
RUNTIME_TOL = 1e-4  # ONNX Runtime and torch.export programs against pycolorize.Net


@pytest.fixture(scope="module")
def tt():
    return pytest.importorskip("torch", reason=f"pycolorize.export's PyTorch tests need torch: {EXTRA}")


@pytest.fixture(scope="module")
def ort(tt):
    pytest.importorskip("onnx", reason=f"the ONNX export tests need onnx: {EXTRA}")
    return pytest.importorskip("onnxruntime", reason=f"the ONNX export tests need onnxruntime: {EXTRA}")


def rel(theirs, ours):
    """The largest difference relative to the largest value of `ours` (as export's checks measure)."""
    ours = np.asarray(ours, dtype=np.float64)
    return float(np.abs(np.asarray(theirs, dtype=np.float64) - ours).max()) / max(float(np.abs(ours).max()), 1e-30)


def numpy(t):
    return t.detach().cpu().numpy()


def random_weights(text, path, seed=0, phase="test"):
    """Random weights for every learned blob of the net `text` (the fixed bilinear kernels keep their
    filler values; BatchNorm gets plausible statistics), written to `path`."""
    net = pycolorize.Net.from_string(text, phase=phase)
    rng = np.random.RandomState(seed)
    kinds = {layer.name: layer.type for layer in net.literal_layers}
    for name, blobs in net.params.items():
        if name.endswith("_reshaped") or kinds[name] == "Deconvolution":
            continue
        if kinds[name] == "BatchNorm":
            c = blobs[0].shape[0]
            factor = 0.8
            blobs[0].data[...] = factor * 0.3 * rng.randn(c)
            blobs[1].data[...] = factor * rng.uniform(0.25, 2.0, c)
            blobs[2].data[...] = factor
            continue
        w = blobs[0].data
        w[...] = rng.randn(*w.shape) * np.sqrt(2.0 / (w.size // w.shape[0]))
        if len(blobs) > 1:
            blobs[1].data[...] = 0.1 * rng.randn(*blobs[1].shape)
    net.save(path)
    return path


def inputs_for(net, seed=1):
    """Inputs for every Input blob of pycolorize.Net `net`, by name: gray images, centroids inside
    the crop, one-hot histogram targets, chroma weights, (a, b) targets, VOC labels with 255s."""
    rng = np.random.RandomState(seed)
    out = {}
    for name in net.inputs:
        shape = tuple(net.blobs[name].shape)
        if name == "data":
            v = rng.rand(*shape)
        elif name == "centroids":
            crop = net.blobs["data"].shape[-1]
            v = rng.uniform(-3, crop + 3, shape)  # some outside the crop: the clamp
        elif name.startswith("hist_"):
            v = np.eye(shape[1])[rng.randint(0, shape[1], shape[0])]
        elif name == "label":
            v = rng.randint(0, models.VOC_CLASSES, shape).astype(np.float64)
            v[rng.rand(*shape) < 0.1] = 255
        elif name == "ab":
            v = 0.3 * rng.randn(*shape)
        else:  # chroma, chroma_weight
            v = rng.rand(*shape)
        out[name] = v.astype(np.float32)
    return out


# ---- the golden deploy net: ours, Caffe's, and its weights file ------------------------------------

def test_golden_deploy_net_matches_ours_and_caffe(tt):
    from pycolorize.export import to_torch

    net = to_torch(DEPLOY, WEIGHTS)
    assert not net.training and net.inputs == ["data"] and net.outputs == ["prediction_h_full", "prediction_c_full"]
    assert not net.layers["prediction_h_full_reshaped"].weight.requires_grad  # the fixed bilinear kernel (lr_mult 0)
    assert net.layers["conv1_1"].weight.requires_grad
    gold = np.load(os.path.join(A2, "blobs.npz"))
    recorded = [k[len("blob__"):] for k in gold.files if k.startswith("blob__")]
    with tt.no_grad():
        out = net(tt.from_numpy(gold["input"]), blobs=recorded)
    ours = pycolorize.Net(DEPLOY, weights=WEIGHTS).forward(data=gold["input"])
    for name in net.outputs:
        assert rel(numpy(out[name]), ours[name]) < TOL, name
    for blob in recorded:  # every blob real Caffe recorded (those the projection pass removes in ours too)
        assert_close(numpy(out[blob]), gold["blob__" + blob], TOL, f"deploy_small: blob {blob}")
    assert len(recorded) == 42


def test_golden_weights_round_trip_bit_for_bit(tt, tmp_path):
    """to_torch then from_torch writes the golden file's groups and arrays exactly, from the module and
    from its state_dict after torch.save / torch.load; pycolorize.Net loads it and computes the same."""
    from pycolorize.export import from_torch, to_torch

    net = to_torch(DEPLOY, WEIGHTS)
    tt.save(net.state_dict(), tmp_path / "state.pt")
    state = tt.load(tmp_path / "state.pt")
    for source, out in ((net, tmp_path / "module.caffemodel.h5"), (state, tmp_path / "state.caffemodel.h5")):
        written = from_torch(source, DEPLOY, out)
        with h5py.File(WEIGHTS) as a, h5py.File(out) as b:
            assert sorted(a["data"]) == sorted(b["data"]) == sorted(written)
            for layer in a["data"]:
                assert sorted(a["data"][layer]) == sorted(b["data"][layer]), layer
                for k in a["data"][layer]:
                    x, y = a["data"][layer][k], b["data"][layer][k]
                    assert x.dtype == y.dtype == np.float32 and x.shape == y.shape, (layer, k)
                    assert x[()].tobytes() == y[()].tobytes(), (layer, k)
    x = np.random.RandomState(0).rand(1, 1, 96, 96).astype(np.float32)
    a = pycolorize.Net(DEPLOY, weights=WEIGHTS).forward(data=x)
    b = pycolorize.Net(DEPLOY, weights=str(tmp_path / "state.caffemodel.h5")).forward(data=x)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def test_fine_tuned_weights_come_back(tt, tmp_path):
    """A change made in PyTorch (here: conv1_1 scaled, a bias shifted) is what pycolorize.Net computes
    with the written file; a state_dict of another net is refused, naming what differs."""
    from pycolorize.export import from_torch, to_torch

    net = to_torch(DEPLOY, WEIGHTS)
    with tt.no_grad():
        net.layers["conv1_1"].weight.mul_(1.5)
        net.layers["h_fc1"].bias.add_(0.25)
    from_torch(net, DEPLOY, tmp_path / "tuned.h5")
    x = np.random.RandomState(2).rand(1, 1, 96, 96).astype(np.float32)
    with tt.no_grad():
        theirs = net(tt.from_numpy(x))
    ours = pycolorize.Net(DEPLOY, weights=str(tmp_path / "tuned.h5")).forward(data=x)
    for k in ours:
        assert rel(numpy(theirs[k]), ours[k]) < TOL
    other = to_torch(models.deploy_net(NARROW, size=64)).state_dict()
    with pytest.raises(ValueError, match="not one of the net"):
        from_torch(other, DEPLOY, tmp_path / "wrong.h5")
    assert not os.path.exists(tmp_path / "wrong.h5")


def test_trained_in_torch_comes_back_into_the_deploy_net(tt, tmp_path):
    """docs/export.md's fine-tuning path: the training net in PyTorch, an SGD step with the prototxt's
    rates, from_torch; the deploy net (pycolorize.Net) then holds the updated h_fc1 and heads
    (InnerProduct -> 1x1 convolution) and the trunk, and computes what to_torch of it computes."""
    from pycolorize.export import from_torch, to_torch

    text = models.train_net("hue_chroma", NARROW, batch=2, crop=64, samples=8)
    net = to_torch(text, random_weights(text, str(tmp_path / "w.h5")), phase="train")
    opt = tt.optim.SGD(net.param_groups(0.1, weight_decay=5e-4), lr=0.1, momentum=0.9)
    feeds = inputs_for(pycolorize.Net.from_string(text, phase="train"))
    before = net.layers["h_fc1"].weight.detach().clone()
    net.loss(net(**{k: tt.from_numpy(v) for k, v in feeds.items()})).backward()
    opt.step()
    assert not tt.equal(before, net.layers["h_fc1"].weight)
    from_torch(net, text, tmp_path / "tuned.h5")
    deploy = models.deploy_net(NARROW, size=64)
    ours = pycolorize.Net.from_string(deploy, weights=str(tmp_path / "tuned.h5"))
    for layer in ("conv1_1", "fc6", "h_fc1", "prediction_h", "prediction_c"):
        for i in range(2):
            np.testing.assert_array_equal(ours.params[layer][i].data.reshape(-1), numpy(net.layers[layer].caffe_blobs()[i]).reshape(-1))
    x = np.random.RandomState(4).rand(1, 1, 64, 64).astype(np.float32)
    with tt.no_grad():
        theirs = to_torch(deploy, str(tmp_path / "tuned.h5"))(tt.from_numpy(x))
    for k, v in ours.forward(data=x).items():
        assert rel(numpy(theirs[k]), v) < TOL


# ---- every golden layer case and the authors' two layers, forward and backward ---------------------

with open(os.path.join(DATA, "layers_index.json")) as f:
    CASES = json.load(f)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_golden_layer_case(tt, case):
    """Each layer case of the golden set (tests/test_golden.py) through to_torch: every blob Caffe
    recorded, and PyTorch's gradients of the inputs and parameters against Caffe's diffs (the same
    random top diffs, loss weight 1)."""
    from pycolorize.export import to_torch

    name = case["name"]
    gold = np.load(os.path.join(DATA, "layers.npz"))
    net = to_torch(os.path.join(DATA, "layers", name + ".prototxt"))
    with tt.no_grad():
        for layer, shapes in case["params"]:
            for i, _ in enumerate(shapes):
                net.layers[layer].caffe_blobs()[i].copy_(tt.from_numpy(gold[f"{name}__param__{layer}__{i}"]))
    inputs = {b: tt.from_numpy(gold[f"{name}__in__{b}"]).requires_grad_(b != "label") for b, _, _ in case["inputs"]}
    out = net(**inputs, blobs=[b for b, _ in case["blobs"]])
    for blob, shape in case["blobs"]:
        assert tuple(out[blob].shape) == tuple(shape), blob
        assert_close(numpy(out[blob]), gold[f"{name}__blob__{blob}"], TOL, f"{name}: blob {blob}")
    total = sum((out[b] * tt.from_numpy(gold[f"{name}__topdiff__{b}"])).sum() for b in case["outputs"] if b not in case["losses"])
    total = total + sum(out[b] for b in case["losses"])
    total.backward()
    for blob, _, _ in case["inputs"]:
        if blob != "label":  # Caffe computes no gradient for labels
            assert_close(numpy(inputs[blob].grad), gold[f"{name}__diff__{blob}"], TOL, f"{name}: diff of {blob}")
    for layer, shapes in case["params"]:
        for i, _ in enumerate(shapes):
            t = net.layers[layer].caffe_blobs()[i]
            if t.requires_grad:
                assert_close(numpy(t.grad), gold[f"{name}__paramdiff__{layer}__{i}"], TOL, f"{name}: param diff {layer}[{i}]")


@pytest.mark.parametrize("case", ["sparse_hc", "sparse_hc_single_mult", "kld_mask_full", "kld_mask_valid", "kld_nomask_xent_w5"])
def test_authors_layers(tt, case):
    """SparseHypercolumnExtractor and SoftmaxKLDLoss (golden set A4) against Caffe's outputs and
    gradients; the hypercolumns equal pycolorize.Net's bit for bit."""
    from pycolorize.export import to_torch

    gold = np.load(os.path.join(DATA, "custom_layers", "custom_layers.npz"))
    path = os.path.join(DATA, "custom_layers", case + ".prototxt")
    net, ours = to_torch(path), pycolorize.Net(path)
    params = [k for k, layer in net.layers.items() if layer.caffe_type == "Parameter"]  # the maps, the predictions
    with tt.no_grad():
        for p in params:
            net.layers[p].weight.copy_(tt.from_numpy(gold[f"{case}__in__{p}"]))
            ours.params[p][0].data[...] = gold[f"{case}__in__{p}"]
    inputs = {b: gold[f"{case}__in__{b}"] for b in net.inputs}
    out = net(**{k: tt.from_numpy(v) for k, v in inputs.items()})
    if case.startswith("sparse_hc"):
        columns = out["columns"]
        assert_close(numpy(columns), gold[f"{case}__out__columns"], TOL, case)
        np.testing.assert_array_equal(numpy(columns), ours.forward(**inputs, blobs=["columns"])["columns"])
        (columns * tt.from_numpy(gold[f"{case}__topdiff__columns"])).sum().backward()
    else:
        assert float(out["loss"].detach()) == pytest.approx(float(gold[f"{case}__out__loss"]), rel=1e-6)
        net.loss(out).backward()  # Caffe's recorded gradient carries the loss weight
    for p in params:
        assert_close(numpy(net.layers[p].weight.grad), gold[f"{case}__indiff__{p}"], TOL, f"{case}: gradient of {p}")


def test_sparse_hypercolumn_sampling_is_the_cores_bit_for_bit(tt):
    """The released sampling on maps of every stride the nets use, points outside every border, on
    grid points and between them, and a map past 2048 rows (where H - 1.0001 rounds to H - 1 in
    float32 and the core caps the tap): the same values as the core, bit for bit, and the gradient
    of each map is the core's scatter."""
    from pycolorize.export import to_torch

    maps = {"a": (2, 3, 40, 36), "b": (2, 4, 20, 18), "c": (2, 2, 10, 9), "d": (2, 2, 2100, 3)}
    scales = (1, 2, 4, 1)
    text = 'name: "hc"\nforce_backward: true\nlayer { name: "centroids" type: "Input" top: "centroids" input_param { shape { dim: 2 dim: 300 dim: 2 } } }\n'
    text += "".join(f'layer {{ name: "{m}" type: "Input" top: "{m}" input_param {{ shape {{ {" ".join(f"dim: {d}" for d in s)} }} }} }}\n'
                    for m, s in maps.items())
    param = " ".join(f"scale: {s} offset_height: {(s - 1) / 2:g} offset_width: {(s - 1) / 2:g}" for s in scales)
    text += ('layer { name: "hc" type: "SparseHypercolumnExtractor" bottom: "centroids" '
             + " ".join(f'bottom: "{m}"' for m in maps) + f' top: "hc" sparse_hypercolumn_extractor_param {{ {param} '
             'activation_mult: 1.5 activation_mult: 0.5 } }\n')
    rng = np.random.RandomState(3)
    cent = np.stack([rng.uniform(-5, 2110, (2, 300)), rng.uniform(-5, 45, (2, 300))], axis=-1)
    cent[:, :40] = np.round(cent[:, :40])  # grid points
    cent[0, 40:44] = [[2099, 2], [2098.99995, 35], [39, 35.5], [-1, -1]]
    feeds = {"centroids": cent.astype(np.float32)}
    feeds.update({m: rng.randn(*s).astype(np.float32) for m, s in maps.items()})
    ours = pycolorize.Net.from_string(text)
    want = ours.forward(**feeds, blobs=["hc"])["hc"]
    net = to_torch(text)
    tensors = {k: tt.from_numpy(v).requires_grad_(k != "centroids") for k, v in feeds.items()}
    got = net(**tensors, blobs=["hc"])["hc"]
    np.testing.assert_array_equal(numpy(got), want)
    dy = rng.randn(*want.shape).astype(np.float32)
    (got * tt.from_numpy(dy)).sum().backward()
    ours.blobs["hc"].diff[...] = dy
    ours.backward_layers(start="hc", end="hc")
    for m in maps:
        assert_close(numpy(tensors[m].grad), ours.blobs[m].diff, 1e-6, f"gradient of {m}")


# ---- every net the generator writes ---------------------------------------------------------------

GENERATED = ([(f"deploy_{v}", lambda v=v: models.deploy_net(NARROW, size=64, variant=v)) for v in models.VARIANTS]
             + [(f"train_{v}", lambda v=v: models.train_net(v, NARROW, batch=2, crop=64, samples=8)) for v in models.VARIANTS]
             + [("scratch", lambda: models.scratch_net(NARROW, batch=2, crop=64, samples=8)),
                ("segmentation_deploy", lambda: models.segmentation_net(NARROW, crop=64, deploy=True)),
                ("segmentation_train", lambda: models.segmentation_net(NARROW, batch=2, crop=64)),
                ("segmentation_train_bn", lambda: models.segmentation_net(NARROW, batch=2, crop=64, batchnorm=True,
                                                                         trunk_filler='type: "xavier"')),
                ("tiny_deploy", lambda: open(os.path.join(ROOT, "prototxt", "tiny_deploy.prototxt")).read())])


@pytest.mark.parametrize("kind,make", GENERATED, ids=[g[0] for g in GENERATED])
def test_generated_net_matches_ours(tt, tmp_path, kind, make):
    """Every net models generates, TEST phase (BatchNorm on its statistics, Dropout off), random weights:
    the outputs (deploy: the histograms; training: the losses) and the predictions equal
    pycolorize.Net's."""
    from pycolorize.export import to_torch

    text = make()
    weights = random_weights(text, str(tmp_path / "w.h5"))
    ours = pycolorize.Net.from_string(text, weights=weights)
    feeds = inputs_for(ours)
    extra = [b for b in ("prediction_h", "prediction_c", "prediction_a", "prediction_b", "prediction_ab", "score", "fc7")
             if b in ours.blobs]
    want = ours.forward(**feeds, blobs=extra)
    net = to_torch(text, weights)
    with tt.no_grad():
        got = net(**{k: tt.from_numpy(v) for k, v in feeds.items()}, blobs=extra)
    assert list(got) == list(want)
    for k in want:
        assert rel(numpy(got[k]), want[k]) < TOL, (kind, k, rel(numpy(got[k]), want[k]))
    if net.loss_weights:
        total = sum(w * float(want[b]) for b, w in net.loss_weights.items())
        assert float(net.loss(got)) == pytest.approx(total, rel=TOL)


def test_training_phase_matches_ours(tt, tmp_path):
    """The from-scratch net in its TRAIN phase (Dropout ratio 0, so no masks to draw): the losses,
    BatchNorm on the batch's statistics and Caffe's running sums after the pass, and every learned
    tensor's gradient, against pycolorize.Net's forward and backward."""
    from pycolorize.export import to_torch

    text = models.scratch_net(NARROW, batch=2, crop=64, samples=8).replace("dropout_ratio: 0.5", "dropout_ratio: 0")
    weights = random_weights(text, str(tmp_path / "w.h5"), phase="train")
    ours = pycolorize.Net.from_string(text, phase="train", weights=weights)
    feeds = inputs_for(ours)
    want = ours.forward(**feeds)
    ours.backward()
    net = to_torch(text, weights, phase="train")
    assert net.training
    got = net(**{k: tt.from_numpy(v) for k, v in feeds.items()})
    for k in want:
        assert rel(numpy(got[k]), want[k]) < 1e-4, k
    net.loss(got).backward()
    checked = 0
    for layer in net.layers.values():
        if not layer.caffe_blobs():
            continue
        # relative to the layer's weight gradient: a bias before BatchNorm has none (the batch mean
        # takes it away), only rounding in both
        scale = np.abs(ours.params[layer.caffe_name][0].diff).max()
        for i, t in enumerate(layer.caffe_blobs()):
            blob = ours.params[layer.caffe_name][i]
            if layer.caffe_type == "BatchNorm":  # the running sums after one pass
                assert_close(numpy(t), blob.data, 1e-5, f"{layer.caffe_name} blob {i}")
            elif t.requires_grad:
                err = np.abs(numpy(t.grad) - blob.diff.reshape(t.shape)).max()
                assert err <= 1e-3 * scale, (layer.caffe_name, i, err, scale)
                checked += 1
    assert checked == 2 * (13 + 2 + 3)  # the convolutions, fc6, fc7, h_fc1 and the two heads


def test_the_prototxt_decides_phases_legacy_inputs_and_defaults(tt):
    """Caffe's include/exclude rules pick the layers of each phase (two layers may share a name, one
    per phase); legacy `input:` fields are inputs; a field left out means the schema's default
    (Pooling's stride 1, Concat's axis 1, ReLU's slope 0) as in the core."""
    from pycolorize.export import to_torch

    text = """name: "rules"  # a comment
input: "data" input_shape { dim: 2 dim: 3 dim: 9 dim: 7 }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
        convolution_param { num_output: 4 kernel_size: [3, 1] pad_h: 1 pad_w: 0 stride: 2 } }
layer { name: "act" type: "ReLU" bottom: "conv" top: "act" include { phase: TRAIN } relu_param { negative_slope: 0.5 } }
layer { name: "act" type: "ReLU" bottom: "conv" top: "act" include: { phase: TEST } }
layer { name: "pool" type: "Pooling" bottom: "act" top: "pool" pooling_param { pool: AVE kernel_size: 2 } }
layer { name: "both" type: "Concat" bottom: "pool" bottom: "pool" top: "both" exclude { phase: TRAIN stage: "x" } }
"""
    x = np.random.RandomState(5).randn(2, 3, 9, 7).astype(np.float32)
    for phase in ("test", "train"):
        ours = pycolorize.Net.from_string(text, phase=phase)
        ours.params["conv"][0].data[...] = np.random.RandomState(6).randn(*ours.params["conv"][0].shape)
        net = to_torch(text, phase=phase)
        with tt.no_grad():
            net.layers["conv"].weight.copy_(tt.from_numpy(ours.params["conv"][0].data))
            got = net(tt.from_numpy(x))
        want = ours.forward(data=x)
        assert net.inputs == ["data"] and list(got) == list(want) == ["both"]
        assert net.layers["act"].negative_slope == (0.5 if phase == "train" else 0.0)
        assert rel(numpy(got["both"]), want["both"]) < TOL


def test_param_groups_follow_the_prototxt(tt):
    from pycolorize.export import to_torch

    net = to_torch(models.train_net("hue_chroma", NARROW, batch=1, crop=64, samples=1, freeze_conv=True), phase="train")
    groups = {(g["lr"], g["weight_decay"]): len(g["params"]) for g in net.param_groups(0.1, weight_decay=0.01)}
    # frozen conv1_1 .. conv5_3 (lr_mult 0) are left out; fc6, fc7, h_fc1 and the heads: weights (1, 1), biases (2, 0)
    assert groups == {(0.1, 0.01): 5, (0.2, 0.0): 5}
    assert not net.layers["conv3_1"].weight.requires_grad and net.layers["fc6"].weight.requires_grad


# ---- ONNX and torch.export ------------------------------------------------------------------------

CORE_LAYERS = """name: "core_layers"
layer { name: "in" type: "Input" top: "a" top: "b"
        input_param { shape { dim: 2 dim: 3 dim: 5 dim: 6 } shape { dim: 2 dim: 4 dim: 5 dim: 6 } } }
layer { name: "proj" type: "Projection" bottom: "a" bottom: "b" top: "p" convolution_param { num_output: 5 } }
layer { name: "up" type: "ResampleAdd" bottom: "p" top: "u"
        convolution_param { kernel_h: 4 kernel_w: 3 stride_h: 2 stride_w: 3 pad_h: 1 pad_w: 0 } }
layer { name: "up_add" type: "ResampleAdd" bottom: "u" bottom: "p" top: "u"
        convolution_param { kernel_h: 2 kernel_w: 3 stride_h: 2 stride_w: 3 pad_h: 0 pad_w: 1 dilation: 1 dilation: 2 } }
layer { name: "proj1" type: "Projection" bottom: "u" top: "q" convolution_param { num_output: 2 bias_term: false } }
"""


def test_the_cores_own_layers_in_a_prototxt(tt, tmp_path):
    """Projection (several bottoms, one bottom, with and without bias) and ResampleAdd (alone, and added
    in place) as a prototxt may name them: to_torch computes what pycolorize.Net does, and from_torch
    writes their weights back bit for bit."""
    from pycolorize.export import from_torch, to_torch

    weights = random_weights(CORE_LAYERS, str(tmp_path / "w.h5"))
    ours = pycolorize.Net.from_string(CORE_LAYERS, weights=weights)
    assert [layer.type for layer in ours.layers if layer.type != "Split"][1:] == ["Projection", "ResampleAdd",
                                                                                 "ResampleAdd", "Projection"]
    feeds = inputs_for(ours)
    want = ours.forward(**feeds, blobs=["p", "u", "q"])
    assert want["u"].shape == (2, 5, 10, 18)  # height and width resampled differently
    net = to_torch(CORE_LAYERS, weights)
    with tt.no_grad():
        got = net(**{k: tt.from_numpy(v) for k, v in feeds.items()}, blobs=["p", "u", "q"])
    for k in want:
        assert rel(numpy(got[k]), want[k]) < TOL, (k, rel(numpy(got[k]), want[k]))
    prototxt = tmp_path / "core.prototxt"
    prototxt.write_text(CORE_LAYERS)
    from_torch(net, str(prototxt), tmp_path / "back.h5")
    with h5py.File(weights) as a, h5py.File(tmp_path / "back.h5") as b:
        assert sorted(a["data"]) == sorted(b["data"]) and {"proj", "proj1", "up", "up_add"} <= set(a["data"])
        for layer in a["data"]:
            assert sorted(a["data"][layer]) == sorted(b["data"][layer]), layer
            for k in a["data"][layer]:
                assert a["data"][layer][k][()].tobytes() == b["data"][layer][k][()].tobytes(), (layer, k)


@pytest.fixture(scope="module")
def narrow(tmp_path_factory):
    """A narrow deploy net of every output space with random weights: {variant: (prototxt, weights)}."""
    folder = tmp_path_factory.mktemp("narrow")
    out = {}
    for v in models.VARIANTS:
        p = folder / f"{v}.prototxt"
        p.write_text(models.deploy_net(NARROW, size=64, variant=v))
        out[v] = (str(p), random_weights(p.read_text(), str(folder / f"{v}.caffemodel.h5"), seed=len(out)))
    return out


def export(capsys, *argv):
    status = cli.main(["export", *map(str, argv)])
    out, err = capsys.readouterr()
    return status, out, err


def graph_dims(path, which="input"):
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    values = model.graph.input if which == "input" else model.graph.output
    return {v.name: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim] for v in values}


def test_onnx_export_of_the_golden_deploy_net(ort, tmp_path, capsys):
    from pycolorize.export import check_onnx

    out = tmp_path / "golden.onnx"
    status, text, err = export(capsys, "--prototxt", DEPLOY, "--weights", WEIGHTS, "-o", out)
    assert status == 0, err
    assert "checked: onnx.checker passed; ONNX Runtime" in text and "output space hue_chroma" in text
    assert graph_dims(out) == {"data": ["batch", 1, "height", "width"]}
    assert graph_dims(out, "output") == {n: ["batch", 32, "height", "width"] for n in ("prediction_h_full", "prediction_c_full")}
    for size, batch in ((None, None), ((128, 128), None), ((64, 160), None), ((96, 96), 2)):
        diffs = check_onnx(out, DEPLOY, WEIGHTS, size=size, batch=batch)
        assert set(diffs) == {"prediction_h_full", "prediction_c_full"}
        assert max(diffs.values()) < RUNTIME_TOL, (size, batch, diffs)


def test_onnx_export_of_the_full_size_deploy_net_non_square(ort, tmp_path, capsys):
    """The authors' deploy net at its full width (prototxt/colorize_deploy.prototxt, 147 million
    weights, He-random here), traced at a non-square size: ONNX Runtime within 1e-4 of our forward,
    there and at another size."""
    from pycolorize.export import check_onnx

    prototxt = models.prototxt_path("colorize_deploy.prototxt")
    with open(prototxt) as f:
        weights = random_weights(f.read(), str(tmp_path / "full.caffemodel.h5"))
    out = tmp_path / "full.onnx"
    status, text, err = export(capsys, "--prototxt", prototxt, "--weights", weights, "-o", out, "--size", 96, 128)
    assert status == 0, err
    assert "traced at 1x1x96x128" in text and "output space hue_chroma" in text
    assert list(graph_dims(out, "output")) == ["prediction_h_full", "prediction_c_full"]
    for size in ((96, 128), (64, 96)):
        assert max(check_onnx(out, prototxt, weights, size=size).values()) < RUNTIME_TOL, size


@pytest.mark.parametrize("variant", ["lab_k32", "lab_l2"])
def test_onnx_export_of_a_lab_net_non_square(ort, narrow, tmp_path, capsys, variant):
    """A Lab space's outputs carry its blob names; traced at a non-square --size; dynamic still."""
    from pycolorize.export import check_onnx

    prototxt, weights = narrow[variant]
    out = tmp_path / f"{variant}.onnx"
    status, text, err = export(capsys, "--prototxt", prototxt, "--weights", weights, "-o", out, "--size", 64, 128)
    assert status == 0, err
    names = {"lab_k32": ["prediction_a_full", "prediction_b_full"], "lab_l2": ["prediction_ab_full"]}[variant]
    assert list(graph_dims(out, "output")) == names and f"output space {variant}" in text
    assert "traced at 1x1x64x128" in text
    for size in ((64, 128), (96, 64)):
        assert max(check_onnx(out, prototxt, weights, size=size).values()) < RUNTIME_TOL


def test_onnx_static_export_fixes_the_size(ort, narrow, tmp_path, capsys):
    from pycolorize.export import check_onnx

    prototxt, weights = narrow["hue_chroma"]
    out = tmp_path / "static.onnx"
    status, text, err = export(capsys, "--prototxt", prototxt, "--weights", weights, "-o", out, "--size", 32, 96, "--static")
    assert status == 0, err
    assert "fixed size" in text and graph_dims(out) == {"data": [1, 1, 32, 96]}
    assert max(check_onnx(out, prototxt, weights, size=(32, 96)).values()) < RUNTIME_TOL
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    with pytest.raises(Exception, match="(?i)dimension|shape"):
        session.run(None, {"data": np.zeros((1, 1, 64, 64), np.float32)})


def test_torch_export_program(tt, narrow, tmp_path, capsys):
    from pycolorize.export import check_torch

    prototxt, weights = narrow["hue_chroma"]
    out = tmp_path / "net.pt2"
    status, text, err = export(capsys, "--format", "torch", "--prototxt", prototxt, "--weights", weights, "-o", out,
                               "--size", 64, 96)
    assert status == 0, err
    assert "torch.export program" in text and "checked: the loaded program" in text
    for size, batch in (((64, 96), None), ((128, 64), 3)):
        assert max(check_torch(out, prototxt, weights, size=size, batch=batch).values()) < RUNTIME_TOL
    program = tt.export.load(str(out)).module()
    hue, chroma = program(tt.rand(1, 1, 64, 160))
    assert tuple(hue.shape) == tuple(chroma.shape) == (1, 32, 64, 160)
    with pytest.raises(Exception):  # sides of 32: not what the program was traced for (the docs say so)
        program(tt.rand(1, 1, 32, 32))


def test_export_refuses_what_it_cannot_check(ort, narrow, tmp_path, capsys):
    prototxt, weights = narrow["hue_chroma"]
    # a tolerance no float32 run meets: the file is removed, one line, status 1
    out = tmp_path / "strict.onnx"
    status, _, err = export(capsys, "--prototxt", prototxt, "--weights", weights, "-o", out, "--tolerance", 1e-12)
    assert status == 1 and "differs from pycolorize's forward pass" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
    # a training net is not an inference net
    train = tmp_path / "train.prototxt"
    train.write_text(models.train_net("hue_chroma", NARROW, batch=1, crop=64, samples=2))
    status, _, err = export(capsys, "--prototxt", train, "--weights", weights, "-o", tmp_path / "t.onnx")
    assert status == 1 and "loss layers" in err
    # sides that are not multiples of 32: a usage error
    with pytest.raises(SystemExit) as done:
        cli.main(["export", "-o", "x.onnx", "--size", "100", "64"])
    assert done.value.code == 2


def test_export_without_onnxruntime_says_how_to_get_it(ort, narrow, tmp_path, capsys, monkeypatch):
    import builtins

    real = builtins.__import__

    def no_runtime(name, *args, **kwargs):
        if name == "onnxruntime":
            raise ImportError("No module named 'onnxruntime'", name="onnxruntime")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_runtime)
    prototxt, weights = narrow["hue_chroma"]
    status, _, err = export(capsys, "--prototxt", prototxt, "--weights", weights, "-o", tmp_path / "x.onnx")
    assert status == 1 and EXTRA in err and "--no-check" in err
    status, _, err = export(capsys, "--prototxt", prototxt, "--weights", weights, "-o", tmp_path / "x.onnx", "--no-check")
    assert status == 0, err


def test_decoding_example_in_the_docs(ort, narrow, tmp_path, capsys, monkeypatch):
    """docs/export.md's decoding example, run as written on a narrow net's ONNX graph and a photo."""
    from PIL import Image

    prototxt, weights = narrow["hue_chroma"]
    monkeypatch.chdir(tmp_path)
    assert export(capsys, "--prototxt", prototxt, "--weights", weights, "-o", "colorize.onnx", "--no-check")[0] == 0
    Image.fromarray((np.random.RandomState(0).rand(45, 70, 3) * 255).astype(np.uint8)).save("photo.jpg")
    with open(os.path.join(ROOT, "docs", "export.md")) as f:
        doc = f.read()
    blocks = [b.split("```", 1)[0] for b in doc.split("```python\n")[1:]]
    example = [b for b in blocks if "InferenceSession" in b]
    assert len(example) == 1
    exec(compile(example[0], "docs/export.md", "exec"), {})
    out = Image.open("photo_color.png")
    assert out.size == (70, 45) and out.mode == "RGB"


def test_importing_needs_no_torch_onnx_or_onnxruntime(tmp_path):
    """pycolorize, pycolorize.export and the command import without PyTorch, ONNX and ONNX Runtime;
    to_torch and `pycolorize export` then say how to install them (this test needs none of them)."""
    code = ("import sys\n"
            "for m in ('torch', 'onnx', 'onnxruntime'): sys.modules[m] = None  # as if not installed\n"
            "import pycolorize, pycolorize.export, pycolorize.cli.export\n"
            "from pycolorize import cli\n"
            "try:\n"
            "    pycolorize.export.to_torch('x.prototxt')\n"
            "except ImportError as e:\n"
            "    print('to_torch:', e)\n"
            "print('status', cli.main(['export', '-o', 'x.onnx', '--weights', 'w.h5']))\n")
    here = os.path.dirname(os.path.dirname(pycolorize.__file__))
    env = dict(os.environ, PYTHONPATH=here + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "to_torch: pycolorize.export needs PyTorch" in r.stdout and EXTRA in r.stdout
    assert "status 1" in r.stdout and EXTRA in r.stderr and "Traceback" not in r.stderr

"""The generated networks: the prototxt files are current, the full-width generator rebuilds the
released deploy structure, training weights load into the dense net, and a finite-difference
gradient check of the whole training net (narrow widths) passes for every output space."""
import os
import subprocess
import sys

import numpy as np
import pytest

import pycolorize
from pycolorize import data, models
from pycolorize.engine.gradcheck import check_gradients

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MINI = {"conv": (3, 3, 4, 4, 4), "fc": 4, "h_fc1": 5}


def test_prototxt_files_are_current():
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "make_prototxt.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr + r.stdout


def test_generator_rebuilds_the_released_deploy_net():
    ours = pycolorize.Net.from_string(models.deploy_net(size=64))
    ref = pycolorize.Net(os.path.join(ROOT, "prototxt", "colorize_deploy.prototxt"))
    assert [l.name for l in ours.layers] == [l.name for l in ref.layers]
    assert [l.type for l in ours.layers] == [l.type for l in ref.layers]
    assert {k: [p.shape for p in v] for k, v in ours.params.items()} == {k: [p.shape for p in v] for k, v in ref.params.items()}
    assert sum(models.channels()) == 12417


@pytest.mark.parametrize("variant", models.VARIANTS + ("scratch",))
def test_whole_training_net_gradients(device, variant):
    # The fillers draw from the global generator: seed it, so that the point checked does not depend
    # on which tests ran before. (At some points an early convolution's bias, which moves thousands
    # of ReLU inputs at once, crosses so many kinks within the step that its central difference is
    # off by more than the threshold; seeds 0-4 are clear of that, seed 5 is not.)
    # "scratch" is models.scratch_net: BatchNorm with batch statistics after every trunk
    # convolution, and the chroma loss weighted by chroma_weight.
    pycolorize.set_random_seed(0)
    text = (models.scratch_net(MINI, batch=2, crop=64, samples=6) if variant == "scratch" else
            models.train_net(variant, MINI, batch=2, crop=64, samples=6, head_dropout=True, trunk_filler='type: "msra"'))
    net = pycolorize.Net.from_string("force_backward: true\n" + text, phase="train")
    rng = np.random.default_rng(0)
    for i in range(2):
        ex = data.make_example(rng.random((70, 70, 3)), rng, crop=64, short_side=70, samples=6, margin=2,
                               variant="hue_chroma" if variant == "scratch" else variant, chroma_weight=variant == "scratch")
        for k, v in ex.items():
            if k in ("data", "centroids"):
                net.blobs[k].data[i] = v
            else:
                net.blobs[k].data[i * 6:(i + 1) * 6] = v
    # fractional sample locations keep the bilinear taps away from their kinks
    net.blobs["centroids"].data[...] += 0.37
    # every parameter of every layer and the input; elements whose objective is not smooth within
    # the step (a ReLU or max-pool input at its kink, common in a deep net) are skipped. The step:
    # at 1e-4 the float32 rounding of the loss (~1e-6) reads as kinks in the one-sided differences;
    # at 1e-3 kinks spoil early biases; 3e-4 keeps both well inside the threshold, on any build
    assert check_gradients(net, step=3e-4, threshold=1e-2, max_checks=12, skip_kinks=True) > 200


def test_training_weights_load_into_the_dense_net(tmp_path):
    train = pycolorize.Net.from_string(models.train_net("hue_chroma", MINI, batch=1, crop=64, samples=4,
                                                        trunk_filler='type: "gaussian" std: 0.1'), phase="train")
    for p in train.params["h_fc1"] + train.params["prediction_h"]:
        p.data[...] = np.random.RandomState(0).randn(*p.shape)
    path = str(tmp_path / "w.caffemodel.h5")
    train.save(path)
    dense = pycolorize.Net.from_string(models.deploy_net(MINI, size=64), weights=path)
    assert dense.params["h_fc1"][0].shape == train.params["h_fc1"][0].shape + (1, 1)
    np.testing.assert_array_equal(dense.params["h_fc1"][0].data[..., 0, 0], train.params["h_fc1"][0].data)
    np.testing.assert_array_equal(dense.params["conv3_2"][0].data, train.params["conv3_2"][0].data)


def test_scratch_net_is_the_released_trainer_structure():
    net = pycolorize.Net.from_string(models.scratch_net(MINI, batch=1, crop=64, samples=4), phase="train")
    types = {l.name: l.type for l in net.layers}
    trunk = [n for n in models.HYPERCOLUMN if n != "data"]
    # one BatchNorm per trunk convolution, fc6 and fc7 included, and none in the head
    assert sorted(n for n, t in types.items() if t == "BatchNorm") == sorted(f"{n}_bn" for n in trunk)
    order = [l.name for l in net.layers]
    for n in trunk:
        assert order.index(n) < order.index(f"{n}_bn") < order.index(f"relu_{n}")
    assert {f"dropout_{n}" for n in ("fc6", "fc7", "h_fc1")} <= set(types)
    # the chroma loss is masked by the lightness weight, the hue loss by the chroma
    kld = {name: net.bottom_names[name] for name, l in net.layer_dict.items() if l.type == "SoftmaxKLDLoss"}
    assert kld == {"loss_h": ["prediction_h", "hist_h", "chroma"], "loss_c": ["prediction_c", "hist_c", "chroma_weight"]}
    # Xavier trunk (zero biases), h_fc1 drawn with std 1e-4; BatchNorm statistics start at zero
    w = net.params["fc6"][0].data
    assert np.abs(w).max() <= np.sqrt(3.0 / (w.size // w.shape[0])) + 1e-6 and np.abs(w).max() > 0
    assert not net.params["conv1_1"][1].data.any()
    assert 0 < net.params["h_fc1"][0].data.std() < 3e-4
    assert all(not p.data.any() for p in net.params["conv3_2_bn"])
    with pytest.raises(ValueError, match="hue_chroma"):
        models.train_net("lab_k32", MINI, lightness_weight=True)


@pytest.mark.parametrize("crop", [64, 96])
def test_segmentation_net_scores_every_input_pixel_and_ignores_255(device, crop):
    pycolorize.set_random_seed(0)
    net = pycolorize.Net.from_string("force_backward: true\n" + models.segmentation_net(
        MINI, batch=2, crop=crop, trunk_filler='type: "msra"'), phase="train")
    assert net.blobs["score"].shape == (2, 21, crop, crop)
    rng = np.random.default_rng(1)
    net.blobs["data"].data[...] = rng.random((2, 1, crop, crop))
    label = rng.integers(0, 21, (2, 1, crop, crop)).astype(np.float32)
    label[:, :, :5] = 255  # a border VOC would ignore
    net.blobs["label"].data[...] = label
    net.params["score_fr"][0].data[...] = rng.normal(0, 0.5, net.params["score_fr"][0].shape)
    net.forward()
    loss = float(net.blobs["loss"].data)
    # the loss is the mean cross-entropy over the pixels not ignored
    s = net.blobs["score"].data.astype(np.float64)
    logp = s - s.max(1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(1, keepdims=True))
    lab = label[:, 0].astype(int)
    keep = lab != 255
    picked = np.take_along_axis(logp, np.where(keep, lab, 0)[:, None], 1)[:, 0]
    assert loss == pytest.approx(-picked[keep].mean(), rel=1e-5)
    assert check_gradients(net, step=3e-4, threshold=1e-2, max_checks=6, skip_kinks=True) > 50


def test_segmentation_upsampling_centres_each_cell_on_its_pixels():
    # one score cell (row 1, column 2 of the stride-32 map) lights up; the x32 bilinear upsampling
    # peaks on that cell's own 32x32 block, symmetric about its centre (32*i + 15.5)
    net = pycolorize.Net.from_string(models.segmentation_net(MINI, crop=128, deploy=True))
    up = pycolorize.Net.from_string(
        'layer { name: "s" type: "Input" top: "s" input_param { shape { dim: 1 dim: 21 dim: 4 dim: 4 } } }\n'
        + models.segmentation_net(MINI, crop=128, deploy=True).split('layer { name: "upscore"')[1].join(
            ['layer { name: "upscore"', '']).replace('bottom: "score_fr"', 'bottom: "s"'))
    up.params["upscore"][0].data[...] = net.params["upscore"][0].data
    s = np.zeros((1, 21, 4, 4), np.float32)
    s[0, 3, 1, 2] = 1
    out = up.forward(s=s)["score"][0, 3]
    row, col = out[:, 80], out[48, :]
    assert np.argmax(row) in (47, 48) and row[47] == pytest.approx(row[48])
    assert np.argmax(col) in (79, 80) and col[79] == pytest.approx(col[80])
    np.testing.assert_allclose(out[32:64, 64:96], out[32:64, 64:96][::-1, ::-1], rtol=1e-6)

"""pycolorize.models.trunk and `pycolorize export-trunk`: BatchNorm folded into the convolutions exactly
(to float rounding), the trunk of a snapshot for a downstream net, gray or RGB input."""
import numpy as np
import pytest

import pycolorize
from pycolorize.engine import weights as export_weights
from pycolorize.models import trunk as trunk_export
from pycolorize import models
from pycolorize.engine.weights import open_h5, read_caffe_h5, write_caffe_h5

from conftest import tool_main

MINI = {"conv": (3, 3, 4, 4, 4), "fc": 4, "h_fc1": 5}


def randomize(net, rng):
    """Random weights, and BatchNorm statistics of a trained-looking net (factor != 1)."""
    for name, blobs in net.params.items():
        if name == "upscore":
            continue  # the fixed bilinear kernel
        if name.endswith("_bn"):
            c = blobs[0].shape[0]
            blobs[2].data[...] = 7.3
            blobs[0].data[...] = rng.normal(0, 1, c) * 7.3
            blobs[1].data[...] = rng.uniform(0.2, 3, c) * 7.3
            continue
        for b in blobs:
            b.data[...] = rng.normal(0, 0.5, b.shape)


def read(path):
    with open_h5(path) as f:
        return read_caffe_h5(f, path)


def test_folding_batchnorm_is_exact(tmp_path):
    rng = np.random.default_rng(0)
    with_bn = pycolorize.Net.from_string(models.segmentation_net(MINI, crop=64, deploy=True, batchnorm=True))
    randomize(with_bn, rng)
    with_bn.save(str(tmp_path / "bn.h5"))
    folded = export_weights.fold_batchnorm(read(tmp_path / "bn.h5"))
    assert not any(name.endswith("_bn") for name in folded) and set(folded) >= set(trunk_export.TRUNK)
    write_caffe_h5(folded, tmp_path / "folded.h5")
    plain = pycolorize.Net.from_string(models.segmentation_net(MINI, crop=64, deploy=True), weights=str(tmp_path / "folded.h5"))
    x = rng.random((1, 1, 64, 64)).astype(np.float32)
    ref = with_bn.forward(data=x)["score"].copy()
    out = plain.forward(data=x)["score"]
    assert np.abs(ref).max() > 1e-2  # a signal through every layer, not zeros
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())


def test_fold_checks_the_pairing():
    conv = [np.ones((4, 1, 3, 3), np.float32), np.zeros(4, np.float32)]
    bn = [np.zeros(4, np.float32), np.ones(4, np.float32), np.ones(1, np.float32)]
    with pytest.raises(ValueError, match="x.h5: BatchNorm statistics conv9_bn follow no convolution named 'conv9'"):
        export_weights.fold_batchnorm({"conv1_1": conv, "conv9_bn": bn}, where="x.h5")
    with pytest.raises(ValueError, match="BatchNorm conv1_1_bn has 3 channels, convolution conv1_1 4 outputs"):
        export_weights.fold_batchnorm({"conv1_1": conv, "conv1_1_bn": [b[:3] if b.size == 4 else b for b in bn]})
    # mean 0, variance 1 - eps: the identity
    bn[1][...] = 1 - export_weights.BN_EPS
    np.testing.assert_allclose(export_weights.fold_batchnorm({"conv1_1": conv, "conv1_1_bn": bn})["conv1_1"][0], conv[0], rtol=1e-6)


def snapshot(tmp_path, rng):
    """A from-scratch colorization snapshot: trunk with BatchNorm, h_fc1 and heads."""
    net = pycolorize.Net.from_string(models.scratch_net(MINI, batch=1, crop=64, samples=4), phase="train")
    randomize(net, rng)
    path = str(tmp_path / "scratch_iter_10.caffemodel.h5")
    net.save(path)
    return path


@pytest.mark.parametrize("color", [False, True])
def test_export_trunk_feeds_the_segmentation_net(tmp_path, color):
    rng = np.random.default_rng(1)
    snap = snapshot(tmp_path, rng)
    argv = [snap, "-o", str(tmp_path / "trunk.h5"), "--quiet"] + (["--color"] if color else [])
    assert tool_main("export_trunk.py")(argv) == 0
    trunk = read(tmp_path / "trunk.h5")
    assert list(trunk) == trunk_export.TRUNK  # the heads and the BatchNorm groups are left out
    assert trunk["conv1_1"][0].shape[1] == (3 if color else 1)
    # the reference: the snapshot's own net with its BatchNorm layers (TEST phase), nothing folded
    gray = pycolorize.Net.from_string(models.segmentation_net(MINI, crop=64, deploy=True, batchnorm=True))
    gray.copy_from(snap)
    gray.params["score_fr"][0].data[...] = rng.normal(0, 1, gray.params["score_fr"][0].shape)
    rgb = rng.random((64, 64, 3)).astype(np.float32)
    ref = gray.forward(data=rgb.mean(-1)[None, None])["score"].copy()
    net = pycolorize.Net.from_string(models.segmentation_net(MINI, crop=64, deploy=True, color=color),
                                     weights=str(tmp_path / "trunk.h5"))
    net.params["score_fr"][0].data[...] = gray.params["score_fr"][0].data
    x = rgb.transpose(2, 0, 1)[None] if color else rgb.mean(-1)[None, None]
    np.testing.assert_allclose(net.forward(data=x)["score"], ref, rtol=1e-4, atol=1e-5 * np.abs(ref).max())


def test_export_trunk_errors_are_one_line(tmp_path, capsys):
    main = tool_main("export_trunk.py")
    assert main([str(tmp_path / "missing.h5"), "-o", str(tmp_path / "t.h5")]) == 1
    assert "missing.h5: no such colorization snapshot" in capsys.readouterr().err
    write_caffe_h5({"conv1_1": [np.ones((2, 1, 3, 3), np.float32)]}, tmp_path / "partial.h5")
    assert main([str(tmp_path / "partial.h5"), "-o", str(tmp_path / "t.h5")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not a colorization snapshot: no weights for conv1_2" in err
    assert not (tmp_path / "t.h5").exists()


def test_a_from_scratch_snapshot_loads_folded_into_the_deploy_net(tmp_path):
    snap = snapshot(tmp_path, np.random.default_rng(2))
    folded = export_weights.fold_batchnorm(read(snap))
    net = pycolorize.Net.from_string(models.deploy_net(MINI, size=64))
    with pytest.warns(UserWarning, match="BatchNorm statistics folded .* conv1_1_bn"):
        loaded = net.copy_from(snap)
    assert "conv1_1" in loaded and "h_fc1" in loaded
    for name in trunk_export.TRUNK:
        for got, want in zip(net.params[name], folded[name]):
            np.testing.assert_array_equal(got.data, want)
    # a net with the BatchNorm layers (training resumed) gets the statistics as they are
    train = pycolorize.Net.from_string(models.scratch_net(MINI, batch=1, crop=64, samples=4), phase="train")
    train.copy_from(snap)
    np.testing.assert_array_equal(train.params["conv1_1"][0].data, read(snap)["conv1_1"][0])
    np.testing.assert_array_equal(train.params["conv1_1_bn"][0].data, read(snap)["conv1_1_bn"][0])

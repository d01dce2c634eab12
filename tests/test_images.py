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


# ---- decoding: modes, bit depth, size limit, EXIF, errors (hand-made files, Pillow as reference) ----

def _png_bytes(im, **kw):
    buf = io.BytesIO()
    im.save(buf, format=kw.pop("format", "PNG"), **kw)
    return buf.getvalue()


def test_decode_image_keeps_rgb_rgba_gray_and_gray_alpha_as_written():
    # the arrays written to PNG come back unchanged (lossless), in their own number of channels
    rng = np.random.RandomState(3)
    for shape in ((5, 7, 3), (5, 7, 4), (5, 7), (5, 7, 2)):
        a = (rng.rand(*shape) * 255).astype(np.uint8)
        mode = {3: "RGB", 4: "RGBA", 2: "LA"}.get(shape[-1] if len(shape) == 3 else 0, "L")
        got = images.decode_image(io.BytesIO(_png_bytes(Image.fromarray(a, mode))))
        assert got.dtype == np.uint8 and got.shape == a.shape
        np.testing.assert_array_equal(got, a)


def test_decode_image_converts_palette_bilevel_and_cmyk_to_rgb_and_pa_to_rgba():
    # Pillow's own convert() of the same decoded image is the answer
    p = Image.fromarray(np.arange(35, dtype=np.uint8).reshape(5, 7) * 7).convert("P", palette=Image.Palette.ADAPTIVE)
    one = Image.fromarray((np.arange(35).reshape(5, 7) % 2 * 255).astype(np.uint8)).convert("1")
    cmyk = Image.fromarray((np.random.RandomState(1).rand(5, 7, 3) * 255).astype(np.uint8)).convert("CMYK")
    for im, fmt in ((p, "PNG"), (one, "PNG"), (cmyk, "TIFF")):
        data = _png_bytes(im, format=fmt)
        got = images.decode_image(io.BytesIO(data))
        expected = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
        assert got.dtype == np.uint8 and got.shape == (5, 7, 3)
        np.testing.assert_array_equal(got, expected)
    pa = Image.new("PA", (7, 5))
    pa.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0] + [0] * 759)
    pa.putdata([(i % 3, 40 * (i % 5)) for i in range(35)])
    got = images._as_array(pa)  # "A" in the mode: RGBA, as Pillow converts it
    np.testing.assert_array_equal(got, np.asarray(pa.convert("RGBA")))
    assert got.shape == (5, 7, 4)


def test_decode_image_16_bit_gray_keeps_precision_and_clips_32_bit_values():
    # value / 65535 exactly; mode I values outside 0..65535 are clipped to [0, 1]
    g16 = np.array([[0, 1, 257, 65534, 65535, 40000]], np.uint16)
    got = images.decode_image(io.BytesIO(_png_bytes(Image.fromarray(g16))))
    assert got.dtype == np.float64 and got.shape == (1, 6)
    np.testing.assert_array_equal(got, g16 / 65535.0)
    wide = Image.fromarray(np.array([[-5, 0, 32768, 65535, 70000]], np.int32))
    assert wide.mode == "I"
    np.testing.assert_array_equal(images._as_array(wide), [[0.0, 0.0, 32768 / 65535.0, 1.0, 1.0]])


def _sized(w, h):
    return _png_bytes(Image.fromarray(np.full((h, w, 3), 90, np.uint8)))


def test_max_pixels_exactly_met_passes_one_more_pixel_is_refused_before_decoding():
    data = _sized(10, 6)  # 60 pixels, wider than tall
    assert images.decode_image(io.BytesIO(data), max_pixels=60).shape == (6, 10, 3)
    with pytest.raises(images.TooManyPixels, match=r"^10 x 6 pixels, more than the limit of 59$") as e:
        images.decode_image(io.BytesIO(data), max_pixels=59)
    assert (e.value.width, e.value.height, e.value.limit) == (10, 6, 59)
    with pytest.raises(images.TooManyPixels, match="10 x 6 pixels, more than the limit of 59"):
        images.decode_lightness(io.BytesIO(data), max_pixels=59)
    assert images.decode_lightness(io.BytesIO(data), max_pixels=60).shape == (6, 10)


def test_max_pixels_defaults_to_pillows_limit_and_none_there_means_no_limit(monkeypatch):
    import warnings
    data = _sized(10, 6)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 40)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with pytest.raises(images.TooManyPixels) as e:
            images.decode_image(io.BytesIO(data))
    assert e.value.limit == 40
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)  # Pillow's way of switching its check off
    assert images.decode_image(io.BytesIO(data)).shape == (6, 10, 3)
    assert images.decode_lightness(io.BytesIO(data)).shape == (6, 10)


def _exif_rotated():
    # a 3-row, 5-column image whose EXIF orientation 6 says: turn it 90 degrees clockwise to view it
    a = np.arange(15 * 3, dtype=np.uint8).reshape(3, 5, 3) * 5
    im = Image.fromarray(a)
    exif = im.getexif()
    exif[0x0112] = 6
    return a, _png_bytes(im, exif=exif.tobytes())


def test_exif_orientation_is_applied_only_when_asked():
    a, data = _exif_rotated()
    np.testing.assert_array_equal(images.decode_image(io.BytesIO(data)), a)  # default: as stored
    turned = images.decode_image(io.BytesIO(data), exif_transpose=True)
    np.testing.assert_array_equal(turned, np.rot90(a, -1))  # clockwise by hand
    gray = images.decode_lightness(io.BytesIO(data))
    np.testing.assert_allclose(gray, a.astype(np.float64).mean(axis=2) / 255.0, atol=1e-6)
    np.testing.assert_allclose(images.decode_lightness(io.BytesIO(data), exif_transpose=True),
                               np.rot90(a, -1).astype(np.float64).mean(axis=2) / 255.0, atol=1e-6)


def test_undecodable_bytes_say_why_and_whether_the_format_is_unknown():
    with pytest.raises(images.UndecodableImage, match=r"^UnidentifiedImageError: ") as e:
        images.decode_image(io.BytesIO(b"this is no image at all"))
    assert e.value.unidentified is True
    truncated = _png_bytes(Image.fromarray(np.zeros((40, 40, 3), np.uint8) + 7))[:-30]
    with pytest.raises(images.UndecodableImage, match=r"^[A-Za-z]+Error: ") as e:
        images.decode_image(io.BytesIO(truncated))
    assert e.value.unidentified is False and not str(e.value).startswith("NoneType")
    assert images.UndecodableImage("x").unidentified is False and str(images.UndecodableImage("x")) == "x"


def test_load_image_and_load_lightness_errors_name_the_file_and_the_limit(tmp_path, monkeypatch):
    p = tmp_path / "wide.png"
    p.write_bytes(_sized(10, 6))
    for load in (images.load_image, images.load_lightness):
        with pytest.raises(images.Error, match=rf"^{p}: 10 x 6 pixels, more than the limit \(59\)$"):
            load(str(p), max_pixels=59)
        assert load(str(p), max_pixels=60).shape[:2] == (6, 10)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 50)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        for load in (images.load_image, images.load_lightness):
            with pytest.raises(images.Error, match=rf"^{p}: 10 x 6 pixels, more than PIL.Image.MAX_IMAGE_PIXELS \(50\)$"):
                load(str(p))
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"no image")
    for load in (images.load_image, images.load_lightness):
        with pytest.raises(images.Error, match=rf"^{bad}: not a readable image \(UnidentifiedImageError: "):
            load(str(bad))
        with pytest.raises(FileNotFoundError):
            load(str(tmp_path / "missing.png"))


def test_load_lightness_is_the_mean_of_rgb_for_every_kind_of_file(tmp_path):
    # mean(R, G, B) / 255 (or value / 65535 for 16 bit) written out in float64, against float32
    rng = np.random.RandomState(5)
    rgb = (rng.rand(9, 13, 3) * 255).astype(np.uint8)
    rgb[0] = 255  # a bright first row: a band that is never computed would show
    cases = {"rgb.png": (rgb, rgb.astype(np.float64).mean(axis=2) / 255.0),
             "rgba.png": (np.dstack([rgb, rgb[..., :1]]), rgb.astype(np.float64).mean(axis=2) / 255.0),
             "gray.png": (rgb[..., 0], rgb[..., 0] / 255.0),
             "g16.png": ((rgb[..., 1].astype(np.uint16) * 200 + 3), (rgb[..., 1] * 200.0 + 3) / 65535.0)}
    for name, (a, expected) in cases.items():
        Image.fromarray(a).save(tmp_path / name)
        got = images.load_lightness(str(tmp_path / name))
        assert got.dtype == np.float32 and got.shape == (9, 13), name
        np.testing.assert_allclose(got, expected, atol=1e-6, err_msg=name)
        np.testing.assert_allclose(images.load_image(str(tmp_path / name)).mean(axis=2), expected, atol=1e-12)


def test_lightness_in_bands_of_rows_equals_the_whole():
    # bands of 1, 2 and 3 rows, and a last band that is shorter: the same numbers as the naive mean
    a = (np.random.RandomState(6).rand(7, 4, 3) * 255).astype(np.uint8)
    expected = a.astype(np.float64).mean(axis=2) / 255.0
    for band_pixels in (1, 4, 8, 12, 1 << 20):
        got = images._lightness_of(Image.fromarray(a), band_pixels=band_pixels)
        assert got.dtype == np.float32 and got.shape == (7, 4)
        np.testing.assert_allclose(got, expected, atol=1e-6)


# ---- the folder and list rules: boundaries and errors ----------------------------------------

def test_list_rule_reads_utf8_whatever_the_locale(tmp_path):
    # in a process whose locale is ASCII and not in Python's UTF-8 mode, open() without an encoding
    # would not read the list: the rule reads it as UTF-8 anyway
    import subprocess
    import sys

    import pycolorize

    lst = tmp_path / "list.txt"
    lst.write_bytes("é/ü.png 3\n".encode("utf-8"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "LANG", "PYTHONUTF8", "PYTHONIOENCODING"))}
    parent = os.path.dirname(os.path.dirname(os.path.abspath(pycolorize.__file__)))  # this pycolorize's folder
    env.update(LC_ALL="C", LANG="C", PYTHONUTF8="0", PYTHONPATH=parent)
    code = ("import locale, sys; from pycolorize.data import images; "
            "print(sys.flags.utf8_mode, locale.getpreferredencoding(False), "
            f"ascii([e.listed for e in images.read_list({str(lst)!r})]))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=parent)
    assert r.returncode == 0, r.stderr
    mode, encoding, listed = r.stdout.split(" ", 2)
    if mode != "0" or encoding.lower().replace("-", "") == "utf8":
        pytest.skip(f"this Python reads UTF-8 under the C locale too ({encoding}, UTF-8 mode {mode})")
    assert listed.strip() == ascii(["é/ü.png"])


def test_list_bytes_that_are_not_utf8_text_name_the_line_and_the_byte(tmp_path):
    # the first byte of the bad line that is not UTF-8 (or a NUL) is named, in hex, by hand
    for raw, byte in ((b"\x80", "0x80"), (b"\xff", "0xFF"), (b"\xc3", "0xC3"), (b"\x00", "0x00")):
        lst = tmp_path / "list.txt"
        lst.write_bytes(b"# ok\nfine.png\nba" + raw + b"d.png 1\nlater.png\n")
        with pytest.raises(ValueError, match=rf"^{lst}:3: byte {byte} in a path \(the list must be UTF-8 text\)$"):
            images.read_list(str(lst))


def test_list_root_drops_only_leading_slashes(tmp_path):
    # "/Xa.png" under root R is R/Xa.png: the X stays (only '/' is stripped); "//b.png" is R/b.png
    lst = tmp_path / "l.txt"
    lst.write_text("/Xa.png\n//b.png 2\nX/c.png\n")
    assert [e.path for e in images.read_list(str(lst), root="/r")] == ["/r/Xa.png", "/r/b.png", "/r/X/c.png"]


def test_folder_rule_order_is_by_name_inside_the_folder_given_relative_or_with_a_slash(tmp_path, monkeypatch):
    # names compared as strings: ' ' < '.' < '/' < 'A' < 'a' (written out by hand)
    d = tmp_path / "f"
    for name in ("a.png", "a b.png", "A.PNG", "a/z.png", "b.PNG"):
        save(d / name, shape=(2, 2, 3))
    expected = ["A.PNG", "a b.png", "a.png", "a/z.png", "b.PNG"]
    monkeypatch.chdir(tmp_path)
    for folder in ("f", "f/", str(d)):
        found = images.find_images(folder)
        assert rel(found, folder) == expected and all(p.startswith(folder) for p in found)

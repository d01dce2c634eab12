"""Every crash the fuzzers (tests/fuzz/) found, or that reading the readers for them showed, as a
test: the input must now give a clean error (or a result), never a crash. See tests/fuzz/README.md."""
import glob
import os
import struct
import subprocess
import sys
import warnings

import h5py
import numpy as np
import pytest

import pycolorize
from pycolorize.engine import caffemodel
from pycolorize import data
from pycolorize.models import vgg

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REGRESSIONS = os.path.join(ROOT, "tests", "fuzz", "regressions")


# ---- prototxt (libFuzzer, tests/fuzz/prototxt_fuzzer.cpp) ----------------------------------------

def build_in_subprocess(path):
    """Build the net of `path` in a child process, so a crash (SIGFPE, abort) fails this test only."""
    code = ("import sys, pycolorize\n"
            "try:\n"
            "    pycolorize.Net.from_string(open(sys.argv[1], encoding='utf-8').read(), name='fuzz.prototxt')\n"
            "    print('built')\n"
            "except pycolorize.Error as e:\n"
            "    print('Error:', e)\n")
    # The child imports the pycolorize under test (installed, or a build in the source tree), from a
    # folder of its own: `python -c` puts the current folder first on sys.path.
    package_root = os.path.dirname(os.path.dirname(pycolorize.__file__))
    env = dict(os.environ, PYTHONPATH=package_root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True, timeout=120, env=env,
                         cwd=os.path.dirname(path))
    assert out.returncode == 0, f"{os.path.basename(path)} crashed the process ({out.returncode}): {out.stderr[-2000:]}"
    return out.stdout.strip()


EXPECTED = {
    # UBSan: 3.6e54 parsed as a double then cast to int (undefined); now a range error.
    "huge_integer_dim.prototxt": "Error: fuzz.prototxt:3:82: field 'dim' of BlobShape expects an integer in "
                                 "[-2147483648, 2147483647], got '3555555555555555555555555555555555555555555555555555555'",
    # Division by zero (SIGFPE) in the convolution's band size for a bottom of width 0.
    "deconv_empty_width.prototxt": "built",
}


@pytest.mark.parametrize("name", sorted(os.path.basename(p) for p in glob.glob(os.path.join(REGRESSIONS, "*.prototxt"))))
def test_prototxt_regressions(name):
    assert name in EXPECTED, f"add the expected outcome of {name} to EXPECTED"
    assert build_in_subprocess(os.path.join(REGRESSIONS, name)) == EXPECTED[name]


def test_float_fields_past_float_range_are_errors():
    # get_float() of 1e300 was an undefined double -> float conversion (UBSan's float-cast-overflow).
    with pytest.raises(pycolorize.Error, match=r"<s>:1:\d+: field 'dropout_ratio' of DropoutParameter expects a "
                                               r"number within \+-3.40282e\+38, got '1e300'"):
        pycolorize.Net.from_string('layer { name: "d" type: "Dropout" dropout_param { dropout_ratio: 1e300 } }', name="<s>")
    with pytest.raises(pycolorize.Error, match="expects a non-negative integer in"):
        pycolorize.Net.from_string('layer { name: "c" type: "Convolution" convolution_param { num_output: 4294967296 } }')


# ---- binary .caffemodel (atheris, tests/fuzz/fuzz_caffemodel.py) -----------------------------------

def varint(v):
    out = b""
    while True:
        out += bytes([(v & 0x7F) | (0x80 if v > 0x7F else 0)])
        v >>= 7
        if not v:
            return out


def field(num, wire, payload):
    if wire == 0:
        return varint(num << 3) + varint(payload)
    if wire in (1, 5):
        return varint(num << 3 | wire) + payload
    return varint(num << 3 | 2) + varint(len(payload)) + payload


def layer(blob, name=b"conv1_1"):
    return field(100, 2, field(1, 2, name) + field(7, 2, blob))


CAFFEMODEL_CASES = {
    # wire-type-5 float with its 4 bytes cut off: was read as a short slice, then a NumPy ValueError
    "truncated fixed32": (field(100, 2, field(1, 2, b"x")) + varint(5 << 3 | 5) + b"\x00\x00", "run past the end"),
    # a float field written as a varint: np.frombuffer(int) raised TypeError
    "float data as varint": (layer(field(5, 0, 7)), "wire type 0, expected packed float32"),
    # packed floats of 6 bytes: NumPy's "buffer size must be a multiple of element size"
    "ragged packed floats": (layer(field(5, 2, b"\x00" * 6)), "6 bytes, not a multiple of 4"),
    # a layer name that is not UTF-8: UnicodeDecodeError
    "non-UTF-8 name": (layer(field(5, 2, b"\x00" * 4), name=b"\xff\xfe"), "is not UTF-8"),
    # dims whose product wraps around int64 to the value count (2**64 * 1 == 0 mod 2**64 with 0 values)
    "dims overflowing int64": (layer(field(7, 2, field(1, 2, varint(2 ** 32) + varint(2 ** 32)))),
                               "blob of shape (4294967296, 4294967296) holds 0 values"),
    # 40 dims of 1: NumPy's reshape refuses more than 64 (and we more than 32); was a ValueError without the file
    "too many dims": (layer(field(7, 2, field(1, 2, b"\x01" * 40)) + field(5, 2, b"\x00" * 4)), "holds 1 values"),
    # double_data past float32's range silently became inf
    "doubles past float32": (layer(field(8, 2, struct.pack("<d", 1e300))), "beyond float32's range"),
}


@pytest.mark.parametrize("case", sorted(CAFFEMODEL_CASES))
def test_caffemodel_faults_are_errors_naming_the_file(tmp_path, case):
    blob, message = CAFFEMODEL_CASES[case]
    path = tmp_path / "bad.caffemodel"
    path.write_bytes(blob)
    with pytest.raises(pycolorize.Error) as e:
        caffemodel.read_caffemodel(str(path))
    assert str(e.value).startswith(f"{path}: not a Caffe binary model (") and message in str(e.value)


# ---- HDF5 weights (atheris, tests/fuzz/fuzz_hdf5_weights.py) --------------------------------------

def test_damaged_hdf5_is_an_error_naming_the_file(tmp_path):
    # HDF5's magic and then garbage: h5py's OSError ("bad superblock version number") escaped
    # read_vgg_weights without the file's name.
    path = tmp_path / "bad.h5"
    path.write_bytes(b"\x89HDF\r\n\x1a\nv1_1:\x12:\x06\n\x04\x02\x01\x01\x01*.nv9_22")
    with pytest.raises(pycolorize.Error, match=f"{path}: not a readable VGG-16 HDF5 weights file \\(OSError: "):
        vgg.read_vgg_weights(str(path))


def test_hdf5_blobs_of_the_wrong_kind_are_errors(tmp_path):
    path = tmp_path / "odd.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("data/conv1_1", data=np.zeros(3))  # a dataset where a group of blobs belongs
    with pytest.raises(pycolorize.Error, match=r"/data/conv1_1 is not a group of blobs"):
        vgg.read_vgg_weights(str(path))
    with h5py.File(path, "w") as f:
        f.create_dataset("data/conv1_1/0", data=np.array([b"abc"]))  # strings: h5py cannot read them as float (an OSError)
    with pytest.raises(pycolorize.Error, match=f"{path}: not a readable VGG-16 HDF5 weights file \\(OSError"):
        vgg.read_vgg_weights(str(path))


# ---- images (atheris, tests/fuzz/fuzz_image.py) ----------------------------------------------------

@pytest.mark.parametrize("content", [b"", b"not an image", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, b"GIF89a\x01"])
def test_undecodable_images_are_errors_naming_the_file(tmp_path, content):
    # Pillow's UnidentifiedImageError / SyntaxError / ... came out raw.
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(pycolorize.Error, match=f"^{path}: not a readable image \\("):
        data.load_image(str(path))
    with pytest.raises(FileNotFoundError):  # I/O errors stay what they are
        data.load_image(str(tmp_path / "missing.png"))


def test_images_past_the_pixel_limit_are_refused_before_decoding(tmp_path, monkeypatch):
    from PIL import Image
    path = tmp_path / "big.png"
    Image.new("L", (64, 32)).save(path)
    # 2048 pixels: past the limit, but under twice it, where Pillow's own DecompressionBombError starts
    # (below that Pillow only warns, and then decodes whatever size the header claims).
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1500)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with pytest.raises(pycolorize.Error, match=f"{path}: 64 x 32 pixels, more than PIL.Image.MAX_IMAGE_PIXELS"):
            data.load_image(str(path))


# ---- data config and list files (atheris, tests/fuzz/fuzz_data_config.py) -------------------------

@pytest.mark.parametrize("spec, message", [
    ([1, 2], "'source' must be a mapping"),  # was AttributeError: 'list' object has no attribute 'get'
    ("images/", "'source' must be a mapping"),
    ({"type": "folder", "path": 5}, "source 'path' must be a string"),  # was TypeError in os.path
    ({"type": ["list"], "path": "x"}, "source 'type' must be a string"),  # was TypeError: unhashable
    ({"type": "folder"}, "the folder source needs a 'path'"),  # was KeyError
])
def test_data_config_sources_of_the_wrong_kind_are_errors(spec, message):
    with pytest.raises(ValueError, match=message):
        data.open_source(spec)


def test_list_files_with_bad_bytes_name_the_line(tmp_path):
    # A list file that is not UTF-8 raised UnicodeDecodeError from the middle of iteration.
    path = tmp_path / "list.txt"
    path.write_bytes(b"a.png 0\nb\xff.png 1\n")
    with pytest.raises(ValueError, match=f"{path}:2: byte 0xFF in a path"):
        data.list_source(str(path))
    path.write_bytes(b"a\x00.png\n")
    with pytest.raises(ValueError, match=f"{path}:1: byte 0x00 in a path"):
        data.list_source(str(path))

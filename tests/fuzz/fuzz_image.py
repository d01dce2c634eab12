"""atheris harness: the image reader behind colorize, evaluate and train,
pycolorize.data.load_image (tools/colorize.py, pycolorize.evaluation, the list and folder sources).

Clean: pycolorize.Error naming the file (load_image's one error for a file Pillow cannot decode);
its callers catch ValueError, of which pycolorize.Error is one. Anything else is a crash: Pillow's
raw OSError, SyntaxError, struct.error, DecompressionBombError..., a hang, or memory past
-rss_limit_mb (ci.sh and the README runs give 3072 MB).
"""
import io
import os
import sys

import atheris

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fuzzlib  # noqa: E402

# Pillow's Python side (format plugins, header parsing) is instrumented too, so that coverage
# guides the mutations into the formats rather than stopping at load_image's few branches.
with atheris.instrument_imports(include=["pycolorize", "PIL"]):
    from PIL import Image, ImageFile  # noqa: F401 -- the plugins, loaded on first open
    Image.init()
    import pycolorize
    from pycolorize import data

import numpy as np  # noqa: E402

PATH = fuzzlib.scratch_path(".img")
# Pillow's limit (89 M pixels) lets a 200-byte TIFF declare 84 M pixels: a legitimate image whose
# float64 RGB takes 2 GB, past -rss_limit_mb, though nothing is wrong. Under the fuzzer the limit is
# 2**24 pixels (a 16-megapixel photo), so refusing past it is exercised and memory stays bounded.
Image.MAX_IMAGE_PIXELS = 2**24


def test_one_input(raw):
    fuzzlib.write(PATH, raw)
    try:
        rgb = data.load_image(PATH)
    except Exception as e:  # noqa: BLE001 -- judged: clean or a crash
        fuzzlib.judge(e, PATH, (pycolorize.Error,))
        return
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.float64 or not (0 <= rgb.min() <= rgb.max() <= 1):
        raise AssertionError(f"load_image returned {rgb.dtype} {rgb.shape}, not RGB in [0, 1]")


def seeds():
    """Small images in every format and mode the readers meet."""
    rng = np.random.RandomState(0)
    rgb = Image.fromarray(rng.randint(0, 256, (6, 5, 3), np.uint8))
    out = {}
    for fmt, mode, ext in (("PNG", "RGB", "png"), ("PNG", "RGBA", "png"), ("PNG", "L", "png"), ("PNG", "LA", "png"),
                           ("PNG", "P", "png"), ("PNG", "I;16", "png"), ("PNG", "1", "png"), ("JPEG", "RGB", "jpg"),
                           ("JPEG", "L", "jpg"), ("JPEG", "CMYK", "jpg"), ("GIF", "P", "gif"), ("BMP", "RGB", "bmp"),
                           ("TIFF", "RGB", "tif"), ("TIFF", "I;16", "tif"), ("TIFF", "F", "tif"), ("PPM", "RGB", "ppm"),
                           ("WEBP", "RGB", "webp")):
        im = rgb.convert("L").convert(mode) if mode in ("I;16", "F", "1") else rgb.convert(mode)
        buf = io.BytesIO()
        try:
            im.save(buf, fmt)
        except (OSError, KeyError, ValueError):  # a codec this Pillow lacks
            continue
        out[f"{fmt.lower()}_{mode.replace(';', '')}.{ext}"] = buf.getvalue()
    return out


if __name__ == "__main__":
    fuzzlib.main("image", test_one_input, seeds())

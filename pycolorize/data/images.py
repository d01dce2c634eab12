"""Images: which files are images, how one is read, how a folder or a list file names a set of them,
the sources training reads, and the two resamplers. Training (pycolorize.data), evaluation
(pycolorize.evaluation) and `pycolorize colorize` all find and read images here, so the same folder
or list gives each of them the same images in the same order.

    paths = pycolorize.data.images.find_images("photos/")          # the folder rule below
    entries = pycolorize.data.images.read_list("ctest10k.txt", root="/data/val256")   # the list rule
    rgb = pycolorize.data.images.load_image(paths[0])              # float64 RGB in [0, 1]
    gray = pycolorize.data.images.load_lightness(paths[0])         # float32 mean(R, G, B), no RGB copy

The folder rule: every file under the folder, recursively, whose name ends in one of EXTENSIONS
(in any case), except hidden ones: a file or folder whose name starts with '.' is skipped (macOS's
'._photo.jpg' resource forks end in .jpg but are no images). Symbolic links to folders are not
followed. The order is that of the paths relative to the folder, compared as strings.

The list rule (Caffe's image list, read as Caffe's ImageData layer reads it since it allowed spaces
in names, with the label optional):
  - one image per line; whitespace around a line is ignored; blank lines and lines whose first
    character (after that whitespace) is '#' are skipped;
  - if the line's last whitespace-separated word is an integer and something comes before it, that
    word is a label (not used) and the path is the text before it; otherwise the whole line is the
    path. So a path may contain spaces: "my photo.jpg" and "my photo.jpg 3" both name my photo.jpg
    (a path that itself ends in a space and a number, "scan 2", needs a label after it);
  - with a root folder, the path, without a leading '/', is appended to the root (Caffe's
    root_folder: the authors' cval1k / ctest10k lists hold '/n01440764/x.JPEG' lines). Without one,
    a relative path is relative to the list file's folder and an absolute path is kept;
  - the list is UTF-8 text: an undecodable byte or a NUL is an error naming the line, and so is a
    list with no image in it. Listed files are not looked at while the list is read (ctest10k has
    10,000); one that is missing is reported when it is read, with the list line that named it.
"""
import contextlib
import os
import re
import struct
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageOps

from pycolorize.engine.core import Error
from pycolorize.colorization.color import to_rgb

EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


# ---- reading one image ---------------------------------------------------------------------

# What Pillow raises for a file it cannot decode: OSError (unidentified or truncated), SyntaxError and
# ValueError (broken headers), and from deeper in its format plugins EOFError, struct.error,
# IndexError, KeyError, TypeError, ZeroDivisionError; DecompressionBombError and
# DecompressionBombWarning for absurd sizes.
DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, KeyError, TypeError,
                 ZeroDivisionError, Image.DecompressionBombError, Image.DecompressionBombWarning)


class UndecodableImage(Error):
    """Bytes that are not a decodable image; `unidentified` when Pillow does not know the format at all."""

    def __init__(self, message, unidentified=False):
        super().__init__(message)
        self.unidentified = unidentified


class TooManyPixels(Error):
    """An image refused before decoding for its size: `width` x `height` pixels, over `limit`."""

    def __init__(self, width, height, limit):
        super().__init__(f"{width} x {height} pixels, more than the limit of {limit}")
        self.width, self.height, self.limit = width, height, limit


def decode_image(file, max_pixels=None, exif_transpose=False):
    """Decode an image from a binary file object: (H, W) or (H, W, 2|3|4) uint8 as Pillow gives it
    (other modes converted to RGB or RGBA), or float64 gray in [0, 1] for 16-bit files (Pillow opens
    16-bit PNGs as I or I;16). `max_pixels` (default PIL.Image.MAX_IMAGE_PIXELS) is checked before
    decoding (TooManyPixels); `exif_transpose` applies the EXIF orientation. An undecodable file
    raises UndecodableImage. The one decoder of the project: files (load_image) and uploads (serve)."""
    return _decoded(file, max_pixels, exif_transpose, _as_array)


def decode_lightness(file, max_pixels=None, exif_transpose=False):
    """The lightness of an image from a binary file object, float32 (H, W): exactly
    pycolorize.colorization.colorizer.lightness(decode_image(file, ...)) (the network's input,
    mean(R, G, B)), but made from the decoded image in bands of rows, so that no array of the whole
    photo exists but the result (4 bytes a pixel; the decoder's own image, about 4 bytes a pixel
    for colour, is freed on return). Arguments and errors as decode_image's."""
    return _decoded(file, max_pixels, exif_transpose, _lightness_of)


def _decoded(file, max_pixels, exif_transpose, use):
    """use(the decoded Pillow image), with decode_image's size check and errors."""
    limit = Image.MAX_IMAGE_PIXELS if max_pixels is None else max_pixels
    try:
        with Image.open(file) as im:
            if limit and im.width * im.height > limit:
                raise TooManyPixels(im.width, im.height, limit)
            im.load()
            if exif_transpose:
                im = ImageOps.exif_transpose(im)
            return use(im)
    except TooManyPixels:
        raise
    except Image.UnidentifiedImageError as e:
        raise UndecodableImage(f"UnidentifiedImageError: {e}", unidentified=True) from None
    except DECODE_ERRORS as e:
        raise UndecodableImage(f"{type(e).__name__}: {e}") from None


def _as_array(im):
    """A decoded Pillow image as decode_image returns it (also for a band of rows cropped from one:
    every conversion here is pixel by pixel)."""
    if im.mode.startswith("I"):  # 16-bit gray
        return np.clip(np.asarray(im).astype(np.float64) / 65535.0, 0, 1)
    if im.mode not in ("RGB", "RGBA", "L", "LA"):
        im = im.convert("RGBA" if "A" in im.mode else "RGB")
    return np.asarray(im)


def _lightness_of(im, band_pixels=1 << 20):
    """lightness(_as_array(im)), band by band (about `band_pixels` pixels each) of im's rows."""
    from pycolorize.colorization.colorizer import lightness

    out = np.empty((im.height, im.width), np.float32)
    step = max(1, band_pixels // max(1, im.width))
    for y0 in range(0, im.height, step):
        y1 = min(im.height, y0 + step)
        lightness(_as_array(im.crop((0, y0, im.width, y1))), out=out[y0:y1])
    return out


def load_image(path, max_pixels=None):
    """Read an image file as float64 RGB in [0, 1] (Pillow; 16-bit files keep their precision).
    A file that cannot be opened raises OSError (FileNotFoundError, ...); one that is not a decodable
    image, or has more than `max_pixels` (default PIL.Image.MAX_IMAGE_PIXELS) pixels (refused before
    decoding: the float64 RGB of a bigger image takes gigabytes), raises pycolorize.Error naming it."""
    return _read(path, lambda f: to_rgb(decode_image(f, max_pixels)), max_pixels)


def load_lightness(path, max_pixels=None):
    """Read an image file's lightness, float32 (H, W) in [0, 1]: the same numbers as
    pycolorize.colorization.colorizer.lightness(load_image(path)), without the photo's float64 RGB
    (24 bytes a pixel) nor any full-size array but the result (decode_lightness). What `pycolorize
    colorize` reads: the colour channels of the input are never needed again. Errors and `max_pixels`
    as load_image's. (Pillow's own check, which warns past PIL.Image.MAX_IMAGE_PIXELS and refuses past
    twice it, runs first when that is set.)"""
    return _read(path, lambda f: decode_lightness(f, max_pixels), max_pixels)


@contextlib.contextmanager
def decoding(name, max_pixels=None):
    """A decoder's refusals (TooManyPixels, UndecodableImage) inside the block, as one pycolorize.Error
    naming `name` (a file, or what an image's bytes came from); `max_pixels` as the decoder had it
    (None: PIL.Image.MAX_IMAGE_PIXELS)."""
    try:
        yield
    except TooManyPixels as e:
        limit = "PIL.Image.MAX_IMAGE_PIXELS" if max_pixels is None else "the limit"
        raise Error(f"{name}: {e.width} x {e.height} pixels, more than {limit} ({e.limit})") from None
    except UndecodableImage as e:
        raise Error(f"{name}: not a readable image ({e})") from None


def _read(path, decode, max_pixels=None):
    with open(path, "rb") as f, decoding(path, max_pixels):
        return decode(f)


# ---- folders and lists (the rules in the module doc) ---------------------------------------

def _hidden(name):
    return name.startswith(".")


def find_images(folder, extensions=EXTENSIONS):
    """The image files under `folder` by the folder rule (module doc), as paths that start with
    `folder` (os.path.relpath(p, folder) is the name inside it). FileNotFoundError if there is no
    such folder, ValueError if it holds no image."""
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{folder}: no such folder")
    suffixes = tuple(e.lower() for e in extensions)
    found = []
    for d, dirs, files in os.walk(folder):
        dirs[:] = [x for x in dirs if not _hidden(x)]  # pruned in place: os.walk does not enter them
        found += [os.path.join(d, f) for f in files if not _hidden(f) and f.lower().endswith(suffixes)]
    if not found:
        raise ValueError(f"{folder}: no image files ({', '.join(extensions)}; hidden files are skipped)")
    return sorted(found, key=lambda p: os.path.relpath(p, folder))


class ListEntry(NamedTuple):
    """One image of a list file: its `line` number, the path as `listed`, and the `path` to read."""
    line: int
    listed: str
    path: str


def _split_label(line):
    """The path of a non-blank, non-comment list line: the line without a trailing integer label."""
    words = line.rsplit(None, 1)
    if len(words) == 2 and re.fullmatch(r"[+-]?[0-9]+", words[1]):
        return words[0]
    return line


def read_list(list_file, root=None):
    """The images of a list file by the list rule (module doc), as ListEntry tuples. ValueError
    naming the file (and line) for a list that is not UTF-8 text or names no image."""
    base = os.path.dirname(os.path.abspath(list_file))
    entries = []
    # surrogateescape turns each byte that is not UTF-8 into U+DC80..U+DCFF, reported with its line below
    with open(list_file, encoding="utf-8", errors="surrogateescape") as f:
        for n, line in enumerate(f, 1):
            bad = next((ch for ch in line if "\udc80" <= ch <= "\udcff" or ch == "\0"), None)
            if bad is not None:
                byte = 0 if bad == "\0" else ord(bad) - 0xDC00
                raise ValueError(f"{list_file}:{n}: byte 0x{byte:02X} in a path (the list must be UTF-8 text)")
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            listed = _split_label(line)
            path = os.path.join(root, listed.lstrip("/")) if root else os.path.join(base, listed)
            entries.append(ListEntry(n, listed, path))
    if not entries:
        raise ValueError(f"{list_file}: the list is empty (no image paths; blank lines and '#' comments are skipped)")
    return entries

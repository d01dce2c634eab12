"""Training's image decoding: an image file's (or a tar member's) pixels as images.decode_image gives
them (uint8 gray, gray + alpha, RGB or RGBA; float64 gray for 16-bit files), without load_image's
float64 RGB copy: the Loader's workers crop, resize and sample the uint8 pixels themselves
(loader.make_example).

    px = pycolorize.data.pixels.load_pixels("photo.jpg")          # (H, W, 3) uint8
    px = pycolorize.data.pixels.decode_bytes(member_bytes, "train-0001.tar:n0144/x.jpg")

JPEGs are decoded by simplejpeg when it is installed (libjpeg-turbo straight into a NumPy array,
about 1.5x as fast as Pillow here), with the settings Pillow uses (the accurate integer IDCT, fancy
upsampling), so the pixels are Pillow's, bit for bit (tests/test_loader_speed.py compares them over
baseline and progressive files, 4:4:4, 4:2:2, 4:2:0 and gray, odd sizes and restart markers). It is
only given files that libjpeg-turbo reads without a single warning (strict mode) whose colour space
is YCbCr or gray; a CMYK file, a damaged one, and every other format go to Pillow, which gives the
canonical pixels or the canonical error. No DCT-domain downscaling: it would change the pixels (an
area average before the released bilinear), and it does not pay for ImageNet's 500x375 photos,
whose short side shrinks only to 256/375: the nearest factor that keeps 256 rows, 6/8, decoded in
1.08 ms a photo here against 0.70 ms at full size (libjpeg-turbo's SIMD code is for the full-size
IDCT), and 1/2 (0.55 ms) leaves 188 rows.
"""
import io

from PIL import Image

from pycolorize.data.images import TooManyPixels, decode_image, decoding

try:  # optional: Pillow decodes everything when it is missing
    import simplejpeg
except ImportError:  # pragma: no cover - depends on the installation
    simplejpeg = None

JPEG_DECODER = "simplejpeg" if simplejpeg is not None else "Pillow"


def _fast_jpeg(data, limit):
    """A clean YCbCr or gray baseline/progressive JPEG decoded by simplejpeg, else None."""
    if simplejpeg is None or data[:2] != b"\xff\xd8":
        return None
    try:
        height, width, colorspace, _ = simplejpeg.decode_jpeg_header(data)
        if colorspace not in ("YCbCr", "Gray"):
            return None
        if limit and width * height > limit:
            raise TooManyPixels(width, height, limit)
        gray = colorspace == "Gray"
        # Pillow's settings: the accurate integer IDCT, fancy upsampling; strict: any libjpeg warning
        # (a corrupt segment, a premature end) is an error here, and Pillow then decides
        px = simplejpeg.decode_jpeg(data, colorspace="GRAY" if gray else "RGB", fastdct=False, fastupsample=False,
                                    strict=True)
    except TooManyPixels:
        raise
    except (ValueError, RuntimeError, TypeError, OSError):
        return None
    return px[..., 0] if gray else px


def decode_bytes(data, name="image", max_pixels=None):
    """The pixels of an encoded image (bytes), as images.decode_image gives them. An undecodable one,
    or one of more than `max_pixels` (default PIL.Image.MAX_IMAGE_PIXELS) pixels, raises
    pycolorize.Error naming `name`, as images.load_image does for a file."""
    limit = Image.MAX_IMAGE_PIXELS if max_pixels is None else max_pixels
    with decoding(name, max_pixels):
        px = _fast_jpeg(data, limit)
        return px if px is not None else decode_image(io.BytesIO(data), max_pixels=limit)


def load_pixels(path):
    """An image file's pixels (decode_bytes). A file that cannot be opened raises OSError
    (FileNotFoundError, ...); the rest as images.load_image."""
    with open(path, "rb") as f:
        data = f.read()
    return decode_bytes(data, path)

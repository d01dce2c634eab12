"""Resampling as the released package did it (2016 scikit-image's order-1 rescale)."""
import functools

import numpy as np

# ---- resampling ----------------------------------------------------------------------------
#
# One interpolation, two purposes. The released package (autocolorize 0.2.1) resized with 2016
# scikit-image, rescale(order=1, mode='constant', cval=0): bilinear with pixel centres aligned,
# zeros outside the image and no anti-aliasing. Inference keeps exactly that, both for the gray
# the net sees (resize_for_network) and for bringing its predicted maps back to the photo's size
# (upsample_predictions), so the released weights give the released colorizations.
#
# Training resizes with the same resize_for_network, deliberately: a net must see at test time
# what it saw in training, and at test time it sees this non-anti-aliased bilinear. (Training used
# Pillow's bilinear, which widens its filter when shrinking, i.e. anti-aliases: a net trained here
# saw smoother photos than the ones the colorizer then gave it.) Both only ever shrink the
# photo (scale <= 1), and a shrinking order-1 resize with centres aligned reads only inside the
# image, so the zeros outside never darken a border; only upsample_predictions enlarges.

def axis_weights(n_in, n_out, start=0, count=None, offset=0.0, window=None, outside="zeros", dtype=np.float64):
    """Order-1 interpolation along one axis from n_in samples to n_out, pixel centres aligned: for
    output indices start..start+count, (i0, w0, i1, w1), the two source indices and their weights.
    The source samples start at `offset` inside an array of `window` samples (default n_in); past
    its ends the interpolation reads zeros (`outside="zeros"`, the released package's) or repeats
    the edge sample (`outside="edge"`). Weights in `dtype`."""
    count = n_out - start if count is None else count
    return weights_at(n_in, n_out, np.arange(start, start + count), offset, window, outside, dtype)


def weights_at(n_in, n_out, index, offset=0.0, window=None, outside="zeros", dtype=np.float64):
    """axis_weights at the output indices `index` (an integer array, in any order): the same numbers
    as axis_weights(n_in, n_out)[index], computed for those indices only."""
    window = n_in if window is None else window
    pos = (np.asarray(index, dtype=np.int64) + 0.5) * (n_in / n_out) - 0.5 + offset
    i0 = np.floor(pos).astype(np.int64)
    w1 = (pos - i0).astype(dtype, copy=False)
    w0 = 1 - w1
    i1 = i0 + 1
    if outside == "zeros":
        w0 = np.where((i0 >= 0) & (i0 < window), w0, 0.0).astype(dtype, copy=False)
        w1 = np.where((i1 >= 0) & (i1 < window), w1, 0.0).astype(dtype, copy=False)
    elif outside != "edge":
        raise ValueError(f"outside is 'zeros' or 'edge', not {outside!r}")
    return np.clip(i0, 0, window - 1), w0, np.clip(i1, 0, window - 1), w1


def interpolate(a, idx, axis, sel=slice(None)):
    """`a` interpolated along `axis` by axis_weights' `idx`, at the output indices `sel` of it."""
    i0, w0, i1, w1 = (v[sel] for v in idx)
    shape = [1] * a.ndim
    shape[axis] = -1
    return np.take(a, i0, axis=axis) * w0.reshape(shape) + np.take(a, i1, axis=axis) * w1.reshape(shape)


def resize_for_network(image, height, width):
    """What the network sees, in training and at inference: the first two axes of `image` (any
    trailing channels) resized to height x width as 2016 skimage's rescale(order=1,
    mode='constant', cval=0) without anti-aliasing. float64."""
    a = np.asarray(image, dtype=np.float64)
    return interpolate(interpolate(a, axis_weights(a.shape[0], height), 0), axis_weights(a.shape[1], width), 1)


@functools.lru_cache(maxsize=512)
def _whole_axis(n_in, n_out, dtype):
    """axis_weights(n_in, n_out) in `dtype`, kept (read-only) for the next photo of that size: the
    same numbers, element for element, as for any start, count or index subset of the axis."""
    out = axis_weights(n_in, n_out, dtype=np.dtype(dtype))
    for v in out:
        v.flags.writeable = False
    return out


def resize_window(image, height, width, top, left, rows, cols, dtype=np.float32, scale=1.0, prepare=None):
    """The rows top..top+rows and columns left..left+cols of resize_for_network(image, height,
    width), times `scale`, computed from the source pixels that window reads only and in `dtype`
    (float32: within a few units in the last place of the float64 resize). `image` may be of any
    numeric type (uint8 straight from a decoder); trailing channels are kept. `prepare(region)`, if
    given, maps the source region read (a view of `image`) to the array interpolated (the bilinear
    is linear: a channel sum before it is the channel sum of the resize). What a training crop
    costs: the crop's pixels, not the whole resized photo's."""
    a = np.asarray(image)
    ry = [v[top:top + rows] for v in _whole_axis(a.shape[0], height, np.dtype(dtype).str)]
    rx = [v[left:left + cols] for v in _whole_axis(a.shape[1], width, np.dtype(dtype).str)]
    r0, r1 = int(ry[0][0]), int(ry[2][-1]) + 1  # the indices grow with the output index
    c0, c1 = int(rx[0][0]), int(rx[2][-1]) + 1
    src = a[r0:r1, c0:c1]
    if prepare is not None:
        src = prepare(src)
    tail = (1,) * (src.ndim - 2)
    # rows first, then columns, as resize_for_network; the products are made in `dtype` straight from
    # the source's type (no converted copy of the region), the columns gathered from the smaller array
    t = np.multiply(src[ry[0] - r0], ry[1].reshape((-1, 1) + tail), dtype=dtype)
    t += np.multiply(src[ry[2] - r0], ry[3].reshape((-1, 1) + tail), dtype=dtype)
    out = t[:, rx[0] - c0]
    out *= rx[1].reshape((1, -1) + tail)
    out += t[:, rx[2] - c0] * rx[3].reshape((1, -1) + tail)
    if scale != 1.0:
        out *= scale
    return out


def resize_points(image, height, width, ys, xs, divide=None):
    """resize_for_network(image, height, width)[ys, xs], bit for bit, from the four source pixels
    around each point: (P, C) float64 for P points. An integer `image` is first scaled as
    color.to_rgb scales it, divided by `divide` (255 for 8 bits)."""
    a = np.asarray(image)
    iy0, wy0, iy1, wy1 = (v[ys] for v in _whole_axis(a.shape[0], height, "<f8"))
    ix0, wx0, ix1, wx1 = (v[xs] for v in _whole_axis(a.shape[1], width, "<f8"))
    tail = (slice(None),) + (None,) * (a.ndim - 2)
    wy0, wy1, wx0, wx1 = wy0[tail], wy1[tail], wx0[tail], wx1[tail]

    def at(iy, ix):
        v = a[iy, ix].astype(np.float64)
        if divide is not None:
            v /= divide
        return v
    # interpolate(interpolate(a, rows, 0), columns, 1) for these points: the same products and sums
    left = at(iy0, ix0) * wy0 + at(iy1, ix0) * wy1
    right = at(iy0, ix1) * wy0 + at(iy1, ix1) * wy1
    return left * wx0 + right * wx1


class Resized:
    """resize_for_network(image, height, width), computed lazily: `window(...)` and `points(...)`
    compute only what they are asked for (resize_window, resize_points). For a training crop: the
    crop's pixels and its sample locations, not the whole resized photo. `shape` is (height, width)
    plus the image's trailing axes."""

    def __init__(self, image, height, width):
        self.image, self.height, self.width = np.asarray(image), int(height), int(width)
        self.shape = (self.height, self.width) + self.image.shape[2:]

    def window(self, top, left, rows, cols, dtype=np.float32, scale=1.0, prepare=None):
        return resize_window(self.image, self.height, self.width, top, left, rows, cols, dtype, scale, prepare)

    def points(self, ys, xs, divide=None):
        return resize_points(self.image, self.height, self.width, ys, xs, divide)


def upsample_predictions(maps, height, width, top=0, left=0, rows=None, cols=None):
    """Predicted maps (H, W, K) brought back towards the photo's resolution: the rows top..top+rows
    and columns left..left+cols of their resize to height x width, by the interpolation of
    resize_for_network (the released package's); only that window is computed, so a large photo
    can be done in bands of rows. float64."""
    a = np.asarray(maps, dtype=np.float64)
    rows = height - top if rows is None else rows
    cols = width - left if cols is None else cols
    return interpolate(interpolate(a, axis_weights(a.shape[0], height, top, rows), 0), axis_weights(a.shape[1], width, left, cols), 1)


def pillow_resize(image, height, width, resample):
    """The first two axes of float `image` (H, W, C) resized to height x width by Pillow's filter
    `resample` (PIL.Image.BILINEAR, BICUBIC, ...: anti-aliased when shrinking, edges clamped),
    channel by channel in Pillow's float32 'F' mode; float64. For what is not the network's input:
    VOC's scale jitter, Deshpande's imresize."""
    from PIL import Image

    chans = [np.asarray(Image.fromarray(np.ascontiguousarray(image[..., c], np.float32), mode="F")
                        .resize((width, height), resample)) for c in range(image.shape[-1])]
    return np.stack(chans, axis=-1).astype(np.float64)

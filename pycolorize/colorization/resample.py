"""Resampling as the released package did it (2016 scikit-image's order-1 rescale)."""
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
    window = n_in if window is None else window
    pos = (np.arange(start, start + count) + 0.5) * (n_in / n_out) - 0.5 + offset
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

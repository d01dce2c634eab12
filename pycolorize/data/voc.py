"""Semantic segmentation on PASCAL VOC 2012, the paper's test of colorization as pretraining
(Sec. 5, Table 6): the dataset layout, training examples, scoring, and prediction files.

    pairs = voc_pairs("VOCdevkit/VOC2012", "ImageSets/Segmentation/val.txt")
    check_labels(pairs, "val.txt")             # every label readable, in range, the image's size
    cm = ConfusionMatrix()
    for image_id, image_path, label_path in pairs:
        rgb, label = read_pair(image_path, label_path)
        cm.add(predict(net, rgb), label)
    cm.metrics()["mean_iu"]

VOC 2012: 21 classes (CLASSES, background first), labels are palette PNGs whose pixel values are
the class indices, and 255 (IGNORE) marks the void border drawn around every object and the
regions too hard to label; those pixels are neither trained on nor scored.

Input conventions (the colorization net's): gray = mean(R, G, B) in [0, 1] for a one-channel
input, RGB in [0, 1] for three channels, no mean subtraction. Where an image must be padded (a
training crop larger than the image, a test image padded up to a multiple of the trunk's stride
32) the padding is the ImageNet mean colour MEAN_RGB (MEAN_GRAY for gray input) and the label
there is IGNORE; the image keeps its top-left corner, the padding goes right and below.

Scores follow FCN's evaluation (Long et al., score.py): one confusion matrix summed over every
pixel of every image, then pixel accuracy, mean accuracy, per-class IU, mean IU and frequency-
weighted IU from it (ConfusionMatrix.metrics).
"""
import os

import numpy as np
from PIL import Image

from pycolorize.colorization import color
from pycolorize.colorization.resample import pillow_resize
from pycolorize.data import sources

CLASSES = ("background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
           "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor")
N_CLASSES = len(CLASSES)
IGNORE = 255
MEAN_RGB = (0.485, 0.456, 0.406)  # the ImageNet mean colour, in [0, 1]
MEAN_GRAY = sum(MEAN_RGB) / 3     # its gray (mean of R, G, B), the padding of a one-channel input
STRIDE = 32                       # test images are padded up to a multiple of this (the trunk's stride)


def voc_palette(n=256):
    """The VOC devkit's colour map (VOClabelcolormap.m): the bits of each index, three at a time,
    interleaved from the most significant bit down into R, G and B. (n, 3) uint8."""
    out = np.zeros((n, 3), np.uint8)
    for i in range(n):
        c, r, g, b = i, 0, 0, 0
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        out[i] = (r, g, b)
    return out


PALETTE = voc_palette()


# ---- the VOC layout --------------------------------------------------------------------------

def resolve_list(root, list_file):
    """The path of a list: absolute as given; relative, under `root` (ImageSets/Segmentation/val.txt),
    else as given from the current folder; a bare name (val) is ImageSets/Segmentation/<name>.txt."""
    list_file = os.fspath(list_file)
    if os.path.isabs(list_file):
        tried = [list_file]
    else:
        tried = [os.path.join(root, list_file), list_file]
        if os.sep not in list_file and "/" not in list_file and not list_file.endswith(".txt"):
            tried.append(os.path.join(root, "ImageSets", "Segmentation", list_file + ".txt"))
    for path in tried:
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(f"{list_file}: no such list (looked for {', '.join(tried)})")


def _examples(items, k=3):
    return ", ".join(items[:k]) + (", ..." if len(items) > k else "")


def voc_pairs(root, list_file):
    """[(id, image path, label path)] for the images of a list, in its order. `root` holds
    JPEGImages/<id>.jpg and SegmentationClass/<id>.png; the list (resolve_list) has one image a
    line: either `<id>` (VOC's ImageSets/Segmentation/*.txt) or `<image> <label>`, two paths
    relative to `root` (the SBD-augmented train_aug lists: '/JPEGImages/x.jpg
    /SegmentationClassAug/x.png'; the id is the image's name without extension). Blank lines and
    '#' comments are skipped. Every listed file is looked for up front; missing files, malformed
    lines and repeated ids are one ValueError/FileNotFoundError naming the list, counting each kind
    of problem and giving the first few with their line numbers."""
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"{root}: no such VOC folder (it should hold JPEGImages/ and SegmentationClass/)")
    path = resolve_list(root, list_file)
    pairs, lines, malformed, seen, repeated = [], [], [], {}, []
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            words = line.split()
            if not words or words[0].startswith("#"):
                continue
            if len(words) == 1:
                image_id = words[0]
                image = os.path.join(root, "JPEGImages", image_id + ".jpg")
                label = os.path.join(root, "SegmentationClass", image_id + ".png")
            elif len(words) == 2:
                image, label = (os.path.join(root, w.lstrip("/")) for w in words)
                image_id = os.path.splitext(os.path.basename(words[0]))[0]
            else:
                malformed.append(f"line {n}")
                continue
            if image_id in seen:
                repeated.append(f"{image_id} (lines {seen[image_id]} and {n})")
                continue
            seen[image_id] = n
            pairs.append((image_id, image, label))
            lines.append(n)
    problems = []
    if malformed:
        problems.append(f"{len(malformed)} line(s) are neither '<id>' nor '<image> <label>': {_examples(malformed)}")
    if repeated:
        problems.append(f"{len(repeated)} id(s) listed twice: {_examples(repeated)}")
    if not pairs and not problems:
        raise ValueError(f"{path}: the list names no image")
    no_image = [f"{p[1]} (line {n})" for p, n in zip(pairs, lines) if not os.path.isfile(p[1])]
    no_label = [f"{p[2]} (line {n})" for p, n in zip(pairs, lines) if not os.path.isfile(p[2])]
    if no_image:
        problems.append(f"{len(no_image)} of {len(pairs)} images have no JPEG, e.g. {_examples(no_image)}")
    if no_label:
        problems.append(f"{len(no_label)} of {len(pairs)} images have no label PNG, e.g. {_examples(no_label)}")
    if problems:
        kind = FileNotFoundError if (no_image or no_label) and not (malformed or repeated) else ValueError
        raise kind(f"{path}: " + "; ".join(problems))
    return pairs


def image_size(path):
    """(height, width) of an image file, from its header."""
    with Image.open(path) as im:
        return im.height, im.width


def size_text(hw):
    return f"{hw[1]}x{hw[0]}"


def value_counts(a, bad):
    values, counts = np.unique(a[bad], return_counts=True)
    return ", ".join(f"{v} ({c} px)" for v, c in zip(values.tolist(), counts.tolist()))


def read_indices(path, what, allowed):
    """The pixel values of a palette (P) or 8-bit gray (L) PNG, checked against `allowed` (a
    boolean table over 0..255). Palette PNGs are read as their indices, never through RGB."""
    with Image.open(path) as im:
        if im.mode not in ("P", "L"):
            raise ValueError(f"{path}: a {im.mode} image; {what}s are palette (P) or 8-bit gray (L) PNGs of class "
                             "indices (an RGB rendering of the colours cannot be read back as classes)")
        a = np.array(im, dtype=np.uint8)
    bad = ~allowed[a]
    if bad.any():
        return a, bad
    return a, None


def allowed_values(n_classes, ignore):
    table = np.zeros(256, bool)
    table[:n_classes] = True
    if ignore is not None:
        table[ignore] = True
    return table


def read_label(path, n_classes=N_CLASSES, ignore=IGNORE):
    """A VOC label PNG as an (H, W) uint8 array of class indices and `ignore`. Palette ("P") PNGs
    give their indices directly, "L" PNGs their values; any other mode, and values other than
    0..n_classes-1 and `ignore`, are a ValueError naming the file (and the values, with counts)."""
    a, bad = read_indices(path, "label", allowed_values(n_classes, ignore))
    if bad is not None:
        raise ValueError(f"{path}: label values outside 0..{n_classes - 1} and {ignore}: {value_counts(a, bad)}")
    return a


def read_image(path):
    """An image as float64 RGB in [0, 1] (gray images repeated to three channels)."""
    from pycolorize.data.images import load_image

    return load_image(path)


def read_pair(image_path, label_path, n_classes=N_CLASSES, ignore=IGNORE):
    """(rgb, label) of one image; a label whose size differs from the image's is a ValueError
    naming both files and both sizes."""
    label = read_label(label_path, n_classes, ignore)
    rgb = read_image(image_path)
    if rgb.shape[:2] != label.shape:
        raise ValueError(f"{label_path}: the label is {size_text(label.shape)} (width x height) but the image "
                         f"{image_path} is {size_text(rgb.shape[:2])}")
    return rgb, label


def check_labels(pairs, list_file="the list", n_classes=N_CLASSES, ignore=IGNORE):
    """Read every label of `pairs` and every image's size (from its header) up front: labels that
    cannot be read, hold values other than the classes and `ignore`, or differ in size from their
    image are one ValueError naming the list, counting each kind and giving the first few."""
    allowed = allowed_values(n_classes, ignore)
    unreadable, bad_values, mismatched = [], [], []
    for _, image, label in pairs:
        try:
            a, bad = read_indices(label, "label", allowed)
        except (OSError, ValueError, SyntaxError) as e:
            unreadable.append(f"{label} ({' '.join(str(e).split()).replace(label + ': ', '')})")
            continue
        if bad is not None:
            bad_values.append(f"{label}: {value_counts(a, bad)}")
        try:
            hw = image_size(image)
        except (OSError, SyntaxError, ValueError) as e:
            unreadable.append(f"{image} ({' '.join(str(e).split())})")
            continue
        if hw != a.shape:
            mismatched.append(f"{label} is {size_text(a.shape)} but {image} is {size_text(hw)}")
    n = len(pairs)
    problems = []
    if unreadable:
        problems.append(f"{len(unreadable)} file(s) cannot be read as a label or an image: {_examples(unreadable)}")
    if bad_values:
        problems.append(f"{len(bad_values)} of {n} labels hold values outside 0..{n_classes - 1} and {ignore}, "
                        f"e.g. {_examples(bad_values)}")
    if mismatched:
        problems.append(f"{len(mismatched)} of {n} labels differ in size (width x height) from their image, "
                        f"e.g. {_examples(mismatched)}")
    if problems:
        raise ValueError(f"{list_file}: " + "; ".join(problems))


def _list_line(root, pair):
    """A list line naming `pair` (id, image, label) the way voc_pairs reads it back."""
    image_id, image, label = pair
    if (image == os.path.join(root, "JPEGImages", image_id + ".jpg")
            and label == os.path.join(root, "SegmentationClass", image_id + ".png")):
        return image_id
    return " ".join("/" + os.path.relpath(p, root).replace(os.sep, "/") for p in (image, label))


def voc_source(root, list_file="ImageSets/Segmentation/train.txt", holdout=0, seed=0):
    """A training source (sources.Source, of kind IMAGE_LABEL) of a VOC list: read(i) gives (rgb, label). Every file is
    looked for and every label checked up front (voc_pairs, check_labels), so a malformed folder
    fails before training starts, with each problem named and counted.

    `holdout` > 0 keeps that many images (a fixed draw of `seed`) out of the source, for the paper's
    cross-validated early stopping: `source.held_out` holds their list lines (voc_pairs' format: the
    id where the image and label are VOC's JPEGImages/<id>.jpg and SegmentationClass/<id>.png,
    else '/<image> /<label>' under `root`, as SBD's train_aug), to score the snapshots on."""
    pairs = voc_pairs(root, list_file)
    check_labels(pairs, resolve_list(root, list_file))
    if holdout:
        if not 0 < holdout < len(pairs):
            raise ValueError(f"holdout must be between 1 and {len(pairs) - 1} (the list has {len(pairs)} images), got {holdout}")
        out = set(np.random.default_rng(seed).choice(len(pairs), holdout, replace=False).tolist())
        held = [_list_line(root, p) for i, p in enumerate(pairs) if i in out]
        pairs = [p for i, p in enumerate(pairs) if i not in out]
    return sources.Source([p[0] for p in pairs], lambda i: read_pair(pairs[i][1], pairs[i][2]),
                          kind=sources.IMAGE_LABEL, held_out=held if holdout else ())


sources.SOURCE_TYPES["voc"] = lambda spec: voc_source(spec["path"], spec.get("list", "ImageSets/Segmentation/train.txt"),
                                                      spec.get("holdout", 0), spec.get("holdout_seed", 0))


# ---- training examples -----------------------------------------------------------------------

# Scale jitter is its own purpose: resample.resize_for_network reproduces the released package's
# bilinear with zeros outside the image, which only ever shrinks there; jitter also enlarges, and
# must not darken the borders, so it clamps at the edges (Pillow) and never interpolates labels.
def _resize_rgb(rgb, height, width):
    """Bilinear resize of float RGB (Pillow; edges clamped)."""
    return pillow_resize(rgb, height, width, Image.BILINEAR)


def _resize_label(label, height, width):
    """Nearest-neighbour resize: every output value is one of the input's (labels are never interpolated)."""
    return np.asarray(Image.fromarray(np.ascontiguousarray(label, np.uint8)).resize((width, height), Image.NEAREST))


def pad_to(rgb, label, height, width):
    """rgb and label padded right and below to at least height x width (MEAN_RGB and IGNORE)."""
    h, w = rgb.shape[:2]
    H, W = max(h, height), max(w, width)
    if (H, W) == (h, w):
        return rgb, label
    out = np.empty((H, W, 3), np.float64)
    out[...] = MEAN_RGB
    out[:h, :w] = rgb
    lab = None
    if label is not None:
        lab = np.full((H, W), IGNORE, np.uint8)
        lab[:h, :w] = label
    return out, lab


def segmentation_example(rgb, label, rng, crop=320, mirror=True, scale=(1.0, 1.0), gray=True):
    """One training example of an image (H, W, 3) RGB in [0, 1] and its label (H, W) of class
    indices and IGNORE: {"data": (C, crop, crop) float32, "label": (1, crop, crop) float32}.

    In order, with `rng` (numpy.random.Generator) making every random choice (so one seed gives one
    example): a scale factor drawn uniformly from `scale` (image bilinear, label nearest, so the
    label holds only values of the source label); padding right and below to at least crop x crop
    (the image with MEAN_RGB, the label with IGNORE); a uniformly random crop x crop window; a
    horizontal mirror of both with probability 1/2 (`mirror`). Data: gray = mean(R, G, B) in
    [0, 1] (C = 1, `gray`) or RGB in [0, 1] (C = 3)."""
    rgb = np.asarray(rgb, dtype=np.float64)
    label = np.asarray(label)
    if rgb.ndim != 3 or rgb.shape[-1] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB image, got shape {rgb.shape}")
    if label.shape != rgb.shape[:2]:
        raise ValueError(f"the label is {size_text(label.shape)} (width x height) but the image is {size_text(rgb.shape[:2])}")
    lo, hi = float(scale[0]), float(scale[1])
    if not 0 < lo <= hi:
        raise ValueError(f"scale must be (low, high) with 0 < low <= high, got {scale}")
    s = lo if lo == hi else float(rng.uniform(lo, hi))
    if s != 1.0:
        h, w = (max(1, int(round(n * s))) for n in rgb.shape[:2])
        rgb, label = _resize_rgb(rgb, h, w), _resize_label(label, h, w)
    rgb, label = pad_to(rgb, label.astype(np.uint8, copy=False), crop, crop)
    H, W = label.shape
    y0, x0 = int(rng.integers(0, H - crop + 1)), int(rng.integers(0, W - crop + 1))
    window, lab = rgb[y0:y0 + crop, x0:x0 + crop], label[y0:y0 + crop, x0:x0 + crop]
    if mirror and rng.random() < 0.5:
        window, lab = window[:, ::-1], lab[:, ::-1]
    data = color.gray(window)[None] if gray else window.transpose(2, 0, 1)
    return {"data": np.ascontiguousarray(data, np.float32), "label": np.ascontiguousarray(lab, np.float32)[None]}

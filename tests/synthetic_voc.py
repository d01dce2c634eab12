"""A small PASCAL VOC 2012 lookalike generated for tests: make_synthetic_voc(root, ...).

Each image is a textured background with one to a few objects (discs, squares, triangles) of the
given VOC classes. A class's objects share a shape, a gray level, a stripe texture (period and
orientation) and a hue, all chosen so that a small network can tell the classes apart from gray
intensity and texture alone at 64-128 px; the background is mid gray with smooth shading and fine
noise, well away from every object level. Labels are VOC's: palette PNGs of class indices in the
VOC colours, with a band of 255 (void) a few pixels wide along every boundary between objects and
background (as VOC draws around each object).

Layout: JPEGImages/<id>.jpg, SegmentationClass/<id>.png, ImageSets/Segmentation/{train,val,
trainval}.txt. Everything follows from `seed`.
"""
import math
import os

import numpy as np
from PIL import Image

from pycolorize.data.voc import IGNORE, PALETTE

SHAPES = ("disc", "square", "triangle")
# a class's gray level by its position in `classes`: all at least 0.15 from the background's 0.5
LEVELS = (0.15, 0.85, 0.30, 0.70, 0.05, 0.95)
PERIODS = (6.0, 10.0, 4.0, 8.0, 12.0, 5.0)  # stripe periods (pixels)
BACKGROUND = 0.5


def appearance(k):
    """The look of the k-th class of `classes`: shape, gray level, stripe period and angle, hue."""
    return {"shape": SHAPES[k % len(SHAPES)], "level": LEVELS[k % len(LEVELS)],
            "period": PERIODS[k % len(PERIODS)] * (1 + 0.25 * (k // len(LEVELS))),
            "angle": (k * 47) % 180, "hue": (k * 0.37) % 1.0}


def _mask(shape, h, w, cy, cx, r):
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    if shape == "disc":
        return (y - cy) ** 2 + (x - cx) ** 2 <= r * r
    if shape == "square":
        return (np.abs(y - cy) <= 0.85 * r) & (np.abs(x - cx) <= 0.85 * r)
    top, bottom = cy - r, cy + 0.8 * r  # an upright triangle
    return (y >= top) & (y <= bottom) & (np.abs(x - cx) <= 0.65 * (y - top))


def _border(label, width):
    """Pixels within `width` of a boundary between two labels (a (2 width + 1)^2 neighbourhood
    holding more than one value)."""
    h, w = label.shape
    p = np.pad(label, width, mode="edge")
    lo, hi = label.copy(), label.copy()
    for dy in range(-width, width + 1):
        for dx in range(-width, width + 1):
            win = p[width + dy:width + dy + h, width + dx:width + dx + w]
            np.minimum(lo, win, out=lo)
            np.maximum(hi, win, out=hi)
    return lo != hi


def _tint(gray, hue, chroma):
    """RGB whose mean is `gray`: chroma times a zero-mean triple of the hue."""
    offs = np.stack([np.cos(2 * np.pi * (hue - j / 3)) for j in range(3)], axis=-1)
    return gray[..., None] + chroma[..., None] * offs


def synthetic_image(rng, h, w, classes, objects=(1, 3), border=2, first=None):
    """(rgb (h, w, 3) float in [0, 1], label (h, w) uint8 with IGNORE borders) of one image.
    `first`: the class of the first object (else drawn at random)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    # background: mid gray, smooth shading (two random low-frequency waves), fine noise
    gray = np.full((h, w), BACKGROUND)
    for _ in range(2):
        fy, fx, ph = rng.uniform(0.5, 1.5, 2).tolist() + [rng.uniform(0, 2 * math.pi)]
        gray += 0.04 * np.sin(2 * math.pi * (fy * y / h + fx * x / w) + ph)
    gray += rng.normal(0, 0.025, (h, w))
    hue = np.full((h, w), rng.uniform(0.2, 0.6))
    chroma = np.full((h, w), 0.05)
    label = np.zeros((h, w), np.uint8)
    n = int(rng.integers(objects[0], objects[1] + 1))
    for j in range(n):
        k = (classes.index(first) if j == 0 and first is not None else int(rng.integers(len(classes))))
        look = appearance(k)
        r = rng.uniform(0.15, 0.3) * min(h, w)
        cy, cx = rng.uniform(0.5 * r, h - 0.5 * r), rng.uniform(0.5 * r, w - 0.5 * r)
        m = _mask(look["shape"], h, w, cy, cx, r)
        if not m.any():
            continue
        a = math.radians(look["angle"])
        stripes = np.sin(2 * math.pi * (y * math.sin(a) + x * math.cos(a)) / look["period"])
        gray[m] = look["level"] + 0.07 * stripes[m] + rng.normal(0, 0.015, int(m.sum()))
        hue[m], chroma[m] = look["hue"], 0.2
        label[m] = classes[k]
    rgb = np.clip(_tint(np.clip(gray, 0, 1), hue, chroma), 0, 1)
    if border:
        label[_border(label, border)] = IGNORE
    return rgb, label


def make_synthetic_voc(root, n_train=16, n_val=8, size=(96, 96), seed=0, classes=(1, 8, 15), objects=(1, 3),
                       border=2, quality=95):
    """Write a VOC-format dataset under `root` and return {"root", "train": ids, "val": ids,
    "classes": classes}. `size`: (h, w) for every image, or a list of (h, w) taken in turn (train
    images first, then val). `classes`: VOC class indices (1..20) of the objects; the first object
    of image i is of classes[i % len(classes)], so with n >= len(classes) images every class is in
    every split. `border`: the void band reaches this many pixels from each boundary (0: none)."""
    classes = tuple(int(c) for c in classes)
    if not classes or any(not 1 <= c <= 20 for c in classes) or len(set(classes)) != len(classes):
        raise ValueError(f"classes must be distinct VOC classes 1..20, got {classes}")
    sizes = [tuple(size)] if np.ndim(size) == 1 else [tuple(s) for s in size]
    rng = np.random.default_rng(seed)
    for sub in ("JPEGImages", "SegmentationClass", os.path.join("ImageSets", "Segmentation")):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    out = {"root": str(root), "classes": classes}
    i = 0
    for split, count in (("train", n_train), ("val", n_val)):
        ids = []
        for j in range(count):
            h, w = sizes[i % len(sizes)]
            image_id = f"{split}_{j:06d}"
            rgb, label = synthetic_image(rng, h, w, classes, objects, border, first=classes[j % len(classes)])
            Image.fromarray(np.round(rgb * 255).astype(np.uint8)).save(
                os.path.join(root, "JPEGImages", image_id + ".jpg"), quality=quality)
            png = Image.fromarray(label, mode="P")
            png.putpalette(PALETTE.tobytes())
            png.save(os.path.join(root, "SegmentationClass", image_id + ".png"))
            ids.append(image_id)
            i += 1
        out[split] = ids
        with open(os.path.join(root, "ImageSets", "Segmentation", split + ".txt"), "w") as f:
            f.write("".join(s + "\n" for s in ids))
    with open(os.path.join(root, "ImageSets", "Segmentation", "trainval.txt"), "w") as f:
        f.write("".join(s + "\n" for s in out["train"] + out["val"]))
    return out


if __name__ == "__main__":  # python tests/synthetic_voc.py OUT [N_TRAIN N_VAL SIZE SEED]
    import sys

    args = sys.argv[1:]
    if not args:
        sys.exit("usage: python tests/synthetic_voc.py OUT [N_TRAIN N_VAL SIZE SEED]")
    n_train, n_val, side, seed = (int(a) for a in (args[1:] + ["48", "12", "128", "1"][len(args) - 1:]))
    made = make_synthetic_voc(args[0], n_train=n_train, n_val=n_val, size=(side, side), seed=seed)
    print(f"wrote {len(made['train'])} train and {len(made['val'])} val images (classes {made['classes']}) under {args[0]}")

"""`pycolorize rmse-readings` (also `python tools/rmse_readings.py`): the no-colorization
RMSE(alpha-beta) under each reading of the paper's metric, beside the paper's 0.333 (ctest10k) and
0.285 (SUN-6): the evidence table of docs/rmse_reading.md."""
import json
import os

import numpy as np

from pycolorize.cli import EXIT_CODES, CommandError, add_quiet
from pycolorize.util.files import atomic_open
from pycolorize.colorization import color
from pycolorize.evaluation import metrics

SUMMARY = "the no-colorization RMSE under each reading of the paper's metric"

DESCRIPTION = """\
The no-colorization RMSE(alpha-beta) under each reading of the paper's metric, beside the paper's
0.333 (ctest10k) and 0.285 (SUN-6): the evidence table of docs/rmse_reading.md.

No colorization is the gray image (R+G+B)/3 in all three channels, i.e. zero chroma. Rows: the
readings of pycolorize.evaluation.metrics (sum, mean, none) under both aggregations (rms: root of the mean
squared error norm over pixels; mean: mean of per-pixel error norms), and two more for reference
(Lab a, b over 100; Deshpande's literal reading with pixels darker than 0.1 left out). Each
image's value is its own RMSE; the column "mean" averages over images as the paper does.
Grayscale-encoded images (all channels equal) are skipped, as the paper's test lists exclude them.
The built-in photos need scikit-image (and matplotlib for grace_hopper)."""

EPILOG = f"""\
examples:
  pycolorize rmse-readings                        # the everyday photos pip installed here
  pycolorize rmse-readings --others               # + scikit-image's scientific pictures
  pycolorize rmse-readings --folder SUN6/ --height 256 -o readings.json   # a test set (Deshpande: height 256)
  (`python tools/rmse_readings.py ...` takes the same arguments)

{EXIT_CODES}"""


def add_arguments(ap):
    ap.add_argument("--folder", help="score the images of this folder (recursive) instead of the built-in photos")
    ap.add_argument("--others", action="store_true", help="also scikit-image's Hubble, retina and IHC pictures")
    ap.add_argument("--height", type=int, help="resize every image to this height first (Deshpande: 256)")
    ap.add_argument("--limit", type=int, help="only the first N images of --folder")
    ap.add_argument("--no-images", action="store_true", help="print only the mean column (for large folders)")
    # --json: the name this option had first
    ap.add_argument("-o", "--output", "--json", dest="output", metavar="FILE.json", help="also write the numbers here")
    add_quiet(ap, "print nothing; with -o, only write the file")


PAPER = {"ctest10k": 0.333, "SUN-6": 0.285}
EVERYDAY = ["astronaut", "coffee", "chelsea", "rocket", "motorcycle_left", "motorcycle_right", "grace_hopper"]
OTHERS = ["hubble_deep_field", "retina", "immunohistochemistry"]


def builtin(name):
    """A photograph shipped with scikit-image or matplotlib (data.samples), RGB float in [0, 1]."""
    from pycolorize.data.samples import sample_photo

    return sample_photo(name).astype(np.float64) / 255


def resize_height(rgb, height):
    """Deshpande's imresize(I, [256 NaN]): height `height`, aspect kept (bicubic, antialiased)."""
    from PIL import Image

    from pycolorize.colorization.resample import pillow_resize

    h, w = rgb.shape[:2]
    return np.clip(pillow_resize(rgb[..., :3], height, max(1, round(w * height / h)), Image.BICUBIC), 0, 1)


def rows_for(rgb):
    """{row label: the no-colorization error of one image}."""

    gray = np.repeat(rgb.mean(axis=-1, keepdims=True), 3, axis=-1)
    out = {}
    for r in metrics.READINGS:
        for red in metrics.REDUCTIONS:
            out[f"{r} / {red}"] = metrics.rmse_alphabeta(gray, rgb, red, r)
    ab = color.rgb_to_lab(rgb)[..., 1:] / 100.0  # the gray's a, b are 0 (up to rounding): error = truth's
    ab_gray = color.rgb_to_lab(gray)[..., 1:] / 100.0
    out["Lab ab/100 / rms"] = float(np.sqrt(((ab - ab_gray) ** 2).sum(-1).mean()))
    keep = rgb.mean(axis=-1) > 0.1
    err = metrics.pixel_errors(gray, rgb, "mean")[keep]
    out["mean, gray>0.1 / rms"] = float(np.sqrt((err ** 2).mean())) if err.size else float("nan")
    return out


def table(names_rgbs, log=print):
    per = {}
    skipped = []
    for name, load in names_rgbs:
        rgb = load()
        if np.abs(rgb - rgb.mean(axis=-1, keepdims=True)).max() <= 1.0 / 255:
            skipped.append(name)
            continue
        per[name] = rows_for(rgb)
    if not per:
        raise CommandError("no colour image to score")
    labels = list(next(iter(per.values())))
    means = {lab: float(np.mean([per[n][lab] for n in per])) for lab in labels}
    return per, means, skipped


def markdown(per, means, show_images=True):

    names = list(per) if show_images else []
    head = "| reading / aggregation | " + " | ".join(names + ["mean", "÷ 0.333", "÷ 0.285"]) + " |"
    lines = [head, "|" + "---|" * (len(names) + 4)]
    for lab, m in means.items():
        mark = " (default)" if lab == f"{metrics.DEFAULT_READING} / rms" else ""
        cells = [f"{per[n][lab]:.3f}" for n in names] + [f"**{m:.3f}**", f"{m / PAPER['ctest10k']:.2f}",
                                                          f"{m / PAPER['SUN-6']:.2f}"]
        lines.append(f"| {lab}{mark} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run(args):

    from pycolorize.data.images import find_images, load_image

    def prep(load):
        return (lambda: resize_height(load(), args.height)) if args.height else load

    if args.folder:
        paths = find_images(args.folder)  # the folder rule of train, evaluate and colorize
        paths = paths[:args.limit] if args.limit else paths
        items = [(os.path.relpath(p, args.folder), prep(lambda p=p: load_image(p))) for p in paths]
    else:
        items = [(n, prep(lambda n=n: builtin(n))) for n in EVERYDAY + (OTHERS if args.others else [])]
    per, means, skipped = table(items)
    if not args.quiet:
        print(markdown(per, means, show_images=not args.no_images and len(per) <= 12))
        print(f"\n{len(per)} image(s)" + (f" at height {args.height}" if args.height else " at full size")
              + (f"; skipped {len(skipped)} grayscale-encoded" if skipped else "")
              + f". The paper's no-colorization RMSE: {PAPER['ctest10k']} on ctest10k, {PAPER['SUN-6']} on SUN-6;"
              + f" pycolorize's default reading is '{metrics.DEFAULT_READING} / rms'.")
    if args.output:
        with atomic_open(args.output) as f:
            json.dump({"images": per, "mean": means, "skipped": skipped, "height": args.height, "paper": PAPER}, f, indent=2)
    return 0

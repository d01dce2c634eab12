"""`pycolorize evaluate` (also `python tools/evaluate.py`): score colorizations as the paper does
(RMSE in alpha-beta, PSNR), beside no colorization."""
import os

from pycolorize.cli import (DECODING, DEPLOY_PROTOTXT, EXIT_CODES, CommandError, add_calibration_overrides,
                            add_gpu, add_quiet, describe_calibration, released_model, repo_path, select_gpu)
from pycolorize.util.files import atomic_open


SUMMARY = "score colorizations as the paper does (RMSE in alpha-beta, PSNR)"

DESCRIPTION = """\
Score colorizations as the paper does (RMSE in alpha-beta, PSNR), beside no colorization.

Test set: --list (the authors' list format: one path per line, optionally followed by an integer
label, paths may contain spaces, '#' comments; paths appended to --root, else relative to the
list's folder) or --folder (searched recursively, hidden files skipped); the images training would
read from the same list or folder (pycolorize.data.images). Outputs: a model (--weights [--prototxt]
[--size] [--param]; neither --weights nor --predictions: the released model from the cache, which
`pycolorize weights fetch` fetches once) or --predictions, a folder of colorized images named like
the inputs. Writes per_image.csv (also the resume point: a rerun skips what it holds),
summary.json, and the figures error_cumulative.png (Fig. 6), psnr_histogram.png (Fig. 7) and
grid.png into OUTPUT; prints the table. Grayscale, unreadable or mismatched images are skipped
and counted. Needs matplotlib (pip install "pycolorize[eval]").

--rmse-reading picks the lightness division of Deshpande's alpha-beta for the RMSE columns and
Fig. 6: sum (over R+G+B: the reading on the paper's scale), mean (Deshpande's code literally,
over (R+G+B)/3: three times larger) or none. Whatever it is, the table ends with the RMSE of ours
and of no colorization under every reading beside the paper's 0.333 (ctest10k) and 0.285
(SUN-6), so one run on either set shows which reading the paper used (docs/rmse_reading.md)."""

EPILOG = f"""\
{DECODING}

examples:
  pycolorize evaluate --list imagenet_ctest10k.txt --root /data/ILSVRC/val256 --weights W.caffemodel.h5 -o results/
  pycolorize evaluate --folder sun6/ground-truth --predictions my_outputs/ -o results/
  (`python tools/evaluate.py ...` takes the same arguments; -o/--out is accepted too)

{EXIT_CODES}"""


def add_arguments(ap):
    from pycolorize.evaluation import metrics

    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--list", help="image list (cval1k/ctest10k format)")
    src.add_argument("--folder", help="folder of ground-truth images (SUN-6/SUN-A style)")
    ap.add_argument("--root", help="with --list: the folder the listed paths are under")
    how = ap.add_mutually_exclusive_group()
    how.add_argument("--weights", help="colorize with this model (Caffe HDF5); default: the released model from the "
                                       "cache (`pycolorize weights fetch`)")
    how.add_argument("--predictions", help="folder of colorized outputs named like the inputs")
    ap.add_argument("--prototxt", default=DEPLOY_PROTOTXT, help="with --weights: the dense deploy net (this default is looked up in the current folder, then in the installed package)")
    ap.add_argument("--size", type=int, default=512, help="with --weights: canvas side, a multiple of 32")
    ap.add_argument("--param", default="median:expectation-cf", metavar="CHROMA:HUE", help="with --weights: decoding (see below)")
    # --out: the name this option had first
    ap.add_argument("-o", "--output", "--out", dest="output", required=True, help="folder for the table, CSV and figures")
    ap.add_argument("--limit", type=int, help="only the first N images")
    ap.add_argument("--grid", type=int, default=6, help="rows of the example grid")
    add_gpu(ap, "colorize")
    add_calibration_overrides(ap, "with --weights: ")
    ap.add_argument("--rmse-reading", choices=metrics.READINGS, default=metrics.DEFAULT_READING,
                    help="lightness division of alpha-beta: " + "; ".join(f"{k}: {v}" for k, v in metrics.READING_HELP.items()))
    add_quiet(ap, "no progress bar")


def run(args):
    import json

    import pycolorize
    from pycolorize.evaluation import colorization as evaluation

    try:
        import matplotlib  # noqa: F401  (the figures; checked first, not after a long run)
    except ImportError:
        raise CommandError("the figures need matplotlib: pip install \"pycolorize[eval]\" (or matplotlib)") from None
    if not args.weights and not args.predictions:  # the released model, cached by `pycolorize weights fetch`

        args.prototxt, args.weights = released_model(args)
    images = evaluation.list_images(args.list, args.root, args.folder)
    images = images[:args.limit] if args.limit else images
    colorize = None
    if args.weights:
        select_gpu(args)
        if args.prototxt == DEPLOY_PROTOTXT:
            args.prototxt = repo_path(args, DEPLOY_PROTOTXT)
        colorizer = pycolorize.Colorizer(args.prototxt, args.weights, size=args.size, param=args.param,
                                         clamp_chroma=args.clamp_chroma, canvas=args.canvas)
        said = describe_calibration(colorizer)
        if said:
            print(said + (" (from the file beside the weights; --clamp-chroma and --canvas override it)"
                          if colorizer.temperature else ""))
        colorize = colorizer.colorize
    ev = evaluation.Evaluation(images, args.output, colorize=colorize, predictions=args.predictions, grid=args.grid,
                               reading=args.rmse_reading)
    table = ev.run(progress=not args.quiet)
    paths = evaluation.figures(ev, table, args.output)
    with atomic_open(os.path.join(args.output, "summary.json")) as f:
        json.dump({k: v for k, v in table.items() if k != "psnr_values"}, f, indent=2)
    print(evaluation.format_table(table))
    for reason, names in ev.skipped.items():
        print(f"skipped ({reason}): {', '.join(names[:5])}{' ...' if len(names) > 5 else ''}")
    print("wrote " + ", ".join(os.path.relpath(p) for p in [ev.csv_path] + paths))
    return 0

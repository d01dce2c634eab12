#!/usr/bin/env python
"""Score colorizations as the paper does (RMSE in alpha-beta, PSNR), beside no colorization.

    python tools/evaluate.py --list imagenet_ctest10k.txt --root /data/ILSVRC/val256 --weights W -o results/
    python tools/evaluate.py --folder sun6/ground-truth --predictions my_outputs/ -o results/

Test set: --list (the authors' list format, paths appended to --root) or --folder. Outputs: a
model (--weights [--prototxt] [--size] [--param]) or --predictions, a folder of colorized images
named like the inputs. Writes per_image.csv (also the resume point: a rerun skips what it holds),
summary.json, and the figures error_cumulative.png (Fig. 6), psnr_histogram.png (Fig. 7) and
grid.png; prints the table. Grayscale, unreadable or mismatched images are skipped and counted.

--rmse-reading picks the lightness division of Deshpande's alpha-beta for the RMSE columns and
Fig. 6: sum (the default, over R+G+B: the reading on the paper's scale), mean (Deshpande's code
literally, over (R+G+B)/3: three times larger) or none. Whatever it is, the table ends with the
RMSE of ours and of no colorization under every reading beside the paper's 0.333 (ctest10k) and
0.285 (SUN-6), so one run on either set shows which reading the paper used (docs/rmse_reading.md).
"""
import argparse
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.append(ROOT)  # an installed pycolorize wins; the source tree serves in-place builds
import pycolorize  # noqa: E402
from pycolorize import evaluation, metrics  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--list", help="image list (cval1k/ctest10k format)")
    src.add_argument("--folder", help="folder of ground-truth images (SUN-6/SUN-A style)")
    ap.add_argument("--root", help="with --list: the folder the listed paths are under")
    how = ap.add_mutually_exclusive_group(required=True)
    how.add_argument("--weights", help="colorize with this model (Caffe HDF5)")
    how.add_argument("--predictions", help="folder of colorized outputs named like the inputs")
    ap.add_argument("--prototxt", default=os.path.join(ROOT, "prototxt", "colorize_deploy.prototxt"))
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--param", default="median:expectation-cf", help="chroma:hue decoding")
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("--limit", type=int, help="only the first N images")
    ap.add_argument("--grid", type=int, default=6, help="rows of the example grid")
    # An explicit ID, never optional (an optional value would swallow what follows it).
    ap.add_argument("--gpu", type=int, metavar="ID", help="colorize on this CUDA device (e.g. --gpu 0)")
    ap.add_argument("--rmse-reading", choices=metrics.READINGS, default=metrics.DEFAULT_READING,
                    help="lightness division of alpha-beta: " + "; ".join(f"{k}: {v}" for k, v in metrics.READING_HELP.items())
                    + f" (default {metrics.DEFAULT_READING})")
    args = ap.parse_args(argv)
    try:
        import matplotlib  # noqa: F401  (the figures; checked first, not after a long run)
    except ImportError:
        raise SystemExit("evaluate.py draws its figures with matplotlib: pip install \".[eval]\" (or matplotlib)")
    try:
        images = evaluation.list_images(args.list, args.root, args.folder)
    except (ValueError, FileNotFoundError) as e:
        raise SystemExit(f"evaluate.py: {e}")
    images = images[:args.limit] if args.limit else images
    colorize = None
    if args.weights:
        try:
            if args.gpu is not None:
                pycolorize.use_gpu(args.gpu)
            colorize = pycolorize.Colorizer(args.prototxt, args.weights, size=args.size, param=args.param).colorize
        except (ValueError, FileNotFoundError, pycolorize.Error) as e:
            raise SystemExit(f"evaluate.py: {e}")
    try:
        ev = evaluation.Evaluation(images, args.out, colorize=colorize, predictions=args.predictions, grid=args.grid,
                                   reading=args.rmse_reading)
    except ValueError as e:
        raise SystemExit(f"evaluate.py: {e}")
    try:
        table = ev.run()
    except ValueError as e:
        raise SystemExit(f"evaluate.py: {e}")
    paths = evaluation.figures(ev, table, args.out)
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump({k: v for k, v in table.items() if k != "psnr_values"}, f, indent=2)
    print(evaluation.format_table(table))
    for reason, names in ev.skipped.items():
        print(f"skipped ({reason}): {', '.join(names[:5])}{' ...' if len(names) > 5 else ''}")
    print("wrote " + ", ".join(os.path.relpath(p) for p in [ev.csv_path] + paths))


if __name__ == "__main__":
    main()

"""`pycolorize colorize` (also `python tools/colorize.py`): colorize photographs with a dense
hue/chroma (or Lab) model, as the authors' released tool does."""
import os
import sys

from pycolorize.cli import DEPLOY_PROTOTXT, EXIT_CODES, CommandError, add_calibration_overrides, add_gpu, add_quiet, repo_path, select_gpu


SUMMARY = "colorize photos with a dense hue/chroma (or Lab) model"

DESCRIPTION = """\
Colorize photographs with a dense hue/chroma model, as the authors' released tool does. Without
--weights, the authors' released model from the cache (fetch it once with `pycolorize weights
fetch`; nothing is downloaded here).

INPUT: image files or folders (searched recursively for image files, hidden ones skipped, as
training reads a folder). One input file: OUTPUT is the output file; otherwise OUTPUT is a folder,
created if needed, that mirrors the inputs: one input folder's tree as it is (in/a/x.jpg ->
OUTPUT/a/x.png), several inputs each under its own name (OUTPUT/in/a/x.png for a folder,
OUTPUT/x.png for a file). Inputs that would share an output name (x.jpg beside x.png, two folders
of one name) are refused, and no existing file is replaced without --overwrite; both are checked
before anything is written. Output pixels are truncated to 8 bits as the released tool saves them.
--reference IMAGE transfers that image's colour distribution (energy minimisation of the paper's
Eq. 5, or --transfer quantile); --samples N and --uncertainty write sampled
colorizations and the uncertainty map beside each output."""

DECODING = """\
decoding (--param CHROMA:HUE):
  CHROMA  median       median of the chroma histogram (released default)
          mode         the most likely bin
          expectation  the histogram's mean
          sample       one draw per pixel (seeded, reproducible)
  HUE     expectation-cf  complex expectation with chromatic fading min(|z|/(K eta), 1)
                          (released default)
          expectation     complex expectation without fading
          mode | median | sample
  For a Lab net (models.deploy_net(variant=lab_k32|lab_16x16|lab_l2)) --param is one word:
  expectation (what the default maps to), mode, or median (marginal histograms only); the L2
  regression net ignores it."""

EPILOG = f"""\
{DECODING}

examples:
  pycolorize colorize photo.jpg -o photo_color.png   # the released model (fetch it once: pycolorize weights fetch)
  pycolorize colorize photo.jpg -o photo_color.png --weights autocolorize.caffemodel.h5
  pycolorize colorize photos/ -o colored/ --weights W.caffemodel.h5 --param mode:expectation --gpu 0
  pycolorize colorize demo.jpg -o out.png --prototxt demo_out/deploy.prototxt \\
      --weights demo_out/model.caffemodel.h5 --samples 4 --uncertainty
  (`python tools/colorize.py ...` takes the same arguments)

{EXIT_CODES}
  (1 also when some images could not be colorized: each is named on stderr, the others are written)"""


def add_arguments(ap):
    ap.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders")
    ap.add_argument("-o", "--output", required=True, help="output file (one input file) or folder")
    ap.add_argument("--weights", help="Caffe HDF5 weights; default: the released model from the cache "
                                      "(`pycolorize weights fetch` fetches it once)")
    ap.add_argument("--prototxt", default=DEPLOY_PROTOTXT, help="the dense deploy net (without --weights: the released model's; "
                                                                "with them, this default is looked up in the current folder, "
                                                                "then in the installed package)")
    ap.add_argument("--size", type=int, default=512, help="canvas side S, a multiple of 32")
    ap.add_argument("--param", default="median:expectation-cf", metavar="CHROMA:HUE",
                    help="decoding (see below; Lab nets: expectation|mode|median)")
    ap.add_argument("--reference", metavar="IMAGE", help="transfer this image's colour distribution (the paper's GT Hist task)")
    ap.add_argument("--transfer", choices=["energy", "quantile"], default="energy",
                    help="with --reference: Eq. 5's energy minimisation or quantile matching")
    ap.add_argument("--transfer-lambda", type=float, default=10.0, help="lambda of Eq. 5")
    ap.add_argument("--samples", type=int, default=0, metavar="N",
                    help="also write N spatially coherent sampled colorizations (<output>_sample<i>.png)")
    ap.add_argument("--uncertainty", action="store_true",
                    help="also write the uncertainty map, hue entropy x chroma (<output>_uncertainty.png)")
    add_gpu(ap, "colorize")
    add_calibration_overrides(ap)
    ap.add_argument("--overwrite", action="store_true", help="replace output files that already exist")
    add_quiet(ap, "no line per image (errors are still printed)")


def plan(inputs, output, samples=0, uncertainty=False):
    """[(input file, output file)] for the command line's inputs; a CommandError for a missing
    input, an empty folder, two input folders of one name, or two inputs that would write the same
    file (their outputs, or the sample and uncertainty files beside them)."""
    from pycolorize.data.images import find_images

    single = len(inputs) == 1 and os.path.isfile(inputs[0]) and not os.path.isdir(output)
    pairs = [(inputs[0], output)] if single else []
    folders = {}
    for path in [] if single else inputs:
        if os.path.isdir(path):
            try:
                found = find_images(path)  # the images training would read from this folder
            except ValueError as e:
                raise CommandError(str(e)) from None
            # one folder: its tree as it is; several inputs: each folder under its own name
            name = os.path.basename(os.path.abspath(path))
            if len(inputs) > 1 and name in folders:
                raise CommandError(f"{folders[name]} and {path} are both named {name!r}: their trees would merge "
                                   f"in {os.path.join(output, name)}; colorize them separately")
            folders[name] = path
            base = output if len(inputs) == 1 else os.path.join(output, name)
            pairs += [(f, os.path.join(base, os.path.splitext(os.path.relpath(f, path))[0] + ".png")) for f in found]
        elif os.path.isfile(path):
            pairs.append((path, os.path.join(output, os.path.splitext(os.path.basename(path))[0] + ".png")))
        else:
            raise CommandError(f"{path}: no such file or folder")
    seen = {}
    for src, out in pairs:
        for target in [out] + side_outputs(out, samples, uncertainty):
            key = os.path.normcase(os.path.abspath(target))
            if key in seen:
                raise CommandError(f"{seen[key]} and {src} would both write {target}; colorize them separately")
            seen[key] = src
    return pairs


def side_outputs(out, samples, uncertainty):
    """The files written beside `out`: sampled colorizations and the uncertainty map."""
    stem = os.path.splitext(out)[0]
    return [f"{stem}_sample{i}.png" for i in range(samples)] + ([f"{stem}_uncertainty.png"] if uncertainty else [])


def save_rgb(rgb, path):
    import numpy as np
    from PIL import Image

    from pycolorize.util.files import atomic_path

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with atomic_path(path) as tmp:  # the format follows the name's extension
        Image.fromarray((np.clip(rgb, 0, 1) * 255).astype(np.uint8)).save(tmp)  # truncation, as released


def run(args):
    import time

    import numpy as np

    import pycolorize
    from pycolorize.data.images import load_image

    if args.weights is None:  # the released model, cached by `pycolorize weights fetch` (never downloaded here)
        from pycolorize.cli.weights import released_model

        args.prototxt, args.weights = released_model(args)
    pairs = plan(args.inputs, args.output, args.samples, args.uncertainty)
    if not args.overwrite:
        existing = [o for _, out in pairs for o in [out] + side_outputs(out, args.samples, args.uncertainty)
                    if os.path.exists(o)]
        if existing:
            more = f" and {len(existing) - 1} more" if len(existing) > 1 else ""
            raise CommandError(f"{existing[0]}{more} already exist(s); nothing was written (--overwrite replaces them)")
    select_gpu(args)
    if args.prototxt == DEPLOY_PROTOTXT:
        args.prototxt = repo_path(args, DEPLOY_PROTOTXT)
    colorizer = pycolorize.Colorizer(args.prototxt, args.weights, size=args.size, param=args.param,
                                     clamp_chroma=args.clamp_chroma, canvas=args.canvas)
    try:
        reference = load_image(args.reference) if args.reference else None
    except (OSError, ValueError) as e:
        raise CommandError(f"--reference: {e}") from None
    failed = 0
    for path, out in pairs:
        t = time.perf_counter()
        try:
            image = load_image(path)
            rgb = colorizer.colorize(image, reference=reference, transfer_mode=args.transfer, lam=args.transfer_lambda)
        except (OSError, ValueError, SyntaxError) as e:
            print(f"{path}: cannot colorize: {e}", file=sys.stderr)
            failed += 1
            continue
        save_rgb(rgb, out)
        extra = side_outputs(out, args.samples, args.uncertainty)
        prediction = colorizer.prediction_for(image) if extra else None  # one more pass, shared by both
        if args.samples:
            for sample, name in zip(colorizer.samples(image, n=args.samples, prediction=prediction), extra):
                save_rgb(sample, name)
        if args.uncertainty:
            u = colorizer.uncertainty(image, prediction=prediction)
            save_rgb(np.repeat(u[..., None], 3, axis=-1), extra[-1])
        if not args.quiet:
            print(f"{path} -> {out} ({time.perf_counter() - t:.2f} s)")
    if failed:
        raise CommandError(f"{failed} of {len(pairs)} image(s) failed")
    return 0

#!/usr/bin/env python
"""Colorize photographs with a dense hue/chroma model, as the authors' released tool does.

    python tools/colorize.py INPUT... -o OUTPUT --weights W.caffemodel.h5 [--prototxt P] [--size 512]
                             [--param chroma:hue] [--gpu ID] [--overwrite]

INPUT: image files or folders (searched recursively). One input file: OUTPUT is the output file;
otherwise OUTPUT is a folder, created if needed, that mirrors the inputs: one input folder's tree
as it is (in/a/x.jpg -> OUTPUT/a/x.png), several inputs each under its own name (OUTPUT/in/a/x.png
for a folder, OUTPUT/x.png for a file). Inputs that would share an output name (x.jpg beside
x.png, two folders of one name) are refused, and no existing file is replaced without --overwrite;
both are checked before anything is written. Output
pixels are truncated to 8 bits as the released tool saves them. --param picks the decoding
(default median:expectation-cf, the released one; chroma median|mode|expectation|sample, hue
expectation-cf|expectation|mode|median|sample; for a Lab net: expectation, mode or median). --reference IMAGE transfers that image's colour
distribution (energy minimisation of the paper's Eq. 5, or --transfer quantile); --samples N and
--uncertainty write sampled colorizations and the uncertainty map beside each output.
"""
import argparse
import os
import sys
import time

import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.append(ROOT)  # an installed pycolorize wins; the source tree serves in-place builds
import pycolorize  # noqa: E402
from pycolorize.data import EXTENSIONS, load_image  # noqa: E402


def plan(inputs, output):
    """[(input file, output file)] for the command line's inputs; raises SystemExit for a missing
    input, an empty folder, or two inputs that would write the same output file."""
    single = len(inputs) == 1 and os.path.isfile(inputs[0]) and not os.path.isdir(output)
    if single:
        return [(inputs[0], output)]
    pairs = []
    for path in inputs:
        if os.path.isdir(path):
            found = sorted(os.path.join(d, f) for d, _, fs in os.walk(path) for f in fs if f.lower().endswith(EXTENSIONS))
            if not found:
                raise SystemExit(f"{path}: no images in this folder")
            # one folder: its tree as it is; several inputs: each folder under its own name
            base = output if len(inputs) == 1 else os.path.join(output, os.path.basename(os.path.normpath(path)))
            pairs += [(f, os.path.join(base, os.path.splitext(os.path.relpath(f, path))[0] + ".png")) for f in found]
        elif os.path.isfile(path):
            pairs.append((path, os.path.join(output, os.path.splitext(os.path.basename(path))[0] + ".png")))
        else:
            raise SystemExit(f"{path}: no such file or folder")
    seen = {}
    for src, out in pairs:
        key = os.path.normcase(os.path.abspath(out))
        if key in seen:
            raise SystemExit(f"{seen[key]} and {src} would both be written to {out}; colorize them separately")
        seen[key] = src
    return pairs


def side_outputs(out, samples, uncertainty):
    stem = os.path.splitext(out)[0]
    return [f"{stem}_sample{i}.png" for i in range(samples)] + ([f"{stem}_uncertainty.png"] if uncertainty else [])


def save_rgb(rgb, path):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    Image.fromarray((np.clip(rgb, 0, 1) * 255).astype(np.uint8)).save(path)  # truncation, as released


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("inputs", nargs="+", metavar="INPUT")
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--weights", required=True, help="Caffe HDF5 weights (e.g. the released autocolorize.caffemodel.h5)")
    ap.add_argument("--prototxt", default=os.path.join(ROOT, "prototxt", "colorize_deploy.prototxt"))
    ap.add_argument("--size", type=int, default=512, help="canvas side, a multiple of 32")
    ap.add_argument("--param", default="median:expectation-cf", help="chroma:hue decoding (Lab nets: expectation|mode|median)")
    ap.add_argument("--reference", help="transfer this image's colour distribution (the paper's GT Hist task)")
    ap.add_argument("--transfer", choices=["energy", "quantile"], default="energy",
                    help="with --reference: Eq. 5's energy minimisation (default) or quantile matching")
    ap.add_argument("--transfer-lambda", type=float, default=10.0, help="lambda of Eq. 5")
    ap.add_argument("--samples", type=int, default=0, metavar="N",
                    help="also write N spatially coherent sampled colorizations (<output>_sample<i>.png)")
    ap.add_argument("--uncertainty", action="store_true",
                    help="also write the uncertainty map, hue entropy x chroma (<output>_uncertainty.png)")
    # An explicit ID, never optional: an optional value would swallow the next INPUT (--gpu photo.jpg).
    ap.add_argument("--gpu", type=int, metavar="ID", help="run on this CUDA device (e.g. --gpu 0)")
    ap.add_argument("--overwrite", action="store_true", help="replace output files that already exist")
    args = ap.parse_args(argv)
    pairs = plan(args.inputs, args.output)
    if not args.overwrite:
        existing = [o for _, out in pairs for o in [out] + side_outputs(out, args.samples, args.uncertainty)
                    if os.path.exists(o)]
        if existing:
            more = f" and {len(existing) - 1} more" if len(existing) > 1 else ""
            raise SystemExit(f"{existing[0]}{more} already exist(s); nothing was written (--overwrite replaces them)")
    if args.gpu is not None:
        try:
            pycolorize.use_gpu(args.gpu)
        except pycolorize.Error as e:
            raise SystemExit(f"--gpu {args.gpu}: {e}")
    try:
        colorizer = pycolorize.Colorizer(args.prototxt, args.weights, size=args.size, param=args.param)
    except (ValueError, FileNotFoundError, pycolorize.Error) as e:
        raise SystemExit(str(e))
    try:
        reference = load_image(args.reference) if args.reference else None
    except (OSError, pycolorize.Error) as e:
        raise SystemExit(f"--reference: {e}")
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
        hist = colorizer.predict(image) if extra else None  # one more pass, shared by both
        if args.samples:
            for sample, name in zip(colorizer.samples(image, n=args.samples, hist=hist), extra):
                save_rgb(sample, name)
        if args.uncertainty:
            u = colorizer.uncertainty(image, hist=hist)
            save_rgb(np.repeat(u[..., None], 3, axis=-1), extra[-1])
        print(f"{path} -> {out} ({time.perf_counter() - t:.2f} s)")
    if failed:
        raise SystemExit(f"{failed} of {len(pairs)} image(s) failed")


if __name__ == "__main__":
    main()

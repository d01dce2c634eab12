#!/usr/bin/env python
"""Colorize photographs with a dense hue/chroma model, as the authors' released tool does.

    python tools/colorize.py INPUT... -o OUTPUT --weights W.caffemodel.h5 [--prototxt P] [--size 512]
                             [--param chroma:hue] [--gpu [ID]]

INPUT: image files or folders (searched recursively). One input file: OUTPUT is the output file;
otherwise OUTPUT is a folder, created if needed, that receives <name>.png per input. Output
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


def expand(inputs):
    files = []
    for path in inputs:
        if os.path.isdir(path):
            found = sorted(os.path.join(d, f) for d, _, fs in os.walk(path) for f in fs if f.lower().endswith(EXTENSIONS))
            if not found:
                raise SystemExit(f"{path}: no images in this folder")
            files += found
        elif os.path.isfile(path):
            files.append(path)
        else:
            raise SystemExit(f"{path}: no such file or folder")
    return files


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
    ap.add_argument("--gpu", nargs="?", const=0, type=int, metavar="ID", help="run on this CUDA device")
    args = ap.parse_args(argv)
    files = expand(args.inputs)
    single = len(args.inputs) == 1 and os.path.isfile(args.inputs[0]) and not os.path.isdir(args.output)
    if args.gpu is not None:
        pycolorize.set_device(args.gpu)
        pycolorize.set_mode_gpu()
    try:
        colorizer = pycolorize.Colorizer(args.prototxt, args.weights, size=args.size, param=args.param)
    except (ValueError, FileNotFoundError, pycolorize.Error) as e:
        raise SystemExit(str(e))
    reference = load_image(args.reference) if args.reference else None
    failed = 0
    for path in files:
        out = args.output if single else os.path.join(args.output, os.path.splitext(os.path.basename(path))[0] + ".png")
        t = time.perf_counter()
        try:
            image = load_image(path)
            rgb = colorizer.colorize(image, reference=reference, transfer_mode=args.transfer, lam=args.transfer_lambda)
        except (OSError, ValueError, SyntaxError) as e:
            print(f"{path}: cannot colorize: {e}", file=sys.stderr)
            failed += 1
            continue
        save_rgb(rgb, out)
        stem = os.path.splitext(out)[0]
        hist = colorizer.predict(image) if args.samples or args.uncertainty else None  # one more pass, shared
        if args.samples:
            for i, sample in enumerate(colorizer.samples(image, n=args.samples, hist=hist)):
                save_rgb(sample, f"{stem}_sample{i}.png")
        if args.uncertainty:
            u = colorizer.uncertainty(image, hist=hist)
            save_rgb(np.repeat(u[..., None], 3, axis=-1), f"{stem}_uncertainty.png")
        print(f"{path} -> {out} ({time.perf_counter() - t:.2f} s)")
    if failed:
        raise SystemExit(f"{failed} of {len(files)} image(s) failed")


if __name__ == "__main__":
    main()

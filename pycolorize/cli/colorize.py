"""`pycolorize colorize` (also `python tools/colorize.py`): colorize photographs with a dense
hue/chroma (or Lab) model, as the authors' released tool does."""
import os
import sys

from pycolorize.cli import (DECODING, DEPLOY_PROTOTXT, EXIT_CODES, CommandError, add_calibration_overrides,
                            add_gpu, add_quiet, released_model, repo_path, select_gpu)


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
before anything is written. Output pixels are truncated to 8 bits as the released tool saves them;
the format follows OUTPUT's extension (PNG at zlib level 1: fast, lossless). A large photo costs
about 8 bytes a pixel beside the network (its lightness in float32 and the 8-bit output; the colour
is made in bands of rows): 24 megapixels in about 1.3 GB.
--reference IMAGE transfers that image's colour distribution (energy minimisation of the paper's
Eq. 5, or --transfer quantile); --samples N and --uncertainty write sampled
colorizations and the uncertainty map beside each output."""

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


# Pillow refuses past 89 megapixels by default (its decompression-bomb guard, PIL.Image.MAX_IMAGE_PIXELS),
# sized for the float64 RGB that colorizing once took; archive scans are often larger, and a photo
# now costs about 9 bytes a pixel at the peak (the decoder's image and the lightness, then the
# lightness, the 8-bit output and a few bands of the colour).
MAX_MEGAPIXELS = 250.0


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
    ap.add_argument("--max-megapixels", type=float, default=MAX_MEGAPIXELS, metavar="MP",
                    help="refuse (before decoding) an image with more pixels, a guard against files that claim absurd "
                         "sizes; 0: no limit. Colorizing costs about 9 bytes a pixel at the peak beside the network's "
                         "1 GB (a 100-megapixel scan: 1.9 GB in all; 250 megapixels: about 3.3 GB)")
    ap.add_argument("--timings", action="store_true",
                    help="print where the time goes: once the model's load, then per image one line 'timings FILE: "
                         "decode S s, network S s (forward S s), colour S s, encode S s', and at the end the "
                         "process's peak resident memory")
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
    """Write float RGB in [0, 1] (H, W, 3) as 8 bits, truncated as the released tool saves them."""
    import numpy as np

    rgb = np.array(rgb)  # a copy in its own precision (rgb_image truncates in place)
    save_image(rgb_image([(slice(0, len(rgb)), rgb)], rgb.shape[:2]), path)


def rgb_image(bands, shape, gray=False):
    """An 8-bit RGB Pillow image of `shape` (H, W) from (row slice, float band) pairs that cover it
    (Colorizer.colorize_bands, render_bands): each band truncated as the released tool saves
    (colorizer.to_uint8; in place: the bands are used up) and pasted in, so that the only
    full-size array is this 8-bit image. `gray`: the bands are (rows, W) and each value becomes
    R = G = B."""
    import numpy as np
    from PIL import Image

    from pycolorize.colorization.colorizer import to_uint8

    im = Image.new("RGB", (shape[1], shape[0]))
    for rows, band in bands:
        pixels = to_uint8(band, in_place=True)
        if gray:
            pixels = np.repeat(pixels[..., None], 3, axis=-1)
        im.paste(Image.fromarray(pixels), (0, rows.start))
    return im


def save_image(im, path):
    """Write a Pillow image atomically in the format of `path`'s extension; PNG at zlib level 1
    (lossless at every level; level 1 writes a large photo about three times faster than Pillow's
    default 6, in files about a third larger). Other formats with Pillow's defaults."""
    from PIL import Image

    from pycolorize.util.files import atomic_path

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    png = Image.registered_extensions().get(os.path.splitext(path)[1].lower()) == "PNG"
    with atomic_path(path) as tmp:  # the format follows the name's extension
        im.save(tmp, **({"compress_level": 1} if png else {}))


BAND_PIXELS = 1 << 20  # a band of the colour: up to 256 rows, and about a megapixel (its float32 temporaries: ~60 MB)


def band_threads():
    """Threads that make the colour's bands: as many as the network's (OMP_NUM_THREADS, else the
    CPUs this process may use), at most 4 (each holds a band's float32 temporaries)."""
    try:
        n = int(os.environ.get("OMP_NUM_THREADS", "").split(",")[0])
    except ValueError:
        n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(n, 4))


def run(args):
    if args.weights is None:  # the released model, cached by `pycolorize weights fetch` (never downloaded here)

        args.prototxt, args.weights = released_model(args)
    pairs = plan(args.inputs, args.output, args.samples, args.uncertainty)
    if not args.overwrite:
        existing = [o for _, out in pairs for o in [out] + side_outputs(out, args.samples, args.uncertainty)
                    if os.path.exists(o)]
        if existing:
            more = f" and {len(existing) - 1} more" if len(existing) > 1 else ""
            raise CommandError(f"{existing[0]}{more} already exist(s); nothing was written (--overwrite replaces them)")
    if not args.max_megapixels >= 0:
        raise CommandError(f"--max-megapixels {args.max_megapixels}: must be 0 (no limit) or more")
    from PIL import Image

    # The limit is checked here (images.load_*'s max_pixels, before decoding); Pillow's own check of
    # PIL.Image.MAX_IMAGE_PIXELS (a warning past it, an error past twice it) is lifted meanwhile.
    saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
    try:
        return _run(args, pairs, int(args.max_megapixels * 1e6))
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def _run(args, pairs, max_pixels):
    import time

    import pycolorize
    from pycolorize.data.images import load_image, load_lightness

    select_gpu(args)
    if args.prototxt == DEPLOY_PROTOTXT:
        args.prototxt = repo_path(args, DEPLOY_PROTOTXT)
    t = time.perf_counter()
    colorizer = pycolorize.Colorizer(args.prototxt, args.weights, size=args.size, param=args.param,
                                     clamp_chroma=args.clamp_chroma, canvas=args.canvas)
    if args.timings:
        print(f"timings: model {time.perf_counter() - t:.3f} s (the net built, its weights read)", flush=True)
    try:
        reference = load_image(args.reference, max_pixels) if args.reference else None
    except (OSError, ValueError) as e:
        raise CommandError(f"--reference: {e}") from None
    threads = band_threads()
    failed = 0
    for path, out in pairs:
        # Only the photo's lightness is read (float32; the colour channels are never needed), the
        # colour is made in bands of rows and truncated to 8 bits as it comes: a large photo costs
        # about 8 bytes a pixel (lightness and output) beside the network.
        t = time.perf_counter()
        spent = {"network_s": 0.0}
        try:
            gray = load_lightness(path, max_pixels)
            t_decoded = time.perf_counter()
            pred = colorizer.prepare_lightness(gray, spent)
            t_net = time.perf_counter()
            rows = max(1, min(colorizer.band_rows, BAND_PIXELS // gray.shape[1]))  # the numbers do not depend on it
            image = rgb_image(colorizer.colorize_bands(pred, reference=reference, transfer_mode=args.transfer,
                                                       lam=args.transfer_lambda, threads=threads, band_rows=rows), gray.shape)
            t_colour = time.perf_counter()
        except (OSError, ValueError, SyntaxError) as e:
            print(f"{path}: cannot colorize: {e}", file=sys.stderr)
            failed += 1
            continue
        save_image(image, out)
        del image
        t_encoded = time.perf_counter()
        colour_s, encode_s = t_colour - t_net, t_encoded - t_colour
        extra = side_outputs(out, args.samples, args.uncertainty)
        outputs = []  # (name, bands, gray): the samples and the uncertainty map, from the same network pass
        if args.samples:
            outputs += [(name, colorizer.render_bands(pred, bias, threads=threads, band_rows=rows), False)
                        for bias, name in zip(colorizer.sample_biases(args.samples), extra)]
        if args.uncertainty:
            outputs.append((extra[-1], colorizer.uncertainty_bands(pred, threads=threads, band_rows=rows), True))
        for name, bands, one_channel in outputs:
            t0 = time.perf_counter()
            image = rgb_image(bands, gray.shape, gray=one_channel)
            t1 = time.perf_counter()
            save_image(image, name)
            del image
            colour_s, encode_s = colour_s + t1 - t0, encode_s + time.perf_counter() - t1
        del gray, pred, outputs  # before the next photo is read
        if not args.quiet:
            print(f"{path} -> {out} ({time.perf_counter() - t:.2f} s)")
        if args.timings:
            print(f"timings {path}: decode {t_decoded - t:.3f} s, network {t_net - t_decoded:.3f} s "
                  f"(forward {spent['network_s']:.3f} s), colour {colour_s:.3f} s, encode {encode_s:.3f} s", flush=True)
    if args.timings:
        print(f"timings: peak memory {peak_rss_mb():.0f} MB (this process's resident peak)", flush=True)
    if failed:
        raise CommandError(f"{failed} of {len(pairs)} image(s) failed")
    return 0


def peak_rss_mb():
    """This process's peak resident memory: Linux's VmHWM, which belongs to this program (getrusage's
    ru_maxrss, the fallback, also counts the memory of the process that started it: it survives exec)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (2**20 if sys.platform == "darwin" else 2**10)

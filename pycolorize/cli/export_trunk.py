"""`pycolorize export-trunk` (also `python tools/export_trunk.py`): the VGG-16 trunk of a
colorization snapshot, for a downstream network."""
from pycolorize.cli import EXIT_CODES, add_quiet

SUMMARY = "write a colorization snapshot's VGG-16 trunk (conv1_1 .. fc7) for fine-tuning"

DESCRIPTION = """\
Write conv1_1 .. fc7 of a colorization snapshot as a Caffe HDF5 weights file, for a downstream
network such as the segmentation net of prototxt/segmentation_train.prototxt (the paper's Sec. 5,
Table 6: colorization instead of ImageNet-label pretraining).

The snapshot may come from the ImageNet-initialised trainer or from the from-scratch one
(prototxt/colorize_train_scratch.prototxt): its BatchNorm statistics (layers X_bn) are folded into
the convolutions X, exactly, so the trunk is a plain VGG-16 whichever it was. The heads (h_fc1,
prediction_*) are left out. With --color, conv1_1 reads RGB instead of gray: its filter divided by
3 on each channel, which computes on a colour image what the gray trunk computes on its mean
(gray = (R + G + B) / 3): the paper's colour-input ("C") setting."""

EPILOG = f"""\
examples:
  pycolorize export-trunk snapshots/scratch_iter_2000000.caffemodel.h5 -o trunk.caffemodel.h5
  pycolorize export-trunk snap.caffemodel.h5 -o trunk_rgb.caffemodel.h5 --color
  pycolorize train --solver prototxt/solver_segmentation.prototxt --data voc.yaml --weights trunk.caffemodel.h5

{EXIT_CODES}"""


def add_arguments(ap):
    ap.add_argument("snapshot", help="a colorization snapshot (.caffemodel.h5, Caffe's HDF5 layout)")
    ap.add_argument("-o", "--output", required=True, help="the trunk's weights file to write (.caffemodel.h5)")
    ap.add_argument("--color", action="store_true", help="conv1_1 for RGB input (the gray filter / 3 per channel)")
    ap.add_argument("--eps", type=float, default=1e-5, help="the BatchNorm layers' eps (Caffe's default)")
    add_quiet(ap, "print nothing but errors")


def run(args):
    from pycolorize.models.trunk import export_trunk

    trunk = export_trunk(args.snapshot, args.output, color=args.color, eps=args.eps)
    if not args.quiet:
        n = sum(b.size for blobs in trunk.values() for b in blobs if b is not None)
        print(f"wrote {args.output}: {len(trunk)} layers ({', '.join(trunk)[:60]}...), {n:,} parameters"
              + (", conv1_1 for RGB input" if args.color else ""))
    return 0

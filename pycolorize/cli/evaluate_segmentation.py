"""`pycolorize evaluate-segmentation` (also `python tools/evaluate_segmentation.py`): score a
segmentation net, or predictions made elsewhere, on PASCAL VOC 2012 as FCN does (mean IU), for the
paper's Table 6 (colorization as pretraining)."""
import os

from pycolorize.cli import EXIT_CODES, CommandError, add_gpu, add_quiet, select_gpu

SUMMARY = "score semantic segmentation on PASCAL VOC 2012 (mean IU, the paper's Table 6)"

DESCRIPTION = """\
Score semantic segmentation on PASCAL VOC 2012 as FCN does (Long et al.'s score.py): one confusion
matrix over every pixel of the listed images (label 255, VOC's void border, is not scored), then
mean IU, pixel accuracy, mean accuracy, frequency-weighted IU and each class's IU. The mean IU is
over the classes present in the ground truth or the predictions (on the full val set, all 21).

What is scored: a net (--prototxt, a deploy net with an Input blob "data" (1, C, H, W), and
--weights): each image becomes gray = mean(R, G, B) in [0, 1] (C = 1) or RGB in [0, 1] (C = 3),
padded right and below with the ImageNet mean up to a multiple of 32; the net is reshaped to it
and run, and its output blob (--output-blob, (1, 21, H, W) class scores at the input's resolution)
is cropped to the image and argmaxed. Or --predictions DIR: <id>.png class maps made elsewhere
(palette or 8-bit gray PNGs of class indices, as VOC's own labels).

The VOC folder (--voc) holds JPEGImages/<id>.jpg and SegmentationClass/<id>.png; --list is
ImageSets/Segmentation/val.txt (under --voc; a bare name such as val means that file), an
absolute path, or a list of '<image> <label>' path pairs (SBD's train_aug). Before anything is
scored every listed file is looked for and every label read: missing images, labels or
predictions, label values other than 0..20 and 255, and labels whose size differs from their
image are one error that counts each kind and names the first few.

Writes into OUTPUT: summary.json (mean_iu, pixel_accuracy, mean_accuracy,
frequency_weighted_iu, per_class_iu, images, what was scored), per_class.csv (class, IU,
accuracy, ground-truth and predicted pixels), table.md (the row of this run in the layout of the
paper's Table 6, with per-class IU), predictions/<id>.png in the VOC palette (with a net), and
partial.npz: the confusion counts and the images done so far, rewritten (atomically) after every
image. After Ctrl-C or a crash, the same command with --resume continues from there; it refuses a
partial run over another list, net or prediction folder, saying which differs."""

EPILOG = f"""\
examples:
  pycolorize evaluate-segmentation --prototxt seg_deploy.prototxt --weights seg.caffemodel.h5 \\
      --voc VOCdevkit/VOC2012 --list val -o results/seg --gpu 0
  pycolorize evaluate-segmentation --predictions my_pngs/ --voc VOCdevkit/VOC2012 \\
      --list ImageSets/Segmentation/val.txt -o results/theirs
  # cross-validated early stopping: score a run's snapshots on its held-out training images
  # (the data config's holdout; train writes their ids to <prefix>_holdout.txt), keep the best
  pycolorize evaluate-segmentation --prototxt prototxt/segmentation_deploy.prototxt \
      --weights snapshots/segmentation_iter_*.caffemodel.h5 --voc VOCdevkit/VOC2012 \
      --list $PWD/snapshots/segmentation_holdout.txt -o results/selection
  (add --resume to continue an interrupted run; `python tools/evaluate_segmentation.py ...` takes
  the same arguments)

{EXIT_CODES}
  (status 1 also for a malformed VOC folder, missing predictions, and a partial run --resume
  refuses; after 130 the images done are kept in OUTPUT/partial.npz for --resume)"""

def add_arguments(ap):
    ap.add_argument("--prototxt", help="the deploy net (Input blob \"data\" of shape (1, C, H, W), C = 1 gray or 3 RGB)")
    ap.add_argument("--weights", nargs="+", metavar="WEIGHTS",
                    help="with --prototxt: its weights (Caffe HDF5); several (e.g. a training run's snapshots, scored "
                         "on held-out images): each is scored into OUTPUT/<name>/ and the best by mean IU is kept as "
                         "OUTPUT/best.caffemodel.h5, named in OUTPUT/selection.json (cross-validated early stopping)")
    ap.add_argument("--predictions", metavar="DIR", help="instead of a net: a folder of <id>.png class maps")
    ap.add_argument("--voc", required=True, metavar="VOC_ROOT", help="the VOC 2012 folder (JPEGImages/, SegmentationClass/)")
    ap.add_argument("--list", required=True, help="the image list: under VOC_ROOT (ImageSets/Segmentation/val.txt, "
                                                  "or just val), or an absolute path")
    ap.add_argument("-o", "--output", required=True, help="folder for summary.json, per_class.csv, table.md, "
                                                          "predictions/ and partial.npz")
    ap.add_argument("--output-blob", default="score", metavar="BLOB", help="the net's class-score blob")
    ap.add_argument("--resume", action="store_true", help="continue the partial run in OUTPUT (partial.npz)")
    add_gpu(ap, "run the net")
    add_quiet(ap, "no progress bar")


def run(args):
    if bool(args.predictions) == bool(args.prototxt):
        args._parser.error("give either --prototxt (with --weights) or --predictions")
    if args.prototxt and not args.weights:
        args._parser.error("--prototxt needs --weights")
    if args.predictions and args.weights:
        args._parser.error("--weights goes with --prototxt, not --predictions")
    for path, what in [(args.prototxt, "prototxt")] + [(w, "weights file") for w in args.weights or []]:
        if path and not os.path.isfile(path):
            raise CommandError(f"{path}: no such {what}")
    from pycolorize.evaluation import segmentation as seg

    if args.weights and len(args.weights) > 1:
        best, mean_iu, selection = seg.select_snapshot(args.weights, lambda weights, output: evaluate(args, weights, output),
                                                       args.output, args.list)
        print(f"best: {best} (mean IU {100 * mean_iu:.2f} % on {args.list}), kept as "
              f"{os.path.join(args.output, 'best.caffemodel.h5')}; all in {selection}")
        return 0
    evaluate(args, args.weights[0] if args.weights else None, args.output)
    return 0


def evaluate(args, weights, output):
    """Score one net (--prototxt with `weights`) or the --predictions into `output`; its mean IU."""
    from pycolorize.evaluation import segmentation as seg

    def make_net():  # after the list, the labels and the predictions have been checked
        import pycolorize

        select_gpu(args)
        return pycolorize.Net(args.prototxt, phase="test", weights=weights)

    m, images, files = seg.evaluate(args.voc, args.list, output, make_net=make_net if args.prototxt else None,
                                    prototxt=args.prototxt, weights=weights,
                                    predictions=args.predictions, output_blob=args.output_blob, resume=args.resume,
                                    progress=not args.quiet)
    print(f"mean IU {100 * m['mean_iu']:.2f} % over {m['classes_in_mean_iu']} classes, pixel accuracy "
          f"{100 * m['pixel_accuracy']:.2f} %, mean accuracy {100 * m['mean_accuracy']:.2f} %, "
          f"frequency-weighted IU {100 * m['frequency_weighted_iu']:.2f} % ({images} images)")
    with open(os.path.join(output, "table.md")) as f:
        print(f.read().rstrip())
    print("wrote " + ", ".join(files))
    return m["mean_iu"]

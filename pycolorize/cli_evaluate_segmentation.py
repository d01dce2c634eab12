"""`pycolorize evaluate-segmentation` (also `python tools/evaluate_segmentation.py`): score a
segmentation net, or predictions made elsewhere, on PASCAL VOC 2012 as FCN does (mean IU), for the
paper's Table 6 (colorization as pretraining)."""
import argparse
import hashlib
import json
import os
import re
import sys

from .cli import EXIT_CODES, CommandError, add_gpu, add_quiet, select_gpu

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

PARTIAL = "partial.npz"


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


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _run_identity(args, list_path, ids):
    """What a partial run must share with the run resuming it."""
    ident = {"list": os.path.abspath(list_path), "ids_sha256": hashlib.sha256("\n".join(ids).encode()).hexdigest(),
             "images": len(ids), "voc": os.path.abspath(args.voc)}
    if args.predictions:
        ident["predictions"] = os.path.abspath(args.predictions)
    else:
        ident.update({"prototxt": os.path.abspath(args.prototxt), "prototxt_sha256": _sha256(args.prototxt),
                      "weights": os.path.abspath(args.weights), "weights_sha256": _sha256(args.weights),
                      "output_blob": args.output_blob})
    return ident


# what differs, as "it is a run over ...": the first differing item of a partial run is named
_WHAT = {"list": "another list", "ids_sha256": "other images listed", "images": "another number of images",
         "voc": "another VOC folder", "predictions": "another prediction folder", "prototxt": "another prototxt",
         "prototxt_sha256": "a prototxt of other contents", "weights": "another weights file",
         "weights_sha256": "weights of other contents", "output_blob": "another output blob"}


def _load_partial(path, ident):
    import numpy as np

    try:
        with np.load(path) as z:
            hist, done, old = z["hist"].copy(), [str(s) for s in z["done"]], json.loads(str(z["identity"]))
    except (OSError, ValueError, KeyError) as e:
        raise CommandError(f"{path}: not a partial run of this tool ({' '.join(str(e).split())}); move it away") from None
    if ("predictions" in old) != ("predictions" in ident):
        kinds = ("predictions from " + str(old.get("predictions")) if "predictions" in old else f"the net {old.get('prototxt')}",
                 "predictions" if "predictions" in ident else "a net")
        raise CommandError(f"refusing to resume {path}: it scored {kinds[0]}, this run {kinds[1]}; "
                           "write to another folder or remove it")
    keys = [k for k in _WHAT if old.get(k) != ident.get(k)]
    if keys:
        k = keys[0]
        mine, theirs = ident.get(k), old.get(k)
        if k.endswith("_sha256"):
            mine, theirs = f"sha256 {str(mine)[:12]}...", f"sha256 {str(theirs)[:12]}..."
        raise CommandError(f"refusing to resume {path}: it is a run over {_WHAT[k]} (it has {theirs}, this run "
                           f"{mine}; differing: {', '.join(_WHAT[x] for x in keys)}); write to another folder or "
                           "remove it")
    return hist, done


def _save_partial(path, hist, done, ident):
    """partial.npz, atomically: a temporary file beside it renamed into place."""
    import numpy as np

    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        np.savez(f, hist=hist, done=np.array(done, dtype=str), identity=np.array(json.dumps(ident)))
    os.replace(tmp, path)


def _csv_number(v):
    import math

    return "" if isinstance(v, float) and not math.isfinite(v) else v


def _write_results(out, m, images, scored, input_kind):
    import csv
    import math

    from . import segmentation as seg

    def num(v):
        return float(v) if math.isfinite(v) else None

    summary = {"mean_iu": num(m["mean_iu"]), "pixel_accuracy": num(m["pixel_accuracy"]),
               "mean_accuracy": num(m["mean_accuracy"]), "frequency_weighted_iu": num(m["frequency_weighted_iu"]),
               "per_class_iu": {c: num(v) for c, v in zip(seg.CLASSES, m["iu"])},
               "classes_in_mean_iu": m["classes_in_mean_iu"],
               "mean_iu_convention": "FCN score.py: nanmean over classes; a class absent from both ground truth "
                                     "and predictions is left out",
               "images": images, "scored": scored}
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    with open(os.path.join(out, "per_class.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["class", "iu", "accuracy", "gt_pixels", "predicted_pixels"])
        for i, c in enumerate(seg.CLASSES):
            w.writerow([c] + [_csv_number(round(float(m[k][i]), 6)) for k in ("iu", "accuracy")]
                       + [int(m["gt_pixels"][i]), int(m["predicted_pixels"][i])])
    table = seg.format_table(m, input_kind=input_kind)
    where = f"{scored['list']}, {images} images"
    with open(os.path.join(out, "table.md"), "w") as f:
        f.write(f"VOC 2012 segmentation ({where}); IU in %, mean IU over the {m['classes_in_mean_iu']} classes "
                "present in the ground truth or the predictions (FCN's score.py).\n\n" + table + "\n")
    return summary


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
    if args.weights and len(args.weights) > 1:
        return select_snapshot(args)
    args.weights = args.weights[0] if args.weights else None
    return evaluate(args)


def select_snapshot(args):
    """Cross-validated early stopping (the paper's one adjustment for Table 6): score each of
    args.weights on the list (held-out training images, not val) and keep the best by mean IU."""
    import shutil

    if len({_name(w) for w in args.weights}) < len(args.weights):
        raise CommandError("two --weights files have one name; their results would share a folder")
    # in iteration order (a shell's glob puts iter_10000 before iter_2000)
    args.weights = sorted(args.weights, key=lambda w: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", w)])
    out, results = args.output, {}
    for weights in args.weights:
        one = argparse.Namespace(**{**vars(args), "weights": weights, "output": os.path.join(out, _name(weights))})
        evaluate(one)
        with open(os.path.join(one.output, "summary.json")) as f:
            results[weights] = json.load(f)["mean_iu"]
    scored = {w: v for w, v in results.items() if v is not None}
    if not scored:
        raise CommandError("no snapshot has a mean IU (nothing to compare)")
    best = max(scored, key=lambda w: (scored[w], -args.weights.index(w)))  # a tie: the earlier snapshot
    shutil.copyfile(best, os.path.join(out, "best.caffemodel.h5.tmp"))
    os.replace(os.path.join(out, "best.caffemodel.h5.tmp"), os.path.join(out, "best.caffemodel.h5"))
    with open(os.path.join(out, "selection.json"), "w") as f:
        json.dump({"best": best, "mean_iu": results, "list": args.list,
                   "rule": "the highest mean IU on the list; a tie goes to the earlier snapshot"}, f, indent=2)
    print(f"best: {best} (mean IU {100 * scored[best]:.2f} % on {args.list}), kept as "
          f"{os.path.join(out, 'best.caffemodel.h5')}; all in {os.path.join(out, 'selection.json')}")
    return 0


def _name(path):
    from .weights import weights_stem

    return os.path.basename(weights_stem(path))


def evaluate(args):
    from . import segmentation as seg

    if args.predictions and not os.path.isdir(args.predictions):
        raise CommandError(f"{args.predictions}: no such folder of predictions")

    list_path = seg.resolve_list(args.voc, args.list)
    pairs = seg.voc_pairs(args.voc, list_path)
    seg.check_labels(pairs, list_path)
    if args.predictions:
        missing = [os.path.join(args.predictions, i + ".png") for i, _, _ in pairs
                   if not os.path.isfile(os.path.join(args.predictions, i + ".png"))]
        if missing:
            raise CommandError(f"{args.predictions}: {len(missing)} of {len(pairs)} predictions are missing, e.g. "
                               + ", ".join(missing[:3]) + (", ..." if len(missing) > 3 else ""))

    ids = [p[0] for p in pairs]
    ident = _run_identity(args, list_path, ids)
    os.makedirs(args.output, exist_ok=True)
    partial = os.path.join(args.output, PARTIAL)
    cm = seg.ConfusionMatrix()
    done = []
    if os.path.exists(partial):
        if not args.resume:
            raise CommandError(f"{partial} holds an earlier run; add --resume to continue it, or write to another folder")
        cm.hist[...], done = _load_partial(partial, ident)
        if not set(done) <= set(ids):
            raise CommandError(f"refusing to resume {partial}: it holds images the list does not")
        print(f"resuming: {len(done)} of {len(ids)} image(s) already scored in {partial}", file=sys.stderr)
    elif args.resume:
        print(f"nothing to resume in {args.output} (no {PARTIAL}): starting from the first image", file=sys.stderr)

    net, input_kind = None, "-"
    if args.prototxt:
        import pycolorize

        select_gpu(args)
        net = pycolorize.Net(args.prototxt, phase="test", weights=args.weights)
        if "data" not in net.blobs or len(net.blobs["data"].shape) != 4 or net.blobs["data"].shape[1] not in (1, 3):
            raise CommandError(f"{args.prototxt}: the net needs an Input blob \"data\" of shape (1, C, H, W) with C 1 "
                               f"(gray) or 3 (RGB); inputs: {', '.join(net.inputs) or 'none'}")
        if args.output_blob not in net.blobs:
            raise CommandError(f"{args.prototxt}: no blob {args.output_blob!r} (outputs: {', '.join(net.outputs)}); "
                               "name the class scores with --output-blob")
        input_kind = "gray" if net.blobs["data"].shape[1] == 1 else "RGB"
        pred_dir = os.path.join(args.output, "predictions")
        os.makedirs(pred_dir, exist_ok=True)

    finished = set(done)
    todo = [p for p in pairs if p[0] not in finished]
    bar = None
    if not args.quiet:
        from .progress import progress

        bar = progress(total=len(pairs), initial=len(done), unit="img", desc="evaluate-segmentation")
    try:
        for image_id, image_path, label_path in todo:
            rgb, label = seg.read_pair(image_path, label_path)
            if net is not None:
                pred = seg.predict(net, rgb, args.output_blob)
                seg.save_prediction(os.path.join(pred_dir, image_id + ".png"), pred)
            else:
                pred_path = os.path.join(args.predictions, image_id + ".png")
                pred = seg.read_prediction(pred_path)
                if pred.shape != label.shape:
                    raise CommandError(f"{pred_path}: the prediction is {pred.shape[1]}x{pred.shape[0]} (width x height) "
                                       f"but the label {label_path} is {label.shape[1]}x{label.shape[0]}")
            cm.add(pred, label)
            done.append(image_id)
            _save_partial(partial, cm.hist, done, ident)
            if bar is not None:
                bar.update(1, mIU=f"{cm.metrics()['mean_iu']:.3f}")
    except KeyboardInterrupt:
        print(f"{len(done)} of {len(pairs)} image(s) scored and kept in {partial}; the same command with --resume "
              "continues", file=sys.stderr)
        raise
    finally:
        if bar is not None:
            bar.close()

    scored = {"voc": os.path.abspath(args.voc), "list": list_path}
    if net is not None:
        scored.update({"prototxt": args.prototxt, "weights": args.weights, "output_blob": args.output_blob,
                       "input": input_kind + " in [0, 1], padded with the ImageNet mean to a multiple of 32"})
    else:
        scored["predictions"] = args.predictions
    m = cm.metrics()
    _write_results(args.output, m, len(done), scored, input_kind)
    print(f"mean IU {100 * m['mean_iu']:.2f} % over {m['classes_in_mean_iu']} classes, pixel accuracy "
          f"{100 * m['pixel_accuracy']:.2f} %, mean accuracy {100 * m['mean_accuracy']:.2f} %, "
          f"frequency-weighted IU {100 * m['frequency_weighted_iu']:.2f} % ({len(done)} images)")
    with open(os.path.join(args.output, "table.md")) as f:
        print(f.read().rstrip())
    print("wrote " + ", ".join(os.path.join(args.output, n) for n in ("summary.json", "per_class.csv", "table.md"))
          + (f", {os.path.join(args.output, 'predictions')}/" if net is not None else ""))
    return 0

"""Semantic segmentation scored as FCN scores it (Long et al., score.py), for the paper's test of
colorization as pretraining (Sec. 5, Table 6): a net's prediction for one image, one confusion matrix
summed over every pixel of every image, then pixel accuracy, mean accuracy, per-class IU, mean IU and
frequency-weighted IU from it (ConfusionMatrix.metrics), and prediction files (palette PNGs).

    cm = ConfusionMatrix()
    for image_id, image_path, label_path in voc.voc_pairs(root, "ImageSets/Segmentation/val.txt"):
        rgb, label = voc.read_pair(image_path, label_path)
        cm.add(predict(net, rgb), label)
    cm.metrics()["mean_iu"]

The dataset's layout, labels and training examples are pycolorize.data.voc's; pixels labelled
IGNORE (255) are not scored. A test image is padded right and below with the ImageNet mean up to a
multiple of the trunk's stride 32 (net_input), and the prediction is cropped back.
"""
import csv
import hashlib
import json
import math
import os
import re
import shutil
import sys

import numpy as np
from PIL import Image

from pycolorize.colorization import color
from pycolorize.data.voc import (CLASSES, IGNORE, N_CLASSES, PALETTE, STRIDE, allowed_values, pad_to, read_indices, size_text,
                                 value_counts)
from pycolorize.util.files import atomic_open, atomic_path

# ---- the net at test time --------------------------------------------------------------------

def net_input(rgb, channels=1, multiple=STRIDE):
    """A test image as the deploy net's input (1, C, H', W'): gray (C = 1) or RGB (C = 3) in
    [0, 1], padded right and below with the mean up to sides that are multiples of `multiple`."""
    if channels not in (1, 3):
        raise ValueError(f"the net's input has {channels} channels; 1 (gray) or 3 (RGB) are supported")
    h, w = rgb.shape[:2]
    H, W = -(-h // multiple) * multiple, -(-w // multiple) * multiple
    padded, _ = pad_to(np.asarray(rgb, np.float64), None, H, W)
    data = color.gray(padded)[None] if channels == 1 else padded.transpose(2, 0, 1)
    return np.ascontiguousarray(data[None], np.float32)


def predict(net, rgb, output_blob="score", input_blob="data", n_classes=N_CLASSES):
    """The class of every pixel of `rgb` (H, W) uint8: the net reshaped to the padded image
    (net_input), forwarded, its `output_blob` (1, n_classes, H', W') cropped to the image and
    argmaxed over the classes. An output of another shape, or one that is not finite, is an error."""
    blobs = net.blobs
    if input_blob not in blobs:
        raise ValueError(f"the net has no input blob {input_blob!r} (inputs: {', '.join(net.inputs) or 'none'})")
    if output_blob not in blobs:
        raise ValueError(f"the net has no blob {output_blob!r} (outputs: {', '.join(net.outputs) or 'none'})")
    shape = tuple(blobs[input_blob].shape)
    if len(shape) != 4:
        raise ValueError(f"the net's input blob {input_blob!r} has shape {shape}; expected (1, C, H, W)")
    x = net_input(rgb, shape[1])
    score = net.forward(blobs=[output_blob], **{input_blob: x})[output_blob]
    want = (1, n_classes) + x.shape[2:]
    if tuple(score.shape) != want:
        raise ValueError(f"the net's {output_blob!r} is {tuple(score.shape)} for a {x.shape} input; expected {want}: "
                         f"{n_classes} class scores at the input's resolution")
    h, w = rgb.shape[:2]
    score = score[0, :, :h, :w]
    if not np.isfinite(score).all():
        raise ValueError(f"the net's {output_blob!r} holds NaN or infinite scores")
    return score.argmax(axis=0).astype(np.uint8)


# ---- scoring ---------------------------------------------------------------------------------

class ConfusionMatrix:
    """Pixel counts hist[ground truth, prediction] over n_classes, summed over images; pixels whose
    label is `ignore` are not counted.

    metrics() computes FCN's scores (Long et al., score.py) from the summed matrix:
      pixel accuracy        diag.sum() / hist.sum()
      mean accuracy         nanmean(diag / hist.sum(1))
      per-class IU          diag / (hist.sum(1) + hist.sum(0) - diag)
      mean IU               nanmean(IU)
      frequency-weighted IU sum over classes with ground truth of (hist.sum(1) / hist.sum()) * IU
    The means are NaN-skipping: a class absent from both the ground truth and the predictions has
    IU 0/0 and is left out of the mean IU (a class predicted but absent from the ground truth has
    IU 0 and counts), and a class absent from the ground truth is left out of the mean accuracy.
    On the full VOC 2012 val set every class is present, so this is the VOC devkit's mean over all
    21 classes; on a subset it averages over fewer classes (metrics() says how many)."""

    def __init__(self, n_classes=N_CLASSES, ignore=IGNORE):
        self.n, self.ignore = int(n_classes), ignore
        self.hist = np.zeros((self.n, self.n), np.int64)

    def counts(self, pred, label):
        """The confusion counts of one image (not added)."""
        pred, label = np.asarray(pred), np.asarray(label)
        if pred.shape != label.shape:
            raise ValueError(f"the prediction is {size_text(pred.shape)} (width x height) but the label is "
                             f"{size_text(label.shape)}")
        keep = label != self.ignore if self.ignore is not None else np.ones(label.shape, bool)
        lab, prd = label[keep].astype(np.int64), pred[keep].astype(np.int64)
        bad = (lab < 0) | (lab >= self.n)
        if bad.any():
            raise ValueError(f"label values outside 0..{self.n - 1} and {self.ignore}: "
                             f"{sorted(set(lab[bad].tolist()))[:10]}")
        bad = (prd < 0) | (prd >= self.n)
        if bad.any():
            raise ValueError(f"predicted values outside 0..{self.n - 1}: {sorted(set(prd[bad].tolist()))[:10]}")
        return np.bincount(self.n * lab + prd, minlength=self.n ** 2).reshape(self.n, self.n)

    def add(self, pred, label):
        """Add one image's prediction and label (same shape); returns that image's counts."""
        c = self.counts(pred, label)
        self.hist += c
        return c

    def metrics(self):
        """{"pixel_accuracy", "mean_accuracy", "mean_iu", "frequency_weighted_iu", "iu" (per class,
        NaN where 0/0), "accuracy" (per class), "gt_pixels", "predicted_pixels", "classes_in_mean_iu"}."""
        hist = self.hist.astype(np.float64)
        total = hist.sum()
        if total == 0:
            raise ValueError("no pixel was scored (every label pixel is ignored, or nothing was added)")
        diag, gt, pred = np.diag(hist), hist.sum(1), hist.sum(0)
        with np.errstate(divide="ignore", invalid="ignore"):
            acc = diag / gt
            iu = diag / (gt + pred - diag)
        freq = gt / total
        return {"pixel_accuracy": float(diag.sum() / total), "mean_accuracy": float(np.nanmean(acc)),
                "mean_iu": float(np.nanmean(iu)), "frequency_weighted_iu": float((freq[freq > 0] * iu[freq > 0]).sum()),
                "iu": iu, "accuracy": acc, "gt_pixels": self.hist.sum(1), "predicted_pixels": self.hist.sum(0),
                "classes_in_mean_iu": int(np.isfinite(iu).sum())}


# ---- prediction files ------------------------------------------------------------------------

def save_prediction(path, pred):
    """Write an (H, W) class map as a palette PNG in the VOC colours, atomically (a temporary file
    beside it renamed into place)."""
    pred = np.asarray(pred)
    if pred.ndim != 2 or pred.size and (pred.min() < 0 or pred.max() > 255):
        raise ValueError(f"{path}: a prediction must be an (H, W) array of class indices; got shape {pred.shape}")
    im = Image.fromarray(pred.astype(np.uint8), mode="P")
    im.putpalette(PALETTE.tobytes())
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    with atomic_open(path, "wb") as f:
        im.save(f, format="PNG")


def read_prediction(path, n_classes=N_CLASSES):
    """A prediction PNG (palette or 8-bit gray) as an (H, W) uint8 class map; values other than
    0..n_classes-1 (255 too: a prediction has no void) are a ValueError naming the file and values."""
    a, bad = read_indices(path, "prediction", allowed_values(n_classes, None))
    if bad is not None:
        raise ValueError(f"{path}: predicted values outside 0..{n_classes - 1}: {value_counts(a, bad)}")
    return a


def format_table(metrics, method="pycolorize (this run)", input_kind="gray", classes=CLASSES):
    """A markdown table in the layout of the paper's Table 6 (one row a method, its mean IU in %),
    with the per-class IU (%) after it; a class absent from both ground truth and predictions: -."""
    def pct(v):
        return "-" if not np.isfinite(v) else f"{100 * v:.1f}"

    head = ["Method", "Input", "mIU (%)"] + list(classes)
    row = [method, input_kind, pct(metrics["mean_iu"])] + [pct(v) for v in metrics["iu"]]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---", "---"] + ["---:"] * (len(head) - 2)) + "|",
             "| " + " | ".join(row) + " |"]
    return "\n".join(lines)


# ---- scoring a list: partial runs, results, snapshot selection ---------------------------------

PARTIAL = "partial.npz"  # a run's confusion counts and the images done, rewritten after every image


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def run_identity(voc_root, list_path, ids, prototxt=None, weights=None, predictions=None, output_blob="score"):
    """What a partial run must share with the run resuming it."""
    ident = {"list": os.path.abspath(list_path), "ids_sha256": hashlib.sha256("\n".join(ids).encode()).hexdigest(),
             "images": len(ids), "voc": os.path.abspath(voc_root)}
    if predictions:
        ident["predictions"] = os.path.abspath(predictions)
    else:
        ident.update({"prototxt": os.path.abspath(prototxt), "prototxt_sha256": _sha256(prototxt),
                      "weights": os.path.abspath(weights), "weights_sha256": _sha256(weights),
                      "output_blob": output_blob})
    return ident


# what differs, as "it is a run over ...": the first differing item of a partial run is named
_WHAT = {"list": "another list", "ids_sha256": "other images listed", "images": "another number of images",
         "voc": "another VOC folder", "predictions": "another prediction folder", "prototxt": "another prototxt",
         "prototxt_sha256": "a prototxt of other contents", "weights": "another weights file",
         "weights_sha256": "weights of other contents", "output_blob": "another output blob"}


def load_partial(path, ident):
    """(confusion counts, image ids done) of a partial run; an error saying what differs when it is
    not a run of `ident`."""
    try:
        with np.load(path) as z:
            hist, done, old = z["hist"].copy(), [str(s) for s in z["done"]], json.loads(str(z["identity"]))
    except (OSError, ValueError, KeyError) as e:
        raise ValueError(f"{path}: not a partial run of this tool ({' '.join(str(e).split())}); move it away") from None
    if ("predictions" in old) != ("predictions" in ident):
        kinds = ("predictions from " + str(old.get("predictions")) if "predictions" in old else f"the net {old.get('prototxt')}",
                 "predictions" if "predictions" in ident else "a net")
        raise ValueError(f"refusing to resume {path}: it scored {kinds[0]}, this run {kinds[1]}; "
                         "write to another folder or remove it")
    keys = [k for k in _WHAT if old.get(k) != ident.get(k)]
    if keys:
        k = keys[0]
        mine, theirs = ident.get(k), old.get(k)
        if k.endswith("_sha256"):
            mine, theirs = f"sha256 {str(mine)[:12]}...", f"sha256 {str(theirs)[:12]}..."
        raise ValueError(f"refusing to resume {path}: it is a run over {_WHAT[k]} (it has {theirs}, this run "
                         f"{mine}; differing: {', '.join(_WHAT[x] for x in keys)}); write to another folder or "
                         "remove it")
    return hist, done


def save_partial(path, hist, done, ident):
    with atomic_open(path, "wb") as f:
        np.savez(f, hist=hist, done=np.array(done, dtype=str), identity=np.array(json.dumps(ident)))


def _csv_number(v):
    return "" if isinstance(v, float) and not math.isfinite(v) else v


def write_results(out, m, images, scored, input_kind):
    """summary.json, per_class.csv and table.md of metrics `m` in folder `out`; the summary."""
    def num(v):
        return float(v) if math.isfinite(v) else None

    summary = {"mean_iu": num(m["mean_iu"]), "pixel_accuracy": num(m["pixel_accuracy"]),
               "mean_accuracy": num(m["mean_accuracy"]), "frequency_weighted_iu": num(m["frequency_weighted_iu"]),
               "per_class_iu": {c: num(v) for c, v in zip(CLASSES, m["iu"])},
               "classes_in_mean_iu": m["classes_in_mean_iu"],
               "mean_iu_convention": "FCN score.py: nanmean over classes; a class absent from both ground truth "
                                     "and predictions is left out",
               "images": images, "scored": scored}
    with atomic_open(os.path.join(out, "summary.json")) as f:
        json.dump(summary, f, indent=2)
    with atomic_open(os.path.join(out, "per_class.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["class", "iu", "accuracy", "gt_pixels", "predicted_pixels"])
        for i, c in enumerate(CLASSES):
            w.writerow([c] + [_csv_number(round(float(m[k][i]), 6)) for k in ("iu", "accuracy")]
                       + [int(m["gt_pixels"][i]), int(m["predicted_pixels"][i])])
    table = format_table(m, input_kind=input_kind)
    where = f"{scored['list']}, {images} images"
    with atomic_open(os.path.join(out, "table.md")) as f:
        f.write(f"VOC 2012 segmentation ({where}); IU in %, mean IU over the {m['classes_in_mean_iu']} classes "
                "present in the ground truth or the predictions (FCN's score.py).\n\n" + table + "\n")
    return summary


def evaluate(voc_root, list_file, output, net=None, prototxt=None, weights=None, predictions=None,
             output_blob="score", resume=False, progress=True, log=None, make_net=None):
    """Score a net (`net`, built from `prototxt` and `weights`) or a folder of `predictions` on the
    VOC list into folder `output` (summary.json, per_class.csv, table.md, with a net also
    predictions/<id>.png), as FCN scores; PARTIAL is kept after every image, and `resume` continues
    it. `make_net()`, instead of `net`, builds the net once the list and its files have been checked
    (so that a malformed VOC folder is found before a net is loaded). (metrics, images scored, the
    files written)."""
    from pycolorize.data import voc

    log = sys.stderr if log is None else log
    if predictions and not os.path.isdir(predictions):
        raise ValueError(f"{predictions}: no such folder of predictions")
    list_path = voc.resolve_list(voc_root, list_file)
    pairs = voc.voc_pairs(voc_root, list_path)
    voc.check_labels(pairs, list_path)
    if predictions:
        missing = [os.path.join(predictions, i + ".png") for i, _, _ in pairs
                   if not os.path.isfile(os.path.join(predictions, i + ".png"))]
        if missing:
            raise ValueError(f"{predictions}: {len(missing)} of {len(pairs)} predictions are missing, e.g. "
                             + ", ".join(missing[:3]) + (", ..." if len(missing) > 3 else ""))
    ids = [p[0] for p in pairs]
    ident = run_identity(voc_root, list_path, ids, prototxt, weights, predictions, output_blob)
    os.makedirs(output, exist_ok=True)
    partial = os.path.join(output, PARTIAL)
    cm = ConfusionMatrix()
    done = []
    if os.path.exists(partial):
        if not resume:
            raise ValueError(f"{partial} holds an earlier run; add --resume to continue it, or write to another folder")
        cm.hist[...], done = load_partial(partial, ident)
        if not set(done) <= set(ids):
            raise ValueError(f"refusing to resume {partial}: it holds images the list does not")
        print(f"resuming: {len(done)} of {len(ids)} image(s) already scored in {partial}", file=log)
    elif resume:
        print(f"nothing to resume in {output} (no {PARTIAL}): starting from the first image", file=log)
    input_kind = "-"
    if make_net is not None:
        net = make_net()
    if net is not None:
        if "data" not in net.blobs or len(net.blobs["data"].shape) != 4 or net.blobs["data"].shape[1] not in (1, 3):
            raise ValueError(f"{prototxt}: the net needs an Input blob \"data\" of shape (1, C, H, W) with C 1 "
                             f"(gray) or 3 (RGB); inputs: {', '.join(net.inputs) or 'none'}")
        if output_blob not in net.blobs:
            raise ValueError(f"{prototxt}: no blob {output_blob!r} (outputs: {', '.join(net.outputs)}); "
                             "name the class scores with --output-blob")
        input_kind = "gray" if net.blobs["data"].shape[1] == 1 else "RGB"

    pred_dir = os.path.join(output, "predictions")
    if net is not None:
        os.makedirs(pred_dir, exist_ok=True)

    finished = set(done)
    todo = [p for p in pairs if p[0] not in finished]
    bar = None
    if progress:
        from pycolorize.util.progress import progress as progress_display

        bar = progress_display(total=len(pairs), initial=len(done), unit="img", desc="evaluate-segmentation")
    try:
        for image_id, image_path, label_path in todo:
            rgb, label = voc.read_pair(image_path, label_path)
            if net is not None:
                pred = predict(net, rgb, output_blob)
                save_prediction(os.path.join(pred_dir, image_id + ".png"), pred)
            else:
                pred_path = os.path.join(predictions, image_id + ".png")
                pred = read_prediction(pred_path)
                if pred.shape != label.shape:
                    raise ValueError(f"{pred_path}: the prediction is {pred.shape[1]}x{pred.shape[0]} (width x height) "
                                     f"but the label {label_path} is {label.shape[1]}x{label.shape[0]}")
            cm.add(pred, label)
            done.append(image_id)
            save_partial(partial, cm.hist, done, ident)
            if bar is not None:
                bar.update(1, mIU=f"{cm.metrics()['mean_iu']:.3f}")
    except KeyboardInterrupt:
        print(f"{len(done)} of {len(pairs)} image(s) scored and kept in {partial}; the same command with --resume "
              "continues", file=log)
        raise
    finally:
        if bar is not None:
            bar.close()

    scored = {"voc": os.path.abspath(voc_root), "list": list_path}
    if net is not None:
        scored.update({"prototxt": prototxt, "weights": weights, "output_blob": output_blob,
                       "input": input_kind + " in [0, 1], padded with the ImageNet mean to a multiple of 32"})
    else:
        scored["predictions"] = predictions
    m = cm.metrics()
    write_results(output, m, len(done), scored, input_kind)
    files = [os.path.join(output, n) for n in ("summary.json", "per_class.csv", "table.md")]
    return m, len(done), files + ([pred_dir + "/"] if net is not None else [])


def snapshot_name(path):
    from pycolorize.engine.weights import weights_stem

    return os.path.basename(weights_stem(path))


def select_snapshot(weights, score, output, list_name):
    """Cross-validated early stopping (the paper's one adjustment for Table 6): `score(w, folder)`
    scores each snapshot of `weights` into output/<its name>/ and gives its mean IU (None: none);
    the best is copied to output/best.caffemodel.h5 (a tie goes to the earlier snapshot) and every
    score written to output/selection.json. (best, its mean IU, selection.json's path)."""
    if len({snapshot_name(w) for w in weights}) < len(weights):
        raise ValueError("two --weights files have one name; their results would share a folder")
    # in iteration order (a shell's glob puts iter_10000 before iter_2000)
    weights = sorted(weights, key=lambda w: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", w)])
    results = {w: score(w, os.path.join(output, snapshot_name(w))) for w in weights}
    results = {w: (None if v is None or not math.isfinite(v) else float(v)) for w, v in results.items()}
    scored = {w: v for w, v in results.items() if v is not None}
    if not scored:
        raise ValueError("no snapshot has a mean IU (nothing to compare)")
    best = max(scored, key=lambda w: (scored[w], -weights.index(w)))
    with atomic_path(os.path.join(output, "best.caffemodel.h5")) as tmp:
        shutil.copyfile(best, tmp)
    selection = os.path.join(output, "selection.json")
    with atomic_open(selection) as f:
        json.dump({"best": best, "mean_iu": results, "list": list_name,
                   "rule": "the highest mean IU on the list; a tie goes to the earlier snapshot"}, f, indent=2)
    return best, scored[best], selection

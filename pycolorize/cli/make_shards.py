"""`pycolorize make-shards` (also `python tools/make_shards.py`): pack a folder or an image list into tar
shards of the WebDataset layout, for the training source `{type: tar, path: ...}`."""
import os
import re
import sys

from pycolorize.cli import EXIT_CODES, CommandError, add_quiet

SUMMARY = "pack a folder or an image list into tar shards (WebDataset layout) for training"

DESCRIPTION = """\
Write the images of a folder (every image file under it, the training folder rule) or of a Caffe
image list (one path a line, an optional integer label) into tar shards of --shard-size images
each, named by the -o pattern's number field (train-%04d.tar: train-0000.tar, train-0001.tar, ...).
Training then reads the shards from the first byte to the last, which a cluster's file system or
an HTTP server serves far better than a million small files:

  source: {type: tar, path: "shards/train-{0000..0146}.tar"}

Each image is one sample: KEY.jpg (or .png, .webp: the file's own bytes, not re-encoded; other
formats become lossless PNG) and, for a list line with a label, KEY.cls (the label as text). KEY
is the image's path under the folder (or as listed) without its extension. The images are written
in an order shuffled by --seed (training reads shards in a new order each epoch and shuffles
within blocks of each shard; this mixes the whole set once). A file that cannot be read is left
out and named; with --verify, so is one that does not decode as an image."""

EPILOG = f"""\
examples:
  pycolorize make-shards /data/imagenet/train -o /data/shards/train-%04d.tar
  pycolorize make-shards train.txt --root /data/imagenet -o shards/train-%05d.tar --shard-size 2000
  pycolorize make-shards photos/ -o shards/photos-%03d.tar --shard-size 100 --verify
then in the data config: source: {{type: tar, path: "shards/train-{{0000..0146}}.tar"}}

{EXIT_CODES}"""


def add_arguments(ap):
    ap.add_argument("images", help="a folder of images, or an image list file (Caffe's format)")
    ap.add_argument("-o", "--output", required=True, metavar="PATTERN",
                    help="the shards' names, with one number field: shards/train-%%04d.tar")
    ap.add_argument("--shard-size", type=int, default=1000, metavar="N", help="images per shard")
    ap.add_argument("--root", help="with a list: the folder its paths are under (as `source: {type: list, root: ...}`)")
    ap.add_argument("--seed", type=int, default=0, help="the order of the images across the shards")
    ap.add_argument("--no-shuffle", action="store_true", help="keep the folder's (or list's) order")
    ap.add_argument("--verify", action="store_true", help="decode every image first; leave out those that do not decode")
    add_quiet(ap, "print nothing but errors and the images left out")


def brace_pattern(pattern, count):
    """The data config's name for shards pattern % 0 .. pattern % (count - 1): train-{0000..0146}.tar."""
    m = re.search(r"%(0?)(\d*)d", pattern)
    if not m or count < 1:
        return pattern
    width = int(m.group(2) or 0) if m.group(1) else 0
    first, last = f"{0:0{width}d}", f"{count - 1:0{width}d}"
    field = first if count == 1 else f"{{{first}..{last}}}"
    return pattern[:m.start()] + field + pattern[m.end():]


def images_of(path, root=None):
    """(name, file, label or None) of each image of a folder or a list file."""
    from pycolorize.data.images import find_images, read_list

    if os.path.isdir(path):
        return [(os.path.relpath(p, path), p, None) for p in find_images(path)]
    if not os.path.isfile(path):
        raise CommandError(f"{path}: no such folder or list file")
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        lines = f.read().splitlines()
    out = []
    for e in read_list(path, root):
        label = lines[e.line - 1].strip()[len(e.listed):].strip() or None
        out.append((e.listed.lstrip("/"), e.path, label))
    return out


def run(args):
    from pycolorize.data.shards import write_shards

    if args.shard_size < 1:
        args._parser.error(f"--shard-size must be at least 1, got {args.shard_size}")
    if not re.search(r"%0?\d*d", args.output):
        args._parser.error(f"-o {args.output}: the pattern needs a number field such as %04d (train-%04d.tar)")
    images = images_of(args.images, args.root)
    paths, written, left_out = write_shards(images, args.output, shard_size=args.shard_size, seed=args.seed,
                                            shuffle=not args.no_shuffle, verify=args.verify, log=sys.stderr)
    if not written:
        raise CommandError(f"{args.images}: no image could be read; no shard written")
    if not args.quiet:
        labels = sum(1 for _, _, label in images if label is not None)
        print(f"wrote {written} image{'s' if written != 1 else ''} in {len(paths)} shard{'s' if len(paths) != 1 else ''}"
              + (f" ({labels} with a .cls label)" if labels else "") + (f"; left out {len(left_out)}" if left_out else ""))
        print(f'data config: source: {{type: tar, path: "{brace_pattern(args.output, len(paths))}"}}')
    return 0

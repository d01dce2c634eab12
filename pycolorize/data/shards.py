"""Tar shards in the WebDataset layout: training images packed into a few large files that are read
from the first byte to the last (a cluster's file system, or HTTP, serves that far better than
millions of small files), and the writer behind `pycolorize make-shards`.

    source = pycolorize.data.open_source({"type": "tar", "path": "shards/train-{0000..0146}.tar"})
    loader = pycolorize.data.Loader(source, batch=8, crop=256, seed=0)    # as for any source

The layout: a shard is a tar file whose members are grouped into samples by key, the member's
path up to the first dot of its file name (n01440764/n01440764_10026.JPEG: key
n01440764/n01440764_10026, extension jpeg); the members of a sample follow each other. A sample's
image is its member with extension jpg, jpeg, png or webp (or another of images.EXTENSIONS); an
optional key.cls holds a class label (not used by colorization). Compressed shards (.tar.gz) are
read too.

Shard names: a brace pattern (`train-{0000..1023}.tar`, `{a,b}.tar`; several joined by `::`), each
a local path, a file://, http:// or https:// URL (streamed with requests), or `pipe:COMMAND`, whose
standard output is the shard (`pipe:aws s3 cp s3://bucket/train-0001.tar -`).

The stream (TarSource.epoch_items, which the Loader reads): epoch e reads the shards in an order
drawn from (seed, e); rank r of R data-parallel ranks reads the shards at r, r + R, r + 2R, ... of
that order (its own shards: no two ranks read the same file), or, with fewer shards than ranks,
every shard, keeping the blocks of `batch` samples dealt to it as a folder's positions are. Each
shard's samples are shuffled within blocks of `shuffle` consecutive samples (the block held in
memory), by a generator seeded by (seed, e, shard, block); `pycolorize make-shards` shuffles the
images across the shards when it writes them. An example's own random choices (crop, flip, sample
locations) are seeded by (seed, e, shard, its position in the shard), so they do not depend on the
number of ranks or workers.

Positions: a rank's data position is (epoch, index: the samples of its epoch's stream read so far,
shard: the shards it finished, member: the samples of the next shard read so far). Resuming reads
that shard again up to the member (the samples skipped are not decoded); a position without
shard and member (the distributed trainer gathers epoch and index only) is found by counting the
samples of the shards before it.

Damage: a sample without an image, a member that is not a decodable image, a shard that cannot be
opened, a run of unreadable bytes inside a shard (the reader resynchronises at the next valid
header and goes on), a shard cut short (the samples before the cut are used) are each reported
once on the loader's log with the shard's name and skipped, as a bad image in a folder is.
"""
import contextlib
import io
import os
import re
import subprocess
import tarfile
import time
from typing import NamedTuple

import numpy as np

from pycolorize.data import sources
from pycolorize.data.images import EXTENSIONS
from pycolorize.util.files import atomic_path

IMAGE_EXTS = ("jpg", "jpeg", "png", "webp") + tuple(e.lstrip(".") for e in EXTENSIONS
                                                    if e.lstrip(".") not in ("jpg", "jpeg", "png", "webp"))
BLOCK = 512


class Item(NamedTuple):
    """One example to make: `key` seeds its generator, `name` names it in messages, `job` is the
    encoded image (bytes) or a Source index, `after` is the data position once it is used."""
    key: tuple
    name: str
    job: object
    after: dict


class Skip(NamedTuple):
    """A position, or a part of a shard, that gives no example: reported once (by `name`) and passed."""
    name: str
    message: str
    after: dict


class Damage(NamedTuple):
    """A damaged part of a shard: where it starts (a byte offset; None: the whole shard) and what was lost."""
    at: object
    message: str


# ---- names ---------------------------------------------------------------------------------------

def expand(pattern):
    """The shard names of a brace pattern (several joined by `::`), in order."""
    from braceexpand import braceexpand

    names = []
    for part in str(pattern).split("::"):
        if part.strip():
            names += list(braceexpand(part.strip()))
    return names


def is_url(name):
    return bool(re.match(r"^(https?|file)://", name)) or name.startswith("pipe:")


def split_name(path):
    """(key, extension) of a member path by the WebDataset rule; (path, "") without an extension."""
    m = re.match(r"^((?:.*/|)[^./]+)\.([^/]*)$", path)
    return (m.group(1), m.group(2).lower()) if m else (path, "")


# ---- reading one shard ---------------------------------------------------------------------------

class _Tail:
    """A read-only stream that remembers its last bytes (was the end-of-archive marker there?)."""

    def __init__(self, raw, close):
        self.raw, self._close, self.tail, self.total = raw, close, b"", 0

    def read(self, n=-1):
        data = self.raw.read(n)
        self.total += len(data)
        self.tail = (self.tail + data)[-2 * BLOCK:]
        return data

    def close(self):
        return self._close()


def open_stream(name, timeout=60):
    """A shard's bytes as a stream: (readable, close() -> None or a message on failure)."""
    if name.startswith("pipe:"):
        proc = subprocess.Popen(name[5:], shell=True, stdout=subprocess.PIPE)

        def close():
            proc.stdout.close()
            status = proc.wait()
            return f"the command exited with status {status}" if status else None
        return proc.stdout, close
    if name.startswith(("http://", "https://")):
        import requests

        r = requests.get(name, stream=True, timeout=(10, timeout))
        r.raise_for_status()
        r.raw.decode_content = True

        def close():
            r.close()
        return r.raw, close
    path = name[len("file://"):] if name.startswith("file://") else name
    f = open(path, "rb", buffering=1 << 20)

    def close():
        f.close()
    return f, close


def read_shard(name):
    """A shard's samples in order: (key, {extension: bytes}) for each, and a Damage for each damaged
    part; never raises for a damaged or missing shard."""
    try:
        raw, close = open_stream(name)
    except Exception as e:  # missing file, refused connection, HTTP 404, ...
        yield Damage(None, f"cannot be read ({type(e).__name__}: {e})")
        return
    stream = _Tail(raw, close)
    key, members, expected, samples = None, {}, 0, 0
    problem = None
    try:
        # ignore_zeros: past an unreadable header, look for the next valid one block by block
        with tarfile.open(fileobj=stream, mode="r|*", ignore_zeros=True) as tar:
            compressed = getattr(tar.fileobj, "comptype", "tar") != "tar"
            for info in tar:
                if info.offset != expected and not compressed:
                    yield Damage(expected, f"{info.offset - expected} unreadable bytes skipped before member {info.name}")
                expected = info.offset_data + -(-info.size // BLOCK) * BLOCK
                if not info.isfile():
                    continue
                k, ext = split_name(info.name)
                if k != key and key is not None:
                    yield key, members
                    samples += 1
                    members = {}
                key = k
                members[ext] = tar.extractfile(info).read()
            if not compressed:
                stream.read()  # to the end (tarfile stops at the end-of-archive marker)
                if stream.total and stream.tail.strip(b"\0") and len(stream.tail) >= BLOCK:
                    problem = "no end-of-archive marker (the shard is cut short?)"
                elif stream.total % BLOCK:
                    problem = f"{stream.total} bytes, not a whole number of {BLOCK}-byte blocks (cut short?)"
    except Exception as e:  # tarfile.ReadError, EOFError, zlib.error, a network error, ...
        problem = f"{type(e).__name__}: {e}"
    finally:
        failed = stream.close()
    if key is not None and problem is None:
        yield key, members
    elif key is not None:  # the last sample may have lost members to the damage: keep what is whole
        if any(ext in members for ext in IMAGE_EXTS):
            yield key, members
            samples += 1
    if problem or failed:
        yield Damage(expected if not compressed else None, f"damaged after {samples} samples: {problem or failed}")


# ---- the source ----------------------------------------------------------------------------------

class TarSource:
    """Images in tar shards (the module doc): a stream source for the Loader. `shards` lists the
    shard names; `shuffle` is the block of samples shuffled together (0 or 1: the shard's order)."""
    kind = sources.IMAGE
    stream = True  # read in order, each epoch's items given by epoch_items (sources' module doc)

    def __init__(self, pattern, shuffle=256):
        self.pattern = pattern
        self.shards = expand(pattern)
        if not self.shards:
            raise ValueError(f"tar source: no shard names in {pattern!r}")
        missing = [s for s in self.shards if not is_url(s) and not os.path.isfile(s)]
        if missing:
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise FileNotFoundError(f"tar source {pattern}: no such shard: {missing[0]}{more}")
        self.shuffle = max(1, int(shuffle))
        self.held_out, self.file = [], None
        self._counts = {}

    def __repr__(self):
        return f"TarSource({self.pattern!r}: {len(self.shards)} shards)"

    def reopen(self):
        return self

    def order(self, epoch, seed, rank, ranks):
        """(the shards rank `rank` reads in epoch `epoch`, as indices into `shards`; whether the ranks
        share every shard, each keeping its blocks of samples)."""
        order = np.random.default_rng([seed, epoch]).permutation(len(self.shards))
        if len(self.shards) >= ranks:
            return [int(i) for i in order[rank::ranks]], False
        return [int(i) for i in order], True

    def samples(self, shard, epoch, seed):
        """Shard number `shard`'s samples in the epoch's order: (key, members), and Damages."""
        block, n = [], 0
        for got in read_shard(self.shards[shard]):
            if isinstance(got, Damage):
                yield got
                continue
            block.append(got)
            if len(block) == self.shuffle:
                yield from self._shuffled(block, shard, n, epoch, seed)
                block, n = [], n + 1
        yield from self._shuffled(block, shard, n, epoch, seed)

    def _shuffled(self, block, shard, n, epoch, seed):
        if self.shuffle > 1 and len(block) > 1:
            block = [block[i] for i in np.random.default_rng([seed, epoch, shard, n]).permutation(len(block))]
        yield from block

    def count(self, shard):
        """How many samples shard number `shard` gives (read once, then remembered)."""
        if shard not in self._counts:
            self._counts[shard] = sum(1 for got in read_shard(self.shards[shard]) if not isinstance(got, Damage))
        return self._counts[shard]

    def epoch_items(self, epoch, seed, rank=0, ranks=1, batch=1, start=None):
        """The Items (and Skips) of rank `rank`'s stream in epoch `epoch`, from the data position
        `start` (None: the epoch's beginning; see the module doc)."""
        mine, dealt = self.order(epoch, seed, rank, ranks)
        k0, j0, n = 0, 0, 0
        if start:
            n = int(start.get("index", 0))
            if "shard" in start and "member" in start:
                k0, j0 = int(start["shard"]), int(start["member"])
            else:  # find the shard and member of the index by counting
                left = n
                while k0 < len(mine) and left >= self.count(mine[k0]):
                    left -= self.count(mine[k0])
                    k0 += 1
                j0 = left
        for k in range(k0, len(mine)):
            shard, name = mine[k], self.shards[mine[k]]
            j = 0
            for got in self.samples(shard, epoch, seed):
                if isinstance(got, Damage):  # named by where it is: one report for each damaged part
                    where = name if got.at is None else f"{name} at byte {got.at}"
                    yield Skip(where, got.message, {"epoch": epoch, "index": n, "shard": k, "member": j})
                    continue
                j += 1
                if k == k0 and j <= j0:
                    continue
                n += 1
                after = {"epoch": epoch, "index": n, "shard": k, "member": j}
                if dealt and (n - 1) // batch % ranks != rank:
                    continue
                key, members = got
                image = next((ext for ext in IMAGE_EXTS if ext in members), None)
                label = f"{name}:{key}" + (f".{image}" if image else "")
                if image is None:
                    has = ", ".join(f"{key}.{e}" for e in members) or "nothing"
                    yield Skip(label, f"no image member in the sample (it has {has})", after)
                else:
                    yield Item((seed, epoch, shard, j - 1), label, members[image], after)
            if k == k0:
                j0 = 0


# ---- writing shards ------------------------------------------------------------------------------

KEEP = {"jpg": "jpg", "jpeg": "jpg", "png": "png", "webp": "webp"}  # stored as they are; the rest as PNG


def member_key(name, used):
    """A sample key from an image's name relative to its folder: the path without its extension,
    dots in the file name made underscores (a dot ends the key), unique among `used`."""
    base, _ = os.path.splitext(name.replace(os.sep, "/"))
    folder, leaf = os.path.split(base)
    key = "/".join(p for p in (folder, leaf.replace(".", "_") or "_") if p).lstrip("/")
    unique, n = key, 1
    while unique in used:
        n += 1
        unique = f"{key}_{n}"
    used.add(unique)
    return unique


def _add(tar, name, data, mtime):
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), mtime, 0o644
    tar.addfile(info, io.BytesIO(data))


def write_shards(images, pattern, shard_size=1000, seed=0, shuffle=True, verify=False, log=None):
    """Write (name, path, label or None) images into tar shards named pattern % n (a printf pattern
    such as train-%04d.tar), `shard_size` samples each, in an order shuffled by `seed` (or as
    given). JPEG, PNG and WebP files are stored as their bytes; other formats re-encoded as PNG
    (lossless). `verify` decodes each image first and leaves out those that do not decode; an
    unreadable file is left out, reported on `log`. Returns (shard paths, images written, names
    left out)."""
    from pycolorize.data.pixels import decode_bytes

    if shard_size < 1:
        raise ValueError(f"the shard size must be at least 1, got {shard_size}")
    try:
        pattern % 0
    except TypeError:
        raise ValueError(f"the output pattern needs one integer field such as %04d: {pattern!r}") from None
    order = list(range(len(images)))
    if shuffle:
        order = [int(i) for i in np.random.default_rng(seed).permutation(len(images))]
    paths, written, left_out, used = [], 0, [], set()
    mtime = int(time.time())
    # each shard is written through the atomic writer: it appears under its name only once it is
    # whole; an interruption removes the shard under way (a kill -9 leaves only a temporary, which
    # the next write into that folder removes) and keeps the shards finished before it
    with contextlib.ExitStack() as shard:
        tar = None
        for i in order:
            name, path, label = images[i]
            ext = os.path.splitext(path)[1].lower().lstrip(".")
            try:
                with open(path, "rb") as f:
                    data = f.read()
                if verify:
                    decode_bytes(data, path)
                if ext not in KEEP:  # BMP, TIFF, PPM, ...: lossless PNG of what the loader would decode
                    data, ext = _png(data, path), "png"
            except (OSError, ValueError) as e:
                left_out.append(name)
                if log is not None:
                    print(f"left out {name}: {e}", file=log, flush=True)
                continue
            if tar is None or written % shard_size == 0:
                shard.close()  # the finished shard, if any, is closed and takes its name
                paths.append(pattern % len(paths))
                os.makedirs(os.path.dirname(os.path.abspath(paths[-1])), exist_ok=True)
                tar = shard.enter_context(tarfile.open(shard.enter_context(atomic_path(paths[-1])), "w",
                                                       format=tarfile.GNU_FORMAT))
            key = member_key(name, used)
            _add(tar, f"{key}.{KEEP[ext]}", data, mtime)
            if label is not None:
                _add(tar, f"{key}.cls", f"{label}\n".encode(), mtime)
            written += 1
    return paths, written, left_out


def _png(data, path):
    """An image file's bytes as a PNG of its pixels (modes PNG cannot hold made RGB(A), as
    images.decode_image makes them); ValueError naming `path` for one that does not decode."""
    from PIL import Image

    from pycolorize.data.images import DECODE_ERRORS

    out = io.BytesIO()
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.mode not in ("1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"):
                im = im.convert("RGBA" if "A" in im.mode else "RGB")
            im.save(out, format="PNG")
    except DECODE_ERRORS as e:
        raise ValueError(f"{path}: not a readable image ({type(e).__name__}: {e})") from None
    return out.getvalue()


def tar_source(pattern, shuffle=256):
    """Images in tar shards of the WebDataset layout (key.jpg, optional key.cls) named by a brace
    pattern, local or http(s) (TarSource); each epoch reads them in a new order, each shard's samples
    shuffled within blocks of `shuffle` samples."""
    return TarSource(pattern, shuffle=shuffle)


sources.SOURCE_TYPES["tar"] = lambda spec: tar_source(spec["path"], spec.get("shuffle", 256))

"""Training data: the paper's sampling, per-sample targets, background prefetch by worker processes,
over the image sources of pycolorize.data.sources (list, folder, HDF5, tar shards; also importable
from here).

    source = pycolorize.data.open_source({"type": "folder", "path": "photos/"})
    loader = pycolorize.data.Loader(source, batch=8, crop=256, variant="hue_chroma", seed=0)
    for batch in loader:        # dicts of arrays named like the training net's Input blobs
        ...
    loader.close()

Per image (fact sheet 2.1): resize so the short side is at most `short_side` (256, never
upscaling; with resample.resize_for_network, the colorizer's resampler), take a random crop x crop
window and mirror it with probability 1/2, draw `samples` integer pixel locations uniformly inside
a `margin`, and compute at those pixels the targets of the chosen output space (pycolorize.models):
one-hot hue and chroma bins and the chroma (the hue loss weight), one-hot Lab bins, or
(a, b) / 100. The input is gray = mean(R, G, B) in [0, 1], minus `mean_shift` (0 for the
released model).

What an image costs: the uint8 pixels as decoded (pixels.py: simplejpeg or Pillow), the resize
computed for the crop window alone, in float32, from the source pixels under it (the gray first:
the bilinear is linear, so resizing R + G + B is resizing each and summing), and the targets from
the 4 source pixels around each sample in float64. The input is within 1e-6 of the float64 whole-
photo pipeline's, the centroids and targets are its own, bit for bit (tests/test_loader_speed.py).

Every random choice comes from a generator seeded by (seed, epoch, position), so the stream is
the same whatever the number of workers, processes or threads, and `state()` / `restore()` resume
it exactly. Data-parallel training (``shard=(rank, ranks)``, pycolorize.training.distributed): the
stream of positions, epoch after epoch, is cut into blocks of `batch` (each rank's share of the
global batch) dealt to the ranks in turn, so that rank r's batch k holds what one process's global
batch k holds at r * batch .. (r + 1) * batch - 1: the same images, crops and samples (a skipped
image shifts only its own rank's stream). A tar source (shards.py) deals whole shards instead.
An image that cannot be read, or is smaller than the crop, is reported once (with its path) on
stderr and skipped.

The workers (Loader): `workers` processes forked on the first batch (Linux), fed through a queue
with a slot of an anonymous shared-memory map each; they write the example there, and the loader's
thread copies the slots of a batch into its arrays, in stream order. An example maker of the
caller's runs in threads instead (it may keep state in this process), as everything does where
fork is not available.
"""
import atexit
import collections
import concurrent.futures
import mmap
import multiprocessing
import multiprocessing.util  # noqa: F401 (its exit handler registered before ours: see _OPEN)
import os
import pickle
import queue
import signal
import sys
import threading
import time
import traceback
import weakref

import numpy as np

from pycolorize.colorization import color, resample
from pycolorize.data import pixels
from pycolorize.data.shards import Item, Skip
from pycolorize.data.sources import IMAGE, IMAGE_LABEL
from pycolorize.models import spaces


# ---- one training example ------------------------------------------------------------------

def targets(rgb_samples, variant):
    """The per-sample targets of an output space (models.spaces: its heads' target blobs and bins)
    from (P, 3) RGB values."""
    space = spaces.space(variant)
    heads = space.heads
    if space.hue_chroma:  # the hue and chroma bins, and the chroma (the hue loss's weight)
        h, c, _ = color.rgb_to_hcv(rgb_samples)
        return {heads[0].target: color.one_hot(color.uniform_bin(h, heads[0].bins), heads[0].bins),
                heads[1].target: color.one_hot(color.uniform_bin(c, heads[1].bins), heads[1].bins),
                "chroma": c.astype(np.float32)}
    lab = color.rgb_to_lab(rgb_samples)
    if not space.histogram:  # (a, b) / 100, regressed
        return {heads[0].target: (lab[:, 1:] / 100.0).astype(np.float32)}
    if len(heads) == 2:  # the marginals of a and b
        return {h.target: color.one_hot(color.lab_bin(lab[:, i], h.bins), h.bins) for i, h in zip((1, 2), heads)}
    k = int(round(np.sqrt(heads[0].bins)))  # a joint k x k histogram
    return {heads[0].target: color.one_hot(color.lab_joint_bin(lab[:, 1], lab[:, 2], k), heads[0].bins)}


class TooSmall(ValueError):
    pass


def lightness_weight(gray):
    """The from-scratch trainer's per-sample chroma-loss weight (fact sheet 2.2, item 9): min(3L, 1,
    3(1 - L)) of the gray L in [0, 1], the largest chroma possible at that lightness (so very dark and
    very light samples, which can hardly be colourful, count less). Not in the paper's Eq. 3."""
    return np.minimum(np.minimum(3.0 * gray, 1.0), 3.0 * (1.0 - gray)).astype(np.float32)


def resize_for_network(image, height, width):
    """The image as resample.resize_for_network resizes it (the colorizer's resampler: what the net
    sees at test time), as a resample.Resized: computed only where make_example looks."""
    return resample.Resized(image, height, width)


def _channel_sum(region):
    """R + G + B of a region: uint16 for 8-bit values (exact), else float32."""
    s = np.add(region[..., 0], region[..., 1], dtype=np.uint16 if region.dtype == np.uint8 else np.float32)
    s += region[..., 2]
    return s


def make_example(rgb, rng, crop=256, short_side=256, mirror=True, samples=128, margin=16, mean_shift=0.0,
                 variant="hue_chroma", chroma_weight=False, short_side_max=0, exposure=0.0):
    """One image's input, sample locations and targets (and with chroma_weight, the
    lightness_weight of each sample, for scratch_net's chroma loss). The image is shrunk so that its
    short side is at most `short_side`; with `short_side_max`, it is instead resized (up or down) to
    a short side drawn uniformly from short_side .. short_side_max, the released from-scratch
    trainer's scale augmentation (352 .. 599 there). With `exposure`, the window's RGB is multiplied
    by e^u, u uniform in [-exposure, exposure], and clipped to [0, 1]: an exposure change, which
    keeps the hue and saturation of every pixel that does not clip and scales its lightness and
    chroma together (colour-free photometric jitter: a darker sky is still blue). Not in the
    released trainers.

    `rgb` is float RGB in [0, 1] (H, W, 3), or an image array as a decoder gives it (uint8 or
    uint16 gray, gray + alpha, RGB or RGBA: read as color.to_rgb reads it). Only the crop is
    computed: the input from the source pixels under it (resample.resize_window, float32, within
    1e-6 of the gray of the whole float64 resize), the targets from the four source pixels around
    each sample in float64 (resample.resize_points: bit for bit those of the whole float64 resize,
    so every one-hot bin is the same)."""
    img, top = color.colour_channels(rgb)
    h, w = img.shape[:2]
    if short_side_max:
        scale = int(rng.integers(short_side, short_side_max + 1)) / min(h, w)
    else:
        scale = min(1.0, short_side / min(h, w))
    resized = scale != 1.0
    if resized:
        h, w = max(1, int(round(h * scale))), max(1, int(round(w * scale)))
        big = resize_for_network(img, h, w)  # lazy: only the window and the samples are computed
    if min(h, w) < crop:
        raise TooSmall(f"{w}x{h} after resizing, smaller than the {crop}x{crop} crop")
    y0, x0 = rng.integers(0, h - crop + 1), rng.integers(0, w - crop + 1)
    flip = bool(mirror and rng.random() < 0.5)
    pts = rng.integers(margin, crop - margin, size=(samples, 2))
    factor = np.exp(rng.uniform(-exposure, exposure)) if exposure else None  # drawn last
    div = 1.0 if top is None else float(top)
    rgb_channels = img.shape[-1] == 3

    # the input: gray = mean(R, G, B) of the (resized) window, from the source pixels it reads
    def window(prepare, scale_by):
        if resized:
            return big.window(int(y0), int(x0), crop, crop, prepare=prepare, scale=scale_by)
        out = img[y0:y0 + crop, x0:x0 + crop]
        out = prepare(out) if prepare is not None else out
        return np.multiply(out, np.float32(scale_by), dtype=np.float32)
    if factor is None:
        gray = window(_channel_sum if rgb_channels else None, 1.0 / (div * (3 if rgb_channels else 1)))
        if not rgb_channels:
            gray = gray[..., 0]
    else:  # the exposure acts on each channel, and clips: the channels first, then their mean
        win = window(None, 1.0 / div)
        win *= np.float32(factor)
        np.clip(win, 0.0, 1.0, out=win)
        gray = _channel_sum(win) * np.float32(1.0 / 3.0) if rgb_channels else win[..., 0]
    if flip:
        gray = gray[:, ::-1]
    if mean_shift:
        gray = gray - np.float32(mean_shift)
    ex = {"data": np.ascontiguousarray(gray, dtype=np.float32)[None], "centroids": pts.astype(np.float32)}

    # the targets: the samples' RGB in float64, as a float64 resize of the whole image gives them
    ys = pts[:, 0] + y0
    xs = (crop - 1 - pts[:, 1] if flip else pts[:, 1]) + x0
    if resized:
        values = big.points(ys, xs, divide=top)
    else:
        values = img[ys, xs].astype(np.float64)
        if top is not None:
            values /= top
    if not rgb_channels:
        values = np.repeat(values, 3, axis=-1)
    if factor is not None:
        values = np.clip(values * factor, 0.0, 1.0)
    ex.update(targets(values, variant))
    if chroma_weight:
        ex["chroma_weight"] = lightness_weight(color.gray(values))
    return ex


# ---- the loader ----------------------------------------------------------------------------

# Batch entries with one row per image (stacked to (B, ...)); every other entry holds one row per
# sample location and is stacked to (B*P, ...).
PER_IMAGE = ("data", "centroids", "label")

# What an example maker raises for an image to skip: unreadable, corrupt, too small, not an image.
SKIPPED = (OSError, ValueError, SyntaxError)

# PYCOLORIZE_LOADER_WORKERS=threads|processes overrides the Loader's choice (its `processes`).
WORKERS_ENV = "PYCOLORIZE_LOADER_WORKERS"


def _make(source, example, args, fast, key, name, job):
    """One example: the inputs of `job` (a Source index, or the bytes of an encoded image) and a
    generator seeded by `key`, through `example`; `fast`: example takes the decoder's pixels."""
    rng = np.random.default_rng(key)
    if isinstance(job, (bytes, bytearray, memoryview)):
        px = pixels.decode_bytes(bytes(job), name)
        items = (px if fast else color.to_rgb(px),)
    elif source.kind == IMAGE_LABEL:
        items = source.read(job)
    else:
        items = (source.pixels(job) if fast else source.read(job),)
    return example(*items, rng, **args)


def _layout(args):
    """[(name, shape, dtype, offset)] of make_example's arrays for these arguments and the bytes of
    one example (a slot of the shared memory), from one made of a gray square; None if it cannot be."""
    crop = int(args.get("crop", 256))
    side = max(crop, int(args.get("short_side", 256)))
    try:
        ex = make_example(np.zeros((side, side, 3), np.uint8), np.random.default_rng(0), **args)
    except Exception:  # every real photo will be too small too: the first error says so
        return None, 0
    out, offset = [], 0
    for k, v in ex.items():
        out.append((k, v.shape, v.dtype.str, offset))
        offset += -(-v.nbytes // 64) * 64
    return out, offset


class _Stopped(Exception):
    pass


def _read_ahead(items, stop, size):
    """`items` (an iterator), produced by a thread of its own up to `size` ahead: a stream source's
    reading (a shard's file, an HTTP response, a block of samples to shuffle) overlaps the workers'
    decoding instead of stalling it. Ends when `stop` is set."""
    box = queue.Queue(size)
    end = object()

    def produce():
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        box.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        pass
                if stop.is_set():
                    return
            got = end
        except BaseException as e:  # handed to the consumer
            got = e
        while not stop.is_set():
            try:
                box.put(got, timeout=0.1)
                return
            except queue.Full:
                pass

    threading.Thread(target=produce, daemon=True, name="pycolorize-loader-read").start()
    while True:
        try:
            item = box.get(timeout=0.1)
        except queue.Empty:
            if stop.is_set():
                raise _Stopped() from None
            continue
        if item is end:
            return
        if isinstance(item, BaseException):
            raise item
        yield item


class _Threads:
    """Examples made by threads of this process (an example maker of the caller's, or no fork)."""
    kind = "threads"

    def __init__(self, loader, n):
        self.loader, self.pool = loader, concurrent.futures.ThreadPoolExecutor(n)

    def submit(self, item):
        ld = self.loader
        return self.pool.submit(_make, ld.source, ld.example, ld.args, ld._fast, item.key, item.name, item.job)

    def wait(self, future, stop):
        try:
            return "ok", future.result()
        except SKIPPED as e:
            return "skip", str(e)

    def release(self, handle):
        pass

    def close(self):
        self.pool.shutdown(wait=True, cancel_futures=True)


def _worker_main(tasks, results, source, example, args, fast, mem, layout, slot_bytes, parent):
    """A worker process: make the examples of the tasks it takes, into its shared-memory slot when
    the task has one; exit at the None task, or as soon as its parent is gone (no orphans)."""
    # Ctrl-C and SIGTERM (a terminal's, or Slurm's, sent to every process of the job) are the parent's
    # to handle: the trainer finishes its iteration, which may need a batch, and snapshots first
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        source = source.reopen()
    except BaseException as e:  # reported on the first task
        source = e
    while True:
        try:
            task = tasks.get(timeout=0.5)
        except queue.Empty:
            if os.getppid() != parent:
                os._exit(0)
            continue
        except (EOFError, OSError):  # the parent closed the queue
            os._exit(0)
        if task is None:
            results.cancel_join_thread()
            return
        tid, key, name, job, slot = task
        try:
            if isinstance(source, BaseException):
                raise source
            ex = _make(source, example, args, fast, key, name, job)
        except SKIPPED as e:
            results.put((tid, "skip", str(e)))
            continue
        except BaseException as e:
            e = e if _picklable(e) else RuntimeError(f"{type(e).__name__}: {e}")
            e.add_note("(in a loader worker process)\n" + "".join(traceback.format_exc()))
            results.put((tid, "fatal", e))
            continue
        if slot >= 0 and _fits(ex, layout):
            for k, shape, dtype, offset in layout:
                np.ndarray(shape, dtype, mem, slot * slot_bytes + offset)[...] = ex[k]
            results.put((tid, "shm", None))
        else:
            results.put((tid, "ok", ex))


def _picklable(e):
    try:
        pickle.dumps(e)
        return True
    except Exception:
        return False


def _fits(ex, layout):
    return (layout is not None and len(ex) == len(layout)
            and all(k in ex and np.shape(ex[k]) == tuple(shape) and np.asarray(ex[k]).dtype.str == dtype
                    for k, shape, dtype, _ in layout))


class _Processes:
    """Examples made by worker processes forked from this one (no GIL between them). Each task
    goes out on a queue with the number of a slot of an anonymous shared memory map (made before the
    fork, so the workers share it and it vanishes with the last of them); the worker writes the
    example there and answers with a few bytes. Examples of another shape come back pickled."""
    kind = "processes"

    def __init__(self, loader, n, slots):
        ctx = multiprocessing.get_context("fork")
        self.layout, self.slot_bytes = _layout(loader.args) if loader._fast else (None, 0)
        self.mem = mmap.mmap(-1, slots * self.slot_bytes) if self.layout else None
        self.free = list(range(slots)) if self.layout else []
        self.tasks, self.results = ctx.Queue(), ctx.Queue()
        self.done, self.tid, self.checked = {}, 0, time.monotonic()
        parent = os.getpid()
        self.procs = [ctx.Process(target=_worker_main, name=f"pycolorize-loader-{i}", daemon=True,
                                  args=(self.tasks, self.results, loader.source, loader.example, loader.args, loader._fast,
                                        self.mem, self.layout, self.slot_bytes, parent))
                      for i in range(n)]
        for p in self.procs:
            p.start()

    def submit(self, item):
        slot = self.free.pop() if self.free else -1
        self.tid += 1
        self.tasks.put((self.tid, item.key, item.name, item.job, slot))
        return self.tid, slot

    def wait(self, handle, stop):
        tid, slot = handle
        while tid not in self.done:
            if time.monotonic() > self.checked + 0.5:  # a dead worker is an error, even while the others go on
                self._check_alive()
            try:
                got = self.results.get(timeout=0.2)
            except queue.Empty:
                if stop.is_set():
                    raise _Stopped() from None
                continue
            self.done[got[0]] = got
        _, status, payload = self.done.pop(tid)
        if status == "shm":
            base = slot * self.slot_bytes
            return "ok", {k: np.ndarray(shape, dtype, self.mem, base + offset) for k, shape, dtype, offset in self.layout}
        if status == "fatal":
            raise payload
        return status, payload

    def release(self, handle):
        if handle[1] >= 0:
            self.free.append(handle[1])

    def _check_alive(self):
        self.checked = time.monotonic()
        for p in self.procs:
            if not p.is_alive():
                code = p.exitcode
                how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit status {code}"
                raise RuntimeError(f"a loader worker process (pid {p.pid}) died ({how}); if the system ran out "
                                   f"of memory, try fewer workers")

    def close(self):
        for _ in self.procs:
            try:
                self.tasks.put(None)
            except (OSError, ValueError):
                break
        deadline = time.monotonic() + 5
        for p in self.procs:
            p.join(max(0.0, deadline - time.monotonic()))
        for p in self.procs:
            if p.is_alive():  # stuck in an example (they ignore SIGTERM)
                p.kill()
                p.join(1)
        for q in (self.tasks, self.results):
            q.cancel_join_thread()
            q.close()
        if self.mem is not None:
            try:
                self.mem.close()
            except BufferError:  # a batch still viewing it: the map goes with the last view
                pass


class Loader:
    """Batches of examples from a source, prepared ahead by worker processes (threads where fork is
    not available, with processes=False, or by default with an example maker of the caller's). Iterate
    it; each batch is a dict named like the net's Input blobs (data (B, 1, crop, crop), centroids
    (B, P, 2), targets (B*P, ...)); close() (or the with block's end) stops the workers.

    `source`: a sources.Source (random access: each epoch is a permutation of its positions) or a
    stream source such as shards.TarSource (each epoch is the items it gives this rank); either
    declares what it gives (`kind`) and which of the two it is (`stream`). `workers`
    processes (or threads) make the examples; the stream does not depend on how many, nor on
    which kind. Worker processes are forked on the first batch asked for; they ignore Ctrl-C (the
    training loop finishes its iteration and snapshots first), and they exit on close(), at the
    interpreter's exit, and within a second of their parent's death, however it died."""

    def __init__(self, source, batch=8, seed=0, workers=4, prefetch=4, log=sys.stderr, example=None, shard=(0, 1),
                 processes=None, **example_args):
        # example(item, rng, **example_args) makes one example of source.read(i): by default (None)
        # make_example, for colorization; voc.segmentation_example for the (image, label) pairs of an
        # IMAGE_LABEL source; or a caller's. A caller's may keep state in this process (a test's spy
        # does), which worker processes would keep to themselves: it runs in threads unless asked.
        if getattr(source, "kind", None) not in (IMAGE, IMAGE_LABEL) or not isinstance(getattr(source, "stream", None), bool):
            raise TypeError(f"{source!r:.80} is not a source: a source declares its kind ({IMAGE!r} or {IMAGE_LABEL!r}) "
                            "and whether it is a stream (pycolorize.data.Source and shards.TarSource do)")
        if source.stream and not (hasattr(source, "epoch_items") and hasattr(source, "shuffle")):
            raise TypeError(f"{source!r:.80}: a stream source gives epoch_items() and says how many samples it "
                            "shuffles together (shuffle), as shards.TarSource does")
        if example is None:
            if source.kind != IMAGE:
                raise ValueError(f"a source of {source.kind} pairs needs its example maker (voc.segmentation_example)")
            if example_args.get("crop", 256) <= 2 * example_args.get("margin", 16):
                raise ValueError("the crop must be larger than twice the margin")
        self.example = example or make_example
        # the package's make_example takes the decoder's uint8 pixels (no float64 copy of the photo),
        # and, a pure function of (image, rng), runs in worker processes unless told otherwise
        self._fast = example is None
        self.source, self.batch, self.seed = source, int(batch), int(seed)
        self.workers, self.prefetch, self.log = max(1, int(workers)), max(1, int(prefetch)), log
        self.args = example_args
        self.rank, self.ranks = int(shard[0]), int(shard[1])
        if not 0 <= self.rank < self.ranks:
            raise ValueError(f"shard {shard}: not (rank, number of ranks)")
        self.processes = self._use_processes(self._fast if processes is None else processes)
        self.skipped = {}
        self._position = {"epoch": 0, "index": 0}  # of the next example
        self._thread = None
        self._exe = None
        self._stop = threading.Event()

    def _use_processes(self, asked):
        forced = os.environ.get(WORKERS_ENV, "").strip().lower()
        if forced in ("threads", "processes"):
            asked = forced == "processes"
        elif forced:
            raise ValueError(f"{WORKERS_ENV}={forced!r}: threads or processes")
        if not sys.platform.startswith("linux") or "fork" not in multiprocessing.get_all_start_methods():
            return False  # macOS and Windows: no safe fork
        return bool(asked)

    # -- state: the position of the next batch
    def state(self):
        """The data position of the next batch: {"epoch", "index", "seed"} (and a tar source's
        "shard" and "member")."""
        return dict(self._position, seed=self.seed)

    def restore(self, state):
        if self._thread is not None:
            raise RuntimeError("restore() before iterating")
        self.seed = int(state.get("seed", self.seed))
        self._position = {"epoch": int(state["epoch"]), "index": int(state["index"])}
        if "shard" in state and "member" in state:
            self._position.update(shard=int(state["shard"]), member=int(state["member"]))

    def _order(self, epoch):
        return np.random.default_rng([self.seed, epoch]).permutation(len(self.source))

    def _mine(self, epoch, pos):
        """Whether stream position (epoch, pos) falls in this rank's blocks (see the docstring)."""
        return self.ranks == 1 or (epoch * len(self.source) + pos) // self.batch % self.ranks == self.rank

    def _epoch_items(self, epoch, start):
        """The Items (and Skips) of this rank in `epoch` from the position `start` (None: its start)."""
        if self.source.stream:
            yield from self.source.epoch_items(epoch, self.seed, self.rank, self.ranks, self.batch, start)
            return
        order = self._order(epoch)
        for pos in range(start["index"] if start else 0, len(order)):
            if self._mine(epoch, pos):
                index = int(order[pos])
                yield Item((self.seed, epoch, pos), self.source.name(index), index, {"epoch": epoch, "index": pos + 1})

    def _skip(self, name, message):
        if name not in self.skipped:
            self.skipped[name] = message
            print(f"pycolorize.data: skipping {name}: {message}", file=self.log, flush=True)

    def _examples(self, exe):
        """(position after it, example, release) in stream order, skipping what gives no example."""
        epoch, start = self._position["epoch"], dict(self._position)
        ahead = collections.deque()
        limit = 2 * self.workers + self.batch
        # A rank sees only its share of an epoch, which may hold nothing but bad images while other
        # ranks' shares are fine: it gives up only after this many whole epochs without one usable
        # image (the shares change with every epoch's order), one process after one.
        barren, give_up = 0, 1 if self.ranks == 1 else 4 * self.ranks
        while not self._stop.is_set():
            items = self._epoch_items(epoch, start)
            if self.source.stream:  # shards are read by a thread of their own, ahead of the workers
                items = _read_ahead(items, self._stop, max(2 * limit, self.source.shuffle))
            good, tried, whole_epoch, more = 0, 0, not start or start.get("index", 0) == 0, True
            while True:
                while more and len(ahead) < limit:
                    item = next(items, None)
                    if item is None:
                        more = False
                        break
                    tried += 1
                    ahead.append((item, None if isinstance(item, Skip) else exe.submit(item)))
                if not ahead:
                    break
                item, handle = ahead.popleft()
                if handle is None:
                    self._skip(item.name, item.message)
                    continue
                status, ex = exe.wait(handle, self._stop)
                if status == "skip":
                    exe.release(handle)
                    self._skip(item.name, ex)
                    continue
                good += 1
                yield item.after, ex, handle
            empty = tried or self.source.stream  # a stream with nothing in a whole epoch has nothing at all
            barren = barren + 1 if good == 0 and empty and whole_epoch else 0
            if barren >= give_up and not self._stop.is_set():
                who = "" if self.ranks == 1 else f"rank {self.rank} of {self.ranks}: in {barren} epochs, "
                raise RuntimeError(f"{who}no usable image in the source ({tried} tried, all skipped)")
            epoch, start = epoch + 1, None

    def _run(self, out, exe):
        try:
            rows, n = None, 0
            for position, ex, handle in self._examples(exe):
                if rows is None:
                    rows = {k: np.empty((self.batch,) + np.shape(v), np.asarray(v).dtype) for k, v in ex.items()}
                if ex.keys() != rows.keys():
                    raise ValueError(f"examples with different arrays: {sorted(ex)} after {sorted(rows)}")
                for k, v in ex.items():
                    rows[k][n] = v
                exe.release(handle)
                n += 1
                if n < self.batch:
                    continue
                batch = {k: v if k in PER_IMAGE else v.reshape((-1,) + v.shape[2:]) for k, v in rows.items()}
                rows, n = None, 0  # per-sample targets are (B*P, ...) rows, as the net wants
                while not self._stop.is_set():
                    try:
                        out.put((position, batch), timeout=0.1)
                        break
                    except queue.Full:
                        pass
                if self._stop.is_set():
                    return
        except _Stopped:
            return
        except BaseException as e:  # hand the error to the consumer
            out.put((None, e))

    def __iter__(self):
        if self._thread is None:
            _OPEN.add(self)
            self._queue = queue.Queue(maxsize=self.prefetch)
            limit = 2 * self.workers + self.batch
            # forked here, in the caller's thread, before the loader's own thread starts
            self._exe = _Processes(self, self.workers, limit) if self.processes else _Threads(self, self.workers)
            self._thread = threading.Thread(target=self._run, args=(self._queue, self._exe), daemon=True,
                                            name="pycolorize-loader")
            self._thread.start()
        return self

    def __next__(self):
        if self._thread is None:
            iter(self)
        position, batch = self._queue.get()
        if position is None:
            raise batch
        self._position = position
        return batch

    def close(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._exe is not None:
            self._exe.close()
            self._exe = None
        _OPEN.discard(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# Loaders with workers, closed at the interpreter's exit before multiprocessing's own handler (atexit
# runs the last registered first) would wait for their processes, which ignore its SIGTERM.
_OPEN = weakref.WeakSet()


@atexit.register
def _close_open_loaders():
    for loader in list(_OPEN):
        loader.close()

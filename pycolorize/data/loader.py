"""Training data: the paper's sampling, per-sample targets, background prefetch, over the image
sources of pycolorize.data.images (list, folder, HDF5; also importable from here).

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

Every random choice comes from a generator seeded by (seed, epoch, position), so the stream is
the same whatever the number of worker threads, and `state()` / `restore()` resume it exactly.
Data-parallel training (``shard=(rank, ranks)``, pycolorize.training.distributed): the stream of positions,
epoch after epoch, is cut into blocks of `batch` (each rank's share of the global batch) dealt to
the ranks in turn, so that rank r's batch k holds what one process's global batch k holds at
r * batch .. (r + 1) * batch - 1: the same images, crops and samples (a skipped image shifts only
its own rank's stream).
An image that cannot be read, or is smaller than the crop, is reported once (with its path) on
stderr and skipped.
"""
import collections
import concurrent.futures
import queue
import sys
import threading

import numpy as np

from pycolorize.colorization import color
from pycolorize.data.sources import IMAGE_LABEL
from pycolorize.models import spaces
from pycolorize.colorization.resample import resize_for_network


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
    released trainers."""
    h, w = rgb.shape[:2]
    if short_side_max:
        scale = int(rng.integers(short_side, short_side_max + 1)) / min(h, w)
    else:
        scale = min(1.0, short_side / min(h, w))
    if scale != 1.0:
        h, w = max(1, int(round(h * scale))), max(1, int(round(w * scale)))
        rgb = resize_for_network(rgb, h, w)  # what the colorizer does to a photo (pycolorize.data.images)
    if min(h, w) < crop:
        raise TooSmall(f"{rgb.shape[1]}x{rgb.shape[0]} after resizing, smaller than the {crop}x{crop} crop")
    y0, x0 = rng.integers(0, h - crop + 1), rng.integers(0, w - crop + 1)
    window = rgb[y0:y0 + crop, x0:x0 + crop]
    if mirror and rng.random() < 0.5:
        window = window[:, ::-1]
    pts = rng.integers(margin, crop - margin, size=(samples, 2))
    if exposure:  # drawn last: the crop, mirror and samples are those without it
        window = np.clip(window * np.exp(rng.uniform(-exposure, exposure)), 0.0, 1.0)
    gray = color.gray(window)
    ex = {"data": (gray - mean_shift).astype(np.float32)[None], "centroids": pts.astype(np.float32)}
    ex.update(targets(window[pts[:, 0], pts[:, 1]], variant))
    if chroma_weight:
        ex["chroma_weight"] = lightness_weight(gray[pts[:, 0], pts[:, 1]])
    return ex


# ---- the loader ----------------------------------------------------------------------------

# Batch entries with one row per image (stacked to (B, ...)); every other entry holds one row per
# sample location and is stacked to (B*P, ...).
PER_IMAGE = ("data", "centroids", "label")


class Loader:
    """Batches of examples from a source, prepared ahead by worker threads (Pillow decoding and
    NumPy release the GIL). Iterate it; each batch is a dict named like the net's Input blobs
    (data (B, 1, crop, crop), centroids (B, P, 2), targets (B*P, ...))."""

    def __init__(self, source, batch=8, seed=0, workers=4, prefetch=4, log=sys.stderr, example=None, shard=(0, 1),
                 **example_args):
        # example(item, rng, **example_args) makes one example of source.read(i): make_example for
        # colorization, voc.segmentation_example for the (image, label) pairs of an IMAGE_LABEL source
        if example is None and example_args.get("crop", 256) <= 2 * example_args.get("margin", 16):
            raise ValueError("the crop must be larger than twice the margin")
        self.example = example or make_example
        self.source, self.batch, self.seed = source, int(batch), int(seed)
        self.workers, self.prefetch, self.log = max(1, int(workers)), max(1, int(prefetch)), log
        self.args = example_args
        self.rank, self.ranks = int(shard[0]), int(shard[1])
        if not 0 <= self.rank < self.ranks:
            raise ValueError(f"shard {shard}: not (rank, number of ranks)")
        self.skipped = {}
        self._position = (0, 0)  # (epoch, index in that epoch's order) of the next example
        self._thread = None
        self._stop = threading.Event()

    # -- state: the position of the next batch
    def state(self):
        return {"epoch": self._position[0], "index": self._position[1], "seed": self.seed}

    def restore(self, state):
        if self._thread is not None:
            raise RuntimeError("restore() before iterating")
        self.seed = int(state.get("seed", self.seed))
        self._position = (int(state["epoch"]), int(state["index"]))

    def _order(self, epoch):
        return np.random.default_rng([self.seed, epoch]).permutation(len(self.source))

    def _mine(self, epoch, pos):
        """Whether stream position (epoch, pos) falls in this rank's blocks (see the docstring)."""
        return self.ranks == 1 or (epoch * len(self.source) + pos) // self.batch % self.ranks == self.rank

    def _example(self, epoch, pos, index):
        rng = np.random.default_rng([self.seed, epoch, pos])
        try:
            item = self.source.read(index)
            items = item if self.source.kind == IMAGE_LABEL else (item,)
            return self.example(*items, rng, **self.args)
        except (OSError, ValueError, SyntaxError) as e:  # unreadable, corrupt, too small, not an image
            return e

    def _examples(self, pool):
        epoch, pos = self._position
        ahead = collections.deque()
        # A rank sees only its share of an epoch, which may hold nothing but bad images while other
        # ranks' shares are fine: it gives up only after this many whole epochs without one usable
        # image (the shares change with every epoch's order), one process after one.
        barren, give_up = 0, 1 if self.ranks == 1 else 4 * self.ranks
        while not self._stop.is_set():
            order = self._order(epoch)
            good, tried, whole_epoch = 0, 0, pos == 0
            while pos < len(order) or ahead:
                while pos < len(order) and len(ahead) < 2 * self.workers + self.batch:
                    if self._mine(epoch, pos):
                        ahead.append((epoch, pos, order[pos], pool.submit(self._example, epoch, pos, order[pos])))
                        tried += 1
                    pos += 1
                if not ahead:
                    break
                e, p, index, fut = ahead.popleft()
                ex = fut.result()
                if isinstance(ex, Exception):
                    name = self.source.name(index)
                    if name not in self.skipped:
                        self.skipped[name] = str(ex)
                        print(f"pycolorize.data: skipping {name}: {ex}", file=self.log, flush=True)
                    continue
                good += 1
                yield (e, p + 1), ex
            barren = barren + 1 if good == 0 and tried and whole_epoch else 0
            if barren >= give_up and not self._stop.is_set():
                who = "" if self.ranks == 1 else f"rank {self.rank} of {self.ranks}: in {barren} epochs, "
                raise RuntimeError(f"{who}no usable image in the source ({tried} tried, all skipped)")
            epoch, pos = epoch + 1, 0

    def _run(self, out):
        try:
            with concurrent.futures.ThreadPoolExecutor(self.workers) as pool:
                buf = []
                for position, ex in self._examples(pool):
                    buf.append(ex)
                    if len(buf) == self.batch:
                        batch = {k: np.stack([b[k] for b in buf]) for k in buf[0]}
                        for k in batch:  # per-sample targets are (B*P, ...) rows, as the net wants
                            if k not in PER_IMAGE:
                                batch[k] = batch[k].reshape((-1,) + batch[k].shape[2:])
                        while not self._stop.is_set():
                            try:
                                out.put((position, batch), timeout=0.1)
                                break
                            except queue.Full:
                                pass
                        buf = []
                        if self._stop.is_set():
                            return
        except BaseException as e:  # hand the error to the consumer
            out.put((None, e))

    def __iter__(self):
        if self._thread is None:
            self._queue = queue.Queue(maxsize=self.prefetch)
            self._thread = threading.Thread(target=self._run, args=(self._queue,), daemon=True)
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

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

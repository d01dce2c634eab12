"""The training loop behind tools/train.py: the C++ solver fed by pycolorize.data.

    train("prototxt/solver.prototxt", "data.yaml", weights="vgg16_gray.caffemodel.h5")

The data config (YAML, or a dict) names the images and the sampling; sizes come from the net:

    source: {type: folder, path: /data/imagenet/train}   # or {type: list, path: train.txt, root: ...}
                                                          # or {type: hdf5, path: images.h5}
                                                          # or {type: tar, path: "train-{0000..1023}.tar"}
    short_side: 256      # resize so the short side is at most this
    short_side_max: 0    # > 0: resize to a short side drawn from short_side .. short_side_max
    mirror: true
    exposure: 0.0        # > 0: colour-free photometric jitter, RGB times e^u, u uniform in [-exposure, exposure]
    margin: 16           # sample locations stay this far from the crop's border
    mean_shift: 0.0      # subtracted from the gray input (0 for the released model)
    seed: 0
    workers: 4           # decoding workers (processes; the same stream whatever their number)
    prefetch: 4          # batches prepared ahead

A segmentation net (models.segmentation_net: Input blobs data and label) trains on VOC:

    source: {type: voc, path: VOCdevkit/VOC2012, list: ImageSets/Segmentation/train.txt,
             holdout: 0, holdout_seed: 0}   # holdout: images kept out for early stopping
    scale_min: 1.0       # scale jitter: each image resized by a factor drawn from
    scale_max: 1.0       #   [scale_min, scale_max] (labels nearest, never interpolated)
    mirror: true
    seed: 0
    workers: 4
    prefetch: 4

(short_side, exposure, margin and mean_shift are colorization's; scale_min and scale_max segmentation's.)
Crops smaller than the crop are padded (the image with the mean, the label with 255). With a
holdout, the held-out ids are written to <snapshot prefix>_holdout.txt, the list to score the
snapshots on (pycolorize evaluate-segmentation --weights SNAPSHOTS... : cross-validated early
stopping, the paper's one adjustment).

Batch size, crop size, samples per image and the output space (hue/chroma, a Lab variant, or
segmentation) are read off the training net's Input blobs. Progress goes to a bar on a terminal, else to a
plain line every 30 s (loss averaged over the solver's average_loss, images/s, ETA), and to a
CSV log. The solver's `display: N` (N > 0) adds, as Caffe, a line ``Iteration <i>, loss = <that
average>, lr = <the rate of that update>`` every N iterations (i = 0, N, 2N, ...; Caffe numbers an
iteration before it runs), which replaces the 30-s lines where there is no terminal; with
``progress=False`` (the tool's --quiet) neither is printed. Snapshots follow the solver's
`snapshot`; the data position is saved with them, so `resume` continues the same stream
(``resume="auto"``: from the newest complete snapshot under the prefix, if there is one).

Data-parallel training (pycolorize.training.distributed: mpirun, srun, torchrun, `train --nproc N`): the
prototxt's batch B is the global batch and each of N ranks trains on B/N of it (an error if N
does not divide B), over the same images, crops and samples as one process (data.Loader's shard)
and the same Dropout masks (keyed by the sample's place in the global batch). Rank 0 reads the
initial weights and any snapshot and broadcasts weights, momentum, iteration and the Dropout
generator; each iteration's gradients are summed across ranks as backward produces them and the
update divides by N. Rank 0 alone logs, shows progress (images/s of all ranks) and writes
snapshots, which hold every rank's data position and the number of ranks: resuming on as many
ranks continues each rank's stream exactly; on another number, every rank continues from the
furthest position (the same stream when no image was skipped), with a warning. A SIGTERM or
SIGINT to any rank stops all of them after the iteration, with one snapshot; a rank that dies or
hangs stops the others within the timeout (pycolorize.training.distributed).

Faults, and the exit status tools/train.py gives for each:

* Ctrl-C (SIGINT) or SIGTERM (what Slurm and Kubernetes send before pre-emption) finishes the
  current iteration, writes a snapshot and stops; ``solver.stopped_by`` is the signal and the tool
  exits 128 + its number: 130 for SIGINT, 143 for SIGTERM. A second signal stops at once
  (KeyboardInterrupt, same status) without that snapshot; earlier ones are complete either way.
* ``kill -9`` (or a crash, or a power cut) at any moment leaves the newest complete snapshot
  loadable (pycolorize.engine.solver explains why), and resuming from it reaches, on the CPU, the same
  weights bit for bit as a run never interrupted (tests/test_crash_safety.py kills and resumes).
* A loss that is NaN or infinite raises Diverged (exit 1) naming the iteration and the first
  layer whose output was not finite, without a snapshot, so the last one written is the last good
  one. Parameters are also checked before each snapshot, so none holds NaN weights.
* A snapshot that cannot be written (disk full, read-only folder) is an Error naming the path and
  the OS error (exit 1); the earlier snapshots stay as they were.
"""
import collections
import csv
import json
import math
import os
import signal
import sys
import time
import warnings

import numpy as np

from pycolorize import data
from pycolorize.engine.core import _core
from pycolorize.training import distributed
from pycolorize.engine.core import Error
from pycolorize.models import spaces
from pycolorize.util.errors import one_line
from pycolorize.engine.solver import Solver, latest_snapshot
from pycolorize.util.files import atomic_open, remove_stale_temporaries



# The data config's keys besides `source`, with their types and defaults (the docstring above).
CONFIG_KEYS = {"short_side": (int, 256), "short_side_max": (int, 0), "mirror": (bool, True), "exposure": (float, 0.0),
               "margin": (int, 16), "mean_shift": (float, 0.0),
               "scale_min": (float, 1.0), "scale_max": (float, 1.0), "seed": (int, 0), "workers": (int, 4),
               "prefetch": (int, 4)}
LOADER_KEYS = ("seed", "workers", "prefetch")  # the rest go to the example maker of the net's task
COLORIZATION_KEYS = ("short_side", "short_side_max", "mirror", "exposure", "margin", "mean_shift")


_KIND_NAMES = {bool: "true or false", int: "an integer", float: "a number"}


def _is_kind(value, kind):
    """YAML's ints serve where a float is asked for, and integral floats (256.0) where an int is;
    bools are not numbers here."""
    if kind is bool or isinstance(value, bool):
        return kind is bool and isinstance(value, bool)
    if isinstance(value, int):
        return True
    return isinstance(value, float) and (kind is float or value.is_integer())


def load_config(config):
    """The data config (a YAML file or a dict) with every key checked and defaults filled in;
    ValueError naming the file and the key for anything else."""
    where = "data config" if isinstance(config, dict) else os.fspath(config)
    if isinstance(config, dict):
        cfg = dict(config)
    else:
        import yaml

        with open(config, "rb") as f:
            try:
                cfg = yaml.safe_load(f)
            except yaml.YAMLError as e:  # its text names the line and column (and decoding errors)
                raise ValueError(f"{where}: not valid YAML: {' '.join(str(e).split())}") from None
    if not isinstance(cfg, dict) or "source" not in cfg:
        raise ValueError(f"{where}: a data config needs a 'source' (see pycolorize/training.py)")
    unknown = sorted(str(k) for k in cfg if k != "source" and k not in CONFIG_KEYS)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)}; known: source, {', '.join(CONFIG_KEYS)}")
    for key, (kind, default) in CONFIG_KEYS.items():
        value = cfg.get(key, default)
        if not _is_kind(value, kind):
            raise ValueError(f"{where}: {key} must be {_KIND_NAMES[kind]}, got {value!r}")
        cfg[key] = kind(value)
    for key in ("short_side", "workers", "prefetch"):
        if cfg[key] < 1:
            raise ValueError(f"{where}: {key} must be at least 1, got {cfg[key]}")
    if cfg["short_side_max"] and cfg["short_side_max"] < cfg["short_side"]:
        raise ValueError(f"{where}: short_side_max ({cfg['short_side_max']}) must be 0 (off) or at least short_side "
                         f"({cfg['short_side']})")
    for key in ("margin", "seed", "short_side_max"):
        if cfg[key] < 0:
            raise ValueError(f"{where}: {key} must not be negative, got {cfg[key]}")
    if not 0 <= cfg["exposure"] <= 2:
        raise ValueError(f"{where}: exposure must be between 0 (off) and 2 (factors e^-2 .. e^2), got {cfg['exposure']}")
    if not math.isfinite(cfg["mean_shift"]):
        raise ValueError(f"{where}: mean_shift must be a finite number, got {cfg['mean_shift']}")
    if not 0 < cfg["scale_min"] <= cfg["scale_max"] < math.inf:
        raise ValueError(f"{where}: scale_min and scale_max must satisfy 0 < scale_min <= scale_max, got "
                         f"{cfg['scale_min']} and {cfg['scale_max']}")
    return cfg


def net_geometry(net):
    """(batch, crop, samples, variant) from the training net's Input blobs; a segmentation net
    (data and label, no centroids) gives (batch, crop, channels, "segmentation")."""
    if "label" in net.inputs and "centroids" not in net.inputs and "data" in net.inputs:
        shape = net.blobs["data"].shape
        if len(shape) != 4 or shape[1] not in (1, 3) or shape[2] != shape[3] or net.blobs["label"].shape != (shape[0], 1) + shape[2:]:
            raise ValueError(f"a segmentation net needs data (N, 1 or 3, S, S) and label (N, 1, S, S), got "
                             f"{shape} and {net.blobs['label'].shape}")
        return shape[0], shape[2], shape[1], "segmentation"
    for name in ("data", "centroids"):
        if name not in net.inputs:
            raise ValueError(f"training net '{net.name}' has no Input blob {name!r}")
    b, c, h, w = net.blobs["data"].shape
    if c != 1 or h != w:
        raise ValueError(f"the data blob must be (N, 1, S, S), got {net.blobs['data'].shape}")
    samples = net.blobs["centroids"].shape[1]
    space = spaces.of_training_inputs(net.inputs)
    if space is None:
        raise ValueError(f"cannot tell the output space of net '{net.name}' from its inputs {net.inputs}")
    return b, h, samples, space.name


class Diverged(Error):
    """The loss (or a parameter) became NaN or infinite; the message says when and where."""


class StopNow(KeyboardInterrupt):
    """A second SIGINT/SIGTERM: stop at once, without a snapshot of the iteration under way."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


def _truncate_log(path, iteration):
    """Drop the log rows past `iteration`: after a kill, the iterations since the snapshot that a
    resume starts from are trained again, and their rows must not appear twice."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    keep = rows[:1] + [r for r in rows[1:] if r and r[0].isdigit() and int(r[0]) <= iteration]
    if len(keep) < len(rows):
        with atomic_open(path, "w", newline="") as f:
            csv.writer(f).writerows(keep)


class _Interrupt:
    """First SIGINT or SIGTERM: ask the loop to stop after this iteration (``signum`` says which).
    Second: StopNow, a KeyboardInterrupt."""
    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.signum = None
        self._old = {}

    @property
    def requested(self):
        return self.signum is not None

    def __enter__(self):
        for sig in self.SIGNALS:
            try:
                self._old[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread: no handlers, signals act as usual
                break
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise StopNow(signum)
        self.signum = signum
        print(f"\n{signal.Signals(signum).name}: finishing this iteration, then writing a snapshot "
              f"(send it again to stop now)", file=sys.stderr, flush=True)

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)


def _diverged(solver, loss, last_snapshot):
    where = solver.net.first_non_finite()
    where = (f"the first non-finite output is blob '{where[1]}' of layer '{where[0]}'" if where
             else "every layer's output is finite (the loss layer's own arithmetic?)")
    kept = f"the last good snapshot is {last_snapshot}" if last_snapshot else "no snapshot was written"
    return Diverged(f"iteration {solver.iter}: the loss is {loss}; {where}; training stopped, {kept}")


def split_batch(net, world, where):
    """Each Input blob's first dimension (the global batch, or batch x samples) divided among
    `world` ranks; an Error naming the net file when it does not divide."""
    for name in net.inputs:
        blob = net.blobs[name]
        shape = blob.shape
        if not shape or shape[0] % world:
            raise Error(f"{where}: Input blob '{name}' {shape}: its first dimension is the global batch, and "
                        f"{shape[0] if shape else 0} does not divide among {world} ranks")
        blob.reshape([shape[0] // world, *shape[1:]])
    net.reshape()


def _positions(ctx, loader):
    """Every rank's data position, gathered on all (a collective call)."""
    table = np.zeros((ctx.world, 3), np.float64)
    s = loader.state()
    table[ctx.rank] = (s["epoch"], s["index"], s["seed"])
    ctx.allreduce(table)
    return [{"epoch": int(e), "index": int(i), "seed": int(sd)} for e, i, sd in table]


def _restore_data(loader, extra, rank, world, resume):
    """Put the loader at the data position a snapshot's `extra` saved for this rank: its own where
    the snapshot was written by as many ranks, else the furthest rank's, with a warning (rank 0)."""
    saved = json.loads(extra)
    ranks = saved.get("ranks") or [saved["data"]]
    if len(ranks) == world:
        loader.restore(ranks[rank])
        return
    furthest = max(ranks, key=lambda s: (s["epoch"], s["index"]))
    loader.restore(furthest)
    if rank == 0:
        warnings.warn(f"{resume}: written by {len(ranks)} rank{'s' if len(ranks) > 1 else ''}, resumed on {world}: "
                      f"every rank continues from the furthest data position (epoch {furthest['epoch']}, position "
                      f"{furthest['index']}); the stream is that of an uninterrupted run only when no image was "
                      f"skipped, and the sums' float order differs (see pycolorize.training)", stacklevel=4)


def _start_ranks(ctx, solver, resume):
    """Rank 0's weights, momentum, iteration and Dropout generator on every rank, and the snapshot's
    extra (read on rank 0 only, from `resume`) for every rank."""
    extra = solver.restore(resume) if ctx.rank == 0 and resume else None
    head = json.dumps({"iter": solver.iter, "current_step": solver.current_step, "rng": _core.rng_state(),
                       "extra": extra}).encode() if ctx.rank == 0 else b""
    head = json.loads(ctx.broadcast_bytes(head).decode())
    ctx.broadcast_params(solver.net)
    ctx.broadcast_arrays([h.data for h in solver.history])
    solver.set_position(head["iter"], head["current_step"])
    _core.set_rng_state(head["rng"])
    return head["extra"]


def train(solver_path, data_config, weights=None, resume=None, log=None, max_iter=None, progress=True,
          snapshot_prefix=None, time_limit=None, dist="auto"):
    """Train; returns the solver. `resume` is a solver state file, or "auto" for the newest complete
    snapshot under the prefix (none: start afresh); `max_iter` overrides the solver's; `log` is the
    CSV path (default: <snapshot_prefix>_log.csv); `time_limit` (seconds) stops earlier, with a
    snapshot. A first SIGINT/SIGTERM stops after a snapshot and sets ``solver.stopped_by``; a
    non-finite loss raises Diverged (see the module docstring). `dist`: a
    distributed.Environment, "auto" (the launcher's variables; none: one process) or None."""
    env = distributed.environment() if dist == "auto" else dist
    if env is not None:
        _core.set_shard(env.rank, env.world)
    cfg = load_config(data_config)
    solver = Solver(solver_path, weights=weights if env is None or env.rank == 0 else None)
    ctx = None
    if env is not None:
        split_batch(solver.net, env.world, solver.param["net"] or solver.param["train_net"])
        ctx = distributed.connect(env, gpu=_core.mode() == "gpu")
        ctx.attach(solver)
    try:
        return _train(solver, ctx, cfg, solver_path, resume, log, max_iter, progress, snapshot_prefix, time_limit)
    except Diverged:
        raise  # every rank sees the same summed loss and weights, and stops by itself
    except BaseException as e:
        if ctx is not None:  # the others would wait for this rank until their timeout: stop them now
            ctx.fail(one_line(e) if str(e) else type(e).__name__)
        raise
    finally:
        if ctx is not None:
            ctx.close()


def _make_loader(solver, cfg, source, rank, world):
    """The Loader of the net's task: colorization examples of an image source, or segmentation
    examples of an image-and-label source."""
    batch, crop, samples, variant = net_geometry(solver.net)
    args = {k: cfg[k] for k in LOADER_KEYS}
    args["shard"] = (rank, world)
    pairs = source.kind == data.sources.IMAGE_LABEL
    if variant == "segmentation":
        if not pairs:
            raise ValueError(f"{solver.net.name} is a segmentation net: its data config needs a source of images "
                             "and labels, {type: voc, path: VOC_ROOT, list: ...}")
        # segmentation_example is a pure function of (image, label, rng): worker processes may make it
        return data.Loader(source, batch=batch, example=data.voc.segmentation_example, processes=True, crop=crop,
                           mirror=cfg["mirror"], scale=(cfg["scale_min"], cfg["scale_max"]), gray=samples == 1, **args)
    if pairs:
        raise ValueError(f"{solver.net.name} is a colorization net; a voc source is for segmentation nets")
    return data.Loader(source, batch=batch, crop=crop, samples=samples, variant=variant,
                       chroma_weight="chroma_weight" in solver.net.inputs,
                       **{k: cfg[k] for k in COLORIZATION_KEYS}, **args)


class _Run:
    """One call of train(): the loader, the snapshots, the log and the loop, one method each."""

    def __init__(self, solver, ctx, cfg, prefix):
        self.solver, self.ctx, self.prefix = solver, ctx, prefix
        self.rank, self.world = (ctx.rank, ctx.world) if ctx else (0, 1)
        self.lead = self.rank == 0
        remove_stale_temporaries(os.path.dirname(os.path.abspath(prefix)))  # a killed run's half-written files
        source = data.open_source(cfg["source"])
        self.loader = _make_loader(solver, cfg, source, self.rank, self.world)
        if source.held_out and self.lead:
            holdout = f"{prefix}_holdout.txt"
            os.makedirs(os.path.dirname(os.path.abspath(holdout)), exist_ok=True)
            with atomic_open(holdout) as f:
                f.write("".join(i + "\n" for i in source.held_out))
        # (iteration, weights, state) of the newest good snapshot: the one resumed from (its iteration
        # left unset), then each this run writes
        self.newest = (None, None, None)

    def resume(self, resume):
        """Continue from the solver state file `resume` (None: start afresh): on every rank."""
        if self.ctx is not None:
            extra = _start_ranks(self.ctx, self.solver, resume)
        else:
            extra = self.solver.restore(resume) if resume else None
        if extra:
            _restore_data(self.loader, extra, self.rank, self.world, resume)

    def feed(self):
        blobs = self.solver.net.blobs
        for k, v in next(self.loader).items():
            blobs[k].data[...] = v

    def snapshot(self):
        """Weights and solver state of this iteration (rank 0 writes; every rank's data position goes
        with them); none twice for one iteration, as Caffe."""
        solver = self.solver
        if self.newest[0] == solver.iter:  # a periodic snapshot, then the final one
            return self.newest[1:]
        bad = solver.net.first_non_finite_param()  # a finite loss can still leave an update NaN
        if bad:
            raise Diverged(f"iteration {solver.iter}: parameter {bad[1]} of layer '{bad[0]}' is not finite; "
                           f"training stopped without writing a snapshot"
                           + (f", the last good one is {self.newest[2]}" if self.newest[2] else ""))
        if self.ctx is None:
            extra = {"data": self.loader.state()}
        else:  # every rank's position, gathered by all; rank 0 writes
            ranks = _positions(self.ctx, self.loader)
            extra = {"data": ranks[0], "ranks": ranks, "world_size": self.world}
        model, state = (solver.snapshot(self.prefix, extra=json.dumps(extra)) if self.lead
                        else solver.snapshot_paths(self.prefix))
        self.newest = (solver.iter, model, state)
        return model, state

    def open_log(self, log, resumed):
        """The CSV log (rank 0's; the others write nowhere): appended to on a resume, its rows past the
        resumed iteration dropped; (file, whether it is new)."""
        if not self.lead:
            return open(os.devnull, "w"), False
        log = log or f"{self.prefix}_log.csv"
        os.makedirs(os.path.dirname(os.path.abspath(log)), exist_ok=True)
        new = not (resumed and os.path.exists(log))
        if not new:
            _truncate_log(log, self.solver.iter)
        return open(log, "w" if new else "a", newline=""), new

    def progress_bar(self, stop_at, progress):
        if not (progress and self.lead):
            return None
        from pycolorize.util.progress import progress as progress_display

        # display > 0: Caffe's line every `display` iterations takes the place of the plain form's
        # line every 30 s (a bar on a terminal stays, with those lines above it)
        return progress_display(total=stop_at, initial=self.solver.iter, unit="it", desc="train",
                                **({"every": math.inf} if self.solver.param["display"] else {}))

    def loop(self, stop_at, logf, new_log, bar, time_limit):
        """Step until max_iter, a signal or the time limit; a snapshot at the end (see train)."""
        solver, ctx, world = self.solver, self.ctx, self.world
        display = int(solver.param["display"] or 0)
        every = int(solver.param["snapshot"] or 0)
        window = collections.deque(maxlen=max(1, int(solver.param["average_loss"] or 1)))
        images = solver.net.blobs["data"].shape[0] * world * int(solver.param["iter_size"] or 1)  # per iteration
        writer = csv.writer(logf)
        if new_log:
            writer.writerow(["iter", "loss", "smoothed_loss", "lr", "images_per_s", "elapsed_s"])
        start = time.perf_counter()
        done_images = 0
        out_of_time = False
        # With several ranks every decision to stop is shared (a signal that lands on one rank
        # after this iteration's exchange waits for the next), so that all run the same collectives.
        shared_stop = False
        with _Interrupt() as interrupt:
            def stopping():
                return shared_stop if ctx is not None else interrupt.requested

            while solver.iter < stop_at and not stopping() and not out_of_time:
                lr = solver.learning_rate
                t = time.perf_counter()
                loss = solver.step(1, before_forward=self.feed)
                out_of_time = time_limit is not None and time.perf_counter() - start >= time_limit
                if ctx is not None:  # the mean loss; a signal or the time limit on any rank stops all
                    shared = ctx.allreduce(np.array([loss, interrupt.requested, out_of_time], np.float64))
                    loss, out_of_time, shared_stop = shared[0] / world, bool(shared[2]), bool(shared[1])
                    if shared_stop and not interrupt.requested:
                        interrupt.signum = signal.SIGTERM
                dt = time.perf_counter() - t
                done_images += images
                window.append(loss)
                smoothed = float(np.mean(window))
                rate = done_images / max(time.perf_counter() - start, 1e-9)
                writer.writerow([solver.iter, f"{loss:.6g}", f"{smoothed:.6g}", f"{lr:.6g}", f"{images / dt:.2f}",
                                 f"{time.perf_counter() - start:.1f}"])
                logf.flush()
                if not math.isfinite(loss):
                    raise _diverged(solver, loss, self.newest[2])
                if bar is not None:
                    bar.update(1, loss=f"{smoothed:.4f}", img_s=f"{rate:.1f}", lr=f"{lr:.3g}")
                    if display and (solver.iter - 1) % display == 0:  # Caffe counts the iteration before it
                        bar.write(f"Iteration {solver.iter - 1}, loss = {smoothed:.6g}, lr = {lr:.6g}")
                if every and solver.iter % every == 0:
                    self.snapshot()
            if stopping() or out_of_time or (solver.iter >= stop_at and solver.param["snapshot_after_train"]):
                model, state = self.snapshot()
                if bar is not None:
                    bar.write(f"snapshot: {model}, {state}")
            solver.stopped_by = interrupt.signum if stopping() else None


def _train(solver, ctx, cfg, solver_path, resume, log, max_iter, progress, snapshot_prefix, time_limit):
    prefix = snapshot_prefix or solver.param["snapshot_prefix"] or os.path.splitext(solver_path)[0]
    run = _Run(solver, ctx, cfg, prefix)
    try:
        if resume == "auto":
            resume = latest_snapshot(prefix) if run.lead else None
        run.newest = (None, None, resume or None)
        run.resume(resume)
        stop_at = int(max_iter if max_iter is not None else (solver.param["max_iter"] or 0))
        if stop_at <= solver.iter:
            raise ValueError(f"nothing to do: the solver is at iteration {solver.iter} and max_iter is {stop_at}")
        logf, new_log = run.open_log(log, bool(resume))
        bar = run.progress_bar(stop_at, progress)
        try:
            with logf:
                run.loop(stop_at, logf, new_log, bar, time_limit)
        finally:
            if bar is not None:
                bar.close()
    finally:
        run.loader.close()
    return solver

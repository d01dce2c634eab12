"""Scaling estimate of data-parallel training (pycolorize.training.distributed): what each step all-reduces,
how much of it the layer-wise overlap hides, and a projection for many GPUs.

    python -m pycolorize.cli.benchmark.scaling [--crop 256] [--batch 1] [--reps 2] [--mpi]

1. The full training net (the benchmark's: models.train_net, VGG-16 gray, hypercolumn, hue/chroma
   heads): per layer, in backward order, the bytes of the gradients that become final there (the
   Solver's reduce_after_layer, what the backends sum) and that layer's backward time on this
   machine's CPU (each layer timed alone, the median of --reps).
2. A projection, as arithmetic with its assumptions printed: the step time of one GPU and its
   backward share, the per-layer backward times scaled from the CPU profile, a ring all-reduce of
   each layer's gradients (2 (N - 1) / N x bytes / bus bandwidth + a latency per call) queued on
   one communication stream from the moment the layer's backward ends; what is left after
   backward ends is exposed, the rest hidden. Throughput = N x per-GPU batch / (step + exposed).
3. --mpi: the measurement on this machine: the same net trained on 2 CPU ranks over MPI against
   1 process, seconds per step, and the time the sums took against the time the training thread
   waited for them (the rest hidden behind backward and the updates).
"""
import argparse
import json
import os
import subprocess
import sys
import itertools
import time

import numpy as np

from pycolorize.cli.benchmark import train
from pycolorize.util.spawn import python_command
from pycolorize.util.files import atomic_open

# One H100 80GB, FP32: docs/benchmarks/log/2026-11-26_9b3fdce_h100_benchmark-fp32.txt: 200.2 images/s,
# batch 8 of 256x256 crops, a 40 ms step.
GPU_STEP_S, GPU_BATCH = 0.040, 8
# Links, as NCCL's all-reduce bus bandwidth (nccl-tests' busbw) for messages of a few MB and up,
# and a latency per all-reduce call.
LINKS = {
    "8 GPUs, NVLink 4 + NVSwitch (H100 SXM)": dict(ranks=8, busbw=350e9, latency=20e-6),
    "2 x 8 GPUs, 100 Gb/s InfiniBand (one HCA per node)": dict(ranks=16, busbw=11e9, latency=40e-6),
}


WIDTHS = {"vgg16": "VGG16", "tiny": "TINY"}  # --widths: the paper's net, or the demo's narrow fc6/fc7/h_fc1


def _solver(crop, batch, samples, widths="vgg16"):
    from pycolorize import models

    text = train.train_prototxt(False, batch=batch, crop=crop, samples=samples, widths=getattr(models, WIDTHS[widths]))
    return train.ours_solver(text, base_lr=1e-5)


def _feeder(net, crop, samples, seed):
    """before_forward for Solver.step: synthetic batches of the net's (per-rank) batch size, in turn."""
    batches = itertools.cycle(train.train_batches(4, net.blobs["data"].shape[0], crop, samples, seed=seed))
    return lambda: train.load_batch(net, next(batches))


def layer_profile(crop=256, batch=1, samples=128, reps=2, widths="vgg16"):
    """[(layer, backward seconds on this CPU, bytes summed after it)] in backward order, and the
    forward and backward totals."""
    solver = _solver(crop, batch, samples, widths)
    net = solver.net
    _feeder(net, crop, samples, 0)()
    sizes = [blob.count * 4 for blob, _, _ in net.flat_params()]
    after = solver.reduce_after_layer
    n = len(net.layers)
    net.forward_layers(0, n - 1)  # warm-up
    net.backward_layers(n - 1, 0)
    fwd, bwd = train.layer_times(net, reps, reduce=np.median)
    names = net.layer_names
    rows = [(names[i], float(bwd[i]), sum(sizes[p] for p in after[i])) for i in reversed(range(n))]
    return rows, float(fwd.sum()), float(bwd.sum())


def overlap(rows, backward_s, busbw, latency, ranks):
    """(communication seconds, exposed seconds, per-layer [(layer, bytes, ends at)]) of the
    layer-wise schedule: each layer's backward scaled to `backward_s` in the profile's proportions,
    its sum queued on one stream when it ends."""
    total = sum(r[1] for r in rows) or 1.0
    clock = comm_end = comm = 0.0
    out = []
    for name, b, nbytes in rows:
        clock += b / total * backward_s
        if nbytes:
            t = 2 * (ranks - 1) / ranks * nbytes / busbw + latency
            comm += t
            comm_end = max(comm_end, clock) + t
            out.append((name, nbytes, clock, t, comm_end))
    return comm, max(0.0, comm_end - backward_s), out


def projection(rows, fwd_s, bwd_s, say=print, batches=(GPU_BATCH, 4 * GPU_BATCH), layers=False):
    share = bwd_s / (fwd_s + bwd_s)
    total = sum(r[2] for r in rows)
    say(f"Projection (arithmetic, not a measurement). One GPU: {GPU_STEP_S * 1e3:.0f} ms per step of {GPU_BATCH} "
        f"images (H100 FP32, docs/benchmarks.md), a step time proportional to the per-GPU batch, of which backward {share:.0%} "
        f"(the CPU profile's share, with its per-layer proportions, assumed for the GPU); the global batch is N x "
        f"the per-GPU batch; {total / 1e6:.1f} MB of gradients per step.")
    out = {}
    for batch in batches:
        step = GPU_STEP_S * batch / GPU_BATCH
        for label, link in LINKS.items():
            comm, exposed, schedule = overlap(rows, step * share, link["busbw"], link["latency"], link["ranks"])
            n = link["ranks"]
            rate = n * batch / (step + exposed)
            ideal = n * batch / step
            say(f"  {batch} per GPU, {label}: bus bandwidth {link['busbw'] / 1e9:g} GB/s, {link['latency'] * 1e6:g} "
                f"us a call: all-reduce {comm * 1e3:.1f} ms per step, hidden {(comm - exposed) * 1e3:.1f} ms, exposed "
                f"{exposed * 1e3:.1f} ms -> {rate:.0f} images/s ({rate / ideal:.0%} of {n} x one GPU's "
                f"{batch / step:.0f})")
            out[f"{batch} per GPU, {label}"] = dict(comm_s=comm, exposed_s=exposed, images_per_s=rate,
                                                   efficiency=rate / ideal)
            if layers:  # each layer's sum: when its backward ends, how long it takes, when it lands
                say(f"    {'layer':<16}{'MB':>8}{'ready ms':>10}{'sum ms':>9}{'done ms':>9}  (backward ends at "
                    f"{step * share * 1e3:.1f} ms)")
                for name, nbytes, ready, t, done in schedule:
                    say(f"    {name:<16}{nbytes / 1e6:>8.2f}{ready * 1e3:>10.1f}{t * 1e3:>9.2f}{done * 1e3:>9.1f}")
    return out


def measure_mpi(crop, iters, say=print, widths="vgg16"):
    """The net trained for `iters` steps (after one warm-up) by 1 process (global batch 2) and by
    2 MPI ranks (1 each); seconds per step, and on the ranks the sums' time against the waits."""
    from pycolorize.training import distributed

    results = {}
    for ranks in (1, 2):
        cmd = python_command("pycolorize.cli.benchmark.scaling") + ["--worker", "--crop", str(crop), "--iters", str(iters),
                                                                       "--widths", widths]
        if ranks > 1:
            cmd = distributed.mpiexec_command(ranks) + cmd
        env = dict(os.environ, OMP_NUM_THREADS=str(2 // ranks))
        p = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if p.returncode:
            raise RuntimeError(f"the {ranks}-rank measurement failed: {p.stderr.strip()[-2000:]}")
        results[ranks] = json.loads(p.stdout.strip().splitlines()[-1])
    one, two = results[1], results[2]
    say(f"MPI on this machine ({os.cpu_count()} cores; crop {crop}, global batch 2, {iters} steps): 1 process with "
        f"2 threads {one['step_s']:.2f} s per step; 2 ranks with 1 thread each {two['step_s']:.2f} s per step "
        f"({one['step_s'] / two['step_s']:.2f}x); the sums of {two['bytes'] / 1e6:.1f} MB took "
        f"{two['comm_s']:.2f} s per step on the communication thread, of which the training thread waited "
        f"{two['waited_s']:.2f} s (hidden: {max(0.0, two['comm_s'] - two['waited_s']):.2f} s)")
    say(f"  per layer, in the order the sums ran: {'MB':>8}{'sum ms':>9}")
    for name, nbytes, seconds in two["layers"]:
        say(f"  {name:<38}{nbytes / 1e6:>8.2f}{seconds * 1e3:>9.1f}")
    return results


def _worker(crop, iters, widths="vgg16"):
    from pycolorize.engine.core import _core
    from pycolorize.training import distributed
    from pycolorize.training.loop import split_batch

    env = distributed.environment()
    world = env.world if env else 1
    if env:
        _core.set_shard(env.rank, env.world)
    solver = _solver(crop, 2, 128, widths)
    ctx = None
    if env:
        split_batch(solver.net, world, "benchmark net")
        ctx = distributed.connect(env, gpu=False)
        ctx.attach(solver)
        ctx.broadcast_params(solver.net)
    feed = _feeder(solver.net, crop, 128, env.rank if env else 0)
    solver.step(1, before_forward=feed)
    sync = solver.gradient_sync
    if sync is not None:
        sync.comm_s = sync.waited_s = 0.0
        sync.per_param_s = {}
    t = time.perf_counter()
    solver.step(iters, before_forward=feed)
    step = (time.perf_counter() - t) / iters
    out = {"step_s": step, "ranks": world}
    if sync is not None:
        reduced = {p for ps in solver.reduce_after_layer for p in ps}
        params = solver.net.flat_params()
        names = solver.net.layer_names
        out["layers"] = [(names[l], sum(params[p][0].count * 4 for p in ps),
                          sum(sync.per_param_s.get(p, 0.0) for p in ps) / iters)
                         for l, ps in reversed(list(enumerate(solver.reduce_after_layer))) if ps]
        out.update(comm_s=sync.comm_s / iters, waited_s=sync.waited_s / iters,
                   bytes=sum(blob.count * 4 for i, (blob, _, _) in enumerate(solver.net.flat_params())
                             if i in reduced))
    if ctx:
        ctx.close()
    if not env or env.rank == 0:
        print(json.dumps(out))


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m pycolorize.cli.benchmark.scaling", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--crop", type=int, default=256, help="crop side of the CPU profile (default 256)")
    ap.add_argument("--batch", type=int, default=1, help="batch of the CPU profile (default 1)")
    ap.add_argument("--reps", type=int, default=2, help="profile repetitions, median (default 2)")
    ap.add_argument("--mpi", action="store_true", help="also measure 2 ranks over MPI against 1 process")
    ap.add_argument("--mpi-crop", type=int, default=128, help="crop of the MPI measurement (default 128)")
    ap.add_argument("--iters", type=int, default=3, help="timed steps of the MPI measurement (default 3)")
    ap.add_argument("--json", help="also write the figures to this file")
    ap.add_argument("--from-json", help="project from the profile a --json file holds (no profiling, no MPI run)")
    ap.add_argument("--layers", action="store_true", help="print each layer's all-reduce in the projected schedule")
    ap.add_argument("--widths", choices=sorted(WIDTHS), default="vgg16",
                    help="the training net: the paper's VGG-16 (default) or the demo's narrow one")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        _worker(args.crop, args.iters, args.widths)
        return 0
    if args.from_json:
        with open(args.from_json) as f:
            saved = json.load(f)
        projection([tuple(r) for r in saved["layers"]], saved["forward_s"], saved["backward_s"], layers=args.layers)
        if args.mpi:
            measure_mpi(args.mpi_crop, args.iters, widths=args.widths)
        return 0
    rows, fwd, bwd = layer_profile(args.crop, args.batch, reps=args.reps, widths=args.widths)
    print(f"Per layer, in backward order (CPU, crop {args.crop}, batch {args.batch}; forward {fwd:.2f} s, "
          f"backward {bwd:.2f} s): the gradients summed once the layer's backward has run")
    print(f"  {'layer':<22}{'backward ms':>12}{'MB summed':>11}")
    for name, b, nbytes in rows:
        if nbytes or b > 0.02 * bwd:
            print(f"  {name:<22}{b * 1e3:>12.1f}{nbytes / 1e6:>11.2f}")
    result = {"layers": rows, "forward_s": fwd, "backward_s": bwd,
              "projection": projection(rows, fwd, bwd, layers=args.layers)}
    if args.mpi:
        result["mpi"] = measure_mpi(args.mpi_crop, args.iters, widths=args.widths)
    if args.json:
        with atomic_open(args.json) as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python
"""The NCCL backend at world size 1 against the plain path, on one GPU: the same training (weights
compared bit for bit after a few steps) and the step time of each (the backend's overhead: its
layer-wise sums on a second stream and the update waiting on their events, with nothing to sum).

    python tools/nccl_overhead.py [--gpu 0] [--steps 20] [--batch 8] [--crop 224]

A device check (tools/gpu_check.sh runs it); the net is the paper's training net at full width with
random weights and synthetic batches, as the benchmark's training part.
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import pycolorize  # noqa: E402
from pycolorize.cli.benchmark import train as bt  # noqa: E402
from pycolorize.engine.core import _core  # noqa: E402
from pycolorize.training import distributed  # noqa: E402


def run(nccl, args, batches):
    pycolorize.set_random_seed(1)  # the same initial weights for both
    solver = bt.ours_solver(bt.train_prototxt(False, batch=args.batch, crop=args.crop, samples=128))
    ctx = None
    if nccl:
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        os.environ["MASTER_PORT"] = str(distributed.free_port())
        ctx = distributed.NCCLContext(distributed.Environment(0, 1, 0, "gpu_check", False), timeout=60)
        ctx.attach(solver)
        ctx.broadcast_params(solver.net)
    try:
        for i in range(args.check_steps):  # the training compared bit for bit (and the warm-up)
            bt.ours_step(solver, batches[i % len(batches)])
        params = {f"{layer}/{i}": b.data.copy() for layer, blobs in solver.net.params.items() for i, b in enumerate(blobs)}
        times = []
        for i in range(args.steps):
            pycolorize.synchronize()
            t = time.perf_counter()
            bt.ours_step(solver, batches[i % len(batches)])
            pycolorize.synchronize()
            times.append(time.perf_counter() - t)
        return params, times
    finally:
        if ctx is not None:
            ctx.close()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gpu", type=int, default=0)
    ap.add_argument("--steps", type=int, default=20, help="timed steps of each path")
    ap.add_argument("--check-steps", type=int, default=3, help="steps before the bitwise comparison")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--crop", type=int, default=224)
    args = ap.parse_args(argv)
    if not _core.nccl_compiled:
        print("this build has no NCCL backend (nccl_compiled is False)")
        return 1
    pycolorize.use_gpu(args.gpu)
    batches = bt.train_batches(4, args.batch, args.crop, 128)
    plain, t_plain = run(False, args, batches)
    nccl, t_nccl = run(True, args, batches)
    differ = [k for k in plain if not np.array_equal(plain[k], nccl[k])]
    a, b = float(np.median(t_plain)), float(np.median(t_nccl))
    print(f"{pycolorize.gpu_name(args.gpu)}: the training net, batch {args.batch}, crop {args.crop}; "
          f"median of {args.steps} steps")
    print(f"  plain {a * 1e3:.1f} ms, NCCL at world size 1 {b * 1e3:.1f} ms: overhead {100 * (b / a - 1):+.1f} % "
          f"(target: at most 3 %)")
    print(f"  weights after {args.check_steps} steps: "
          + ("bit-identical" if not differ else f"{len(differ)} of {len(plain)} blobs differ, e.g. {differ[:3]}"))
    return 0 if not differ else 1


if __name__ == "__main__":
    sys.exit(main())

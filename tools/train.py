#!/usr/bin/env python
"""Train a colorization net with the C++ SGD solver.

    python tools/train.py --solver prototxt/solver.prototxt --data data.yaml
                          [--weights vgg16_gray.caffemodel.h5] [--resume STATE|auto]
                          [--max-iter N] [--log train.csv] [--gpu ID]

The solver's `net:` path is resolved against the current directory, as in Caffe. The YAML data
config is described in pycolorize/training.py. `--resume auto` continues from the newest complete
snapshot if there is one (what a job re-queued after pre-emption wants).

Exit status:
  0    reached max_iter (snapshot written if the solver asks for one at the end)
  1    an error, in one line: a set-up error (missing solver or data file, bad YAML or prototxt,
       --gpu without a usable GPU), a snapshot that could not be written (earlier snapshots are
       kept), or a loss that became NaN/infinite (the line names the iteration and the first layer
       whose output was not finite; the last snapshot written is the last good one)
  2    bad command line
  130  Ctrl-C (SIGINT): the current iteration finished and a snapshot was written
  143  SIGTERM (Slurm, Kubernetes pre-emption): the same
A second SIGINT/SIGTERM stops at once with the same status, without that last snapshot. After
`kill -9` the newest complete snapshot is intact; resume from it.
"""
import argparse
import os
import signal
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # installed package first
import pycolorize  # noqa: E402
from pycolorize.training import StopNow, train  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 epilog=__doc__[__doc__.index("Exit status:"):],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--solver", required=True)
    ap.add_argument("--data", required=True, help="YAML data config")
    ap.add_argument("--weights", help="initial weights (Caffe HDF5), e.g. from tools/convert_vgg16.py")
    ap.add_argument("--resume", metavar="STATE|auto",
                    help="a .solverstate.h5 snapshot to continue from, or 'auto': the newest complete one, if any")
    ap.add_argument("--max-iter", type=int, help="stop at this iteration (default: the solver's max_iter)")
    ap.add_argument("--log", help="CSV log (default: <snapshot_prefix>_log.csv)")
    # An explicit ID, never optional: `--gpu` with an optional value would swallow a following positional.
    ap.add_argument("--gpu", type=int, metavar="ID", help="train on CUDA device ID (e.g. --gpu 0)")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    if args.gpu is not None:
        try:
            pycolorize.use_gpu(args.gpu)
        except pycolorize.Error as e:
            print(f"train.py: --gpu {args.gpu}: {e}", file=sys.stderr)
            return 1
    try:
        solver = train(args.solver, args.data, weights=args.weights, resume=args.resume, log=args.log,
                       max_iter=args.max_iter, progress=not args.quiet)
    except StopNow as e:
        return 128 + e.signum
    except KeyboardInterrupt:  # Ctrl-C before the training loop had its handler
        return 128 + signal.SIGINT
    except Exception as e:  # noqa: BLE001 -- the tool's promise: one line, no traceback
        print(f"train.py: {_one_line(e)}", file=sys.stderr)
        return 1
    if solver.stopped_by is not None:
        print(f"stopped by {signal.Signals(solver.stopped_by).name} at iteration {solver.iter}")
        return 128 + solver.stopped_by
    print(f"stopped at iteration {solver.iter}")
    return 0


def _one_line(e):
    text = " ".join(str(e).split()) or type(e).__name__
    if not isinstance(e, (pycolorize.Error, ValueError, OSError)):  # unexpected: say what kind
        text = f"{type(e).__name__}: {text}"
    return text


if __name__ == "__main__":
    sys.exit(main())

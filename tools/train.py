#!/usr/bin/env python
"""Train a colorization net with the C++ SGD solver.

    python tools/train.py --solver prototxt/solver.prototxt --data data.yaml
                          [--weights vgg16_gray.caffemodel.h5] [--resume snap_iter_N.solverstate.h5]
                          [--max-iter N] [--log train.csv] [--gpu [ID]]

The solver's `net:` path is resolved against the current directory, as in Caffe. The YAML data
config is described in pycolorize/training.py. Ctrl-C writes a snapshot and stops.
"""
import argparse
import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # installed package first
import pycolorize  # noqa: E402
from pycolorize.training import train  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--solver", required=True)
    ap.add_argument("--data", required=True, help="YAML data config")
    ap.add_argument("--weights", help="initial weights (Caffe HDF5), e.g. from tools/convert_vgg16.py")
    ap.add_argument("--resume", help="a .solverstate.h5 snapshot to continue from")
    ap.add_argument("--max-iter", type=int, help="stop at this iteration (default: the solver's max_iter)")
    ap.add_argument("--log", help="CSV log (default: <snapshot_prefix>_log.csv)")
    ap.add_argument("--gpu", nargs="?", const=0, type=int, metavar="ID", help="train on this CUDA device")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    if args.gpu is not None:
        pycolorize.set_device(args.gpu)
        pycolorize.set_mode_gpu()
    try:
        solver = train(args.solver, args.data, weights=args.weights, resume=args.resume, log=args.log,
                       max_iter=args.max_iter, progress=not args.quiet)
    except (ValueError, FileNotFoundError, pycolorize.Error) as e:
        raise SystemExit(f"train.py: {e}")
    except KeyboardInterrupt:
        raise SystemExit(130)
    print(f"stopped at iteration {solver.iter}")


if __name__ == "__main__":
    main()

"""`pycolorize train` (also `python tools/train.py`): train a colorization (or segmentation) net
with the C++ SGD solver fed by pycolorize.training's background loader."""
import sys

from pycolorize.cli import CommandError, add_quiet, one_line, select_gpu
from pycolorize.util.spawn import python_command

SUMMARY = "train a colorization or segmentation net (C++ SGD solver, snapshots, resume)"

DESCRIPTION = """\
Train a colorization net with the C++ SGD solver, or (the paper's Sec. 5) a segmentation net on
a colorization trunk (prototxt/solver_segmentation.prototxt, a voc source, --weights from
`pycolorize export-trunk`).

The solver's `net:` path is resolved against the current directory, as in Caffe. Batch size,
crop size, samples per image and the output space (hue/chroma, a Lab variant, or segmentation
when the net has a `label` input) are read off the training net's Input blobs; the YAML data config (below) says where the images are and how they
are sampled. Progress goes to a bar (loss, images/s, ETA) and to a CSV log; snapshots follow the
solver's `snapshot` and carry the data position, so a resume continues the same stream.
`--resume auto` continues from the newest complete snapshot if there is one (what a job
re-queued after pre-emption wants)."""

DATA_CONFIG = """\
data config (--data, YAML; pycolorize/training/loop.py):
  source: {type: folder, path: /data/imagenet/train}   # required; or
          {type: list, path: train.txt, root: /data/imagenet}   # one relative path a line
          {type: hdf5, path: images.h5, dataset: images}
          {type: tar, path: "shards/train-{0000..1023}.tar"}   # WebDataset shards (pycolorize make-shards)
  short_side: 256    # resize so the short side is at most this
  short_side_max: 0  # > 0: resize to a short side drawn from short_side .. short_side_max
                     # (the released from-scratch trainer: 352 .. 599 with 352 crops, margin 96)
  mirror: true       # random horizontal flips
  margin: 16         # sample locations stay this far from the crop's border
  mean_shift: 0.0    # subtracted from the gray input (0 for the released model)
  seed: 0            # every random choice derives from (seed, epoch, position)
  workers: 4         # decoding threads
  prefetch: 4        # batches prepared ahead
segmentation nets:
  source: {type: voc, path: VOCdevkit/VOC2012, list: ImageSets/Segmentation/train.txt,
           holdout: 0, holdout_seed: 0}   # holdout N: N images kept out, their ids written to
                                          # <snapshot prefix>_holdout.txt (early stopping)
  scale_min: 1.0     # scale jitter: a factor drawn from [scale_min, scale_max]; labels nearest
  scale_max: 1.0
  mirror, seed, workers, prefetch as above; crops are padded with the mean (labels with 255)"""

EXIT_STATUS = """\
exit status:
  0    reached max_iter (snapshot written if the solver asks for one at the end)
  1    an error, in one line: a set-up error (missing solver or data file, bad YAML or prototxt,
       --gpu without a usable GPU), a snapshot that could not be written (earlier snapshots are
       kept), or a loss that became NaN/infinite (the line names the iteration and the first layer
       whose output was not finite; the last snapshot written is the last good one)
  2    bad command line
  130  Ctrl-C (SIGINT): the current iteration finished and a snapshot was written
  143  SIGTERM (Slurm, Kubernetes pre-emption): the same
A second SIGINT/SIGTERM stops at once with the same status, without that last snapshot. After
`kill -9` the newest complete snapshot is intact; resume from it."""

DISTRIBUTED = """\
many devices and machines (docs/distributed.md; pycolorize/training/distributed.py):
  the prototxt's batch is the global batch, split among the ranks (it must divide)
  pycolorize train --nproc 2 ...                    2 CPU ranks over MPI (pip install 'pycolorize[mpi]')
  pycolorize train --nproc 4 --gpu 0,1,2,3 ...       one rank per GPU over NCCL
  mpirun -n 4 pycolorize train ...;  srun pycolorize train ...  (Slurm: export MASTER_ADDR, MASTER_PORT)
  torchrun --nproc-per-node 8 --no-python pycolorize train --gpu 0,1,2,3,4,5,6,7 ...
    (one rank per process; with several GPUs per machine, --gpu lists them: local rank i takes the i-th)
  PYCOLORIZE_DIST_TIMEOUT (seconds, default 300): how long a rank waits for the others before it
  stops them all with an error"""


EPILOG = f"""\
{DATA_CONFIG}

examples:
  pycolorize train --solver prototxt/solver.prototxt --data data.yaml --weights vgg16_gray.caffemodel.h5
  pycolorize train --solver prototxt/solver.prototxt --data data.yaml --resume auto --gpu 0
  pycolorize train --solver prototxt/solver_segmentation.prototxt --data voc.yaml --weights trunk.caffemodel.h5
  (`python tools/train.py ...` takes the same arguments)

{DISTRIBUTED}

{EXIT_STATUS}"""


def add_arguments(ap):
    ap.add_argument("--solver", required=True, help="solver prototxt (e.g. prototxt/solver.prototxt)")
    ap.add_argument("--data", required=True, help="YAML data config (see below)")
    ap.add_argument("--weights", help="initial weights (Caffe HDF5), e.g. from `pycolorize convert-vgg16`")
    ap.add_argument("--resume", metavar="STATE|auto",
                    help="a .solverstate.h5 snapshot to continue from, or 'auto': the newest complete one, if any")
    ap.add_argument("--max-iter", type=int, help="stop at this iteration; default: the solver's max_iter")
    ap.add_argument("--log", help="CSV log; default: <snapshot_prefix>_log.csv")
    ap.add_argument("--gpu", metavar="ID[,ID...]",
                    help="train on this CUDA device (e.g. --gpu 0); with several ranks, one per rank on each machine "
                         "(--gpu 0,1,2,3: rank with local rank i takes the i-th); default: the CPU")
    ap.add_argument("--nproc", type=int, metavar="N",
                    help="start N ranks on this machine (data-parallel; see below): CPU ranks over MPI, or one "
                         "rank per --gpu ID over NCCL")
    add_quiet(ap, "no progress bar")


def _gpus(args):
    if args.gpu is None:
        return None
    try:
        gpus = [int(g) for g in str(args.gpu).split(",")]
    except ValueError:
        raise CommandError(f"--gpu {args.gpu}: not a device ID or a comma-separated list of them") from None
    if len(set(gpus)) != len(gpus) or min(gpus) < 0:
        raise CommandError(f"--gpu {args.gpu}: each device once, IDs from 0")
    return gpus


def _forwarded(args):
    """The arguments every rank gets (without --nproc and --gpu)."""
    out = ["--solver", args.solver, "--data", args.data]
    for flag, value in (("--weights", args.weights), ("--resume", args.resume), ("--max-iter", args.max_iter),
                        ("--log", args.log)):
        if value is not None:
            out += [flag, str(value)]
    return out + (["--quiet"] if args.quiet else [])


def _spawn(args, gpus):
    """--nproc N: N ranks on this machine; the exit status of the job."""
    import subprocess

    from pycolorize.training import distributed

    if gpus is None:
        cmd = distributed.mpiexec_command(args.nproc) + python_command("pycolorize") + ["train", *_forwarded(args)]
        return subprocess.call(cmd)
    if len(gpus) != args.nproc:
        raise CommandError(f"--nproc {args.nproc} with --gpu {args.gpu}: one rank per GPU, give {args.nproc} IDs")
    return distributed.spawn_gpus(_forwarded(args), gpus, distributed.timeout_from_env())


def run(args):
    import signal

    from pycolorize.training import distributed
    from pycolorize.training.loop import StopNow, train

    env = None
    try:
        gpus = _gpus(args)
        env = distributed.environment()
        if args.nproc is not None:
            if args.nproc < 1:
                raise CommandError(f"--nproc {args.nproc}: at least 1")
            if env is not None:
                raise CommandError(f"--nproc with ranks already launched ({env.launcher}): give one or the other")
            if args.nproc > 1:
                return _spawn(args, gpus)
        if gpus is not None:
            args.gpu = distributed.device_for(env, gpus)
        select_gpu(args)
        solver = train(args.solver, args.data, weights=args.weights, resume=args.resume, log=args.log,
                       max_iter=args.max_iter, progress=not args.quiet)
    except StopNow as e:  # a second signal: stopped at once (training printed why)
        return 128 + e.signum
    except KeyboardInterrupt:  # Ctrl-C before the training loop had its handler
        print(f"{args.prog}: interrupted before training started", file=sys.stderr)
        return 128 + signal.SIGINT
    except (ValueError, OSError, RuntimeError) as e:  # bad input, files, data (Error and Diverged are ValueErrors);
        who = f" (rank {env.rank})" if env is not None and env.rank else ""  # a bug elsewhere keeps its traceback
        print(f"{args.prog}{who}: {one_line(e)}", file=sys.stderr)
        return 1
    if solver.stopped_by is not None:
        print(f"stopped by {signal.Signals(solver.stopped_by).name} at iteration {solver.iter}")
        return 128 + solver.stopped_by
    print(f"stopped at iteration {solver.iter}")
    return 0


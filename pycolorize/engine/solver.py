"""The training driver's core, shaped like pycaffe's SGDSolver.

    solver = pycolorize.Solver("prototxt/solver.prototxt", weights="init.caffemodel.h5")
    solver.net.blobs["data"].data[...] = batch      # Input blobs are set from Python
    solver.step(1)
    solver.snapshot()                                # <prefix>_iter_<N>.caffemodel.h5 + .solverstate.h5
    solver.restore("snap_iter_1000.solverstate.h5")  # continues exactly where it stopped

The update itself runs in C++ (csrc/solver.cpp, GPU kernel in solver.cu); this module builds the
training net the way Caffe does (the solver's ``net:`` path is resolved against the current
directory) and writes and reads snapshots in Caffe's HDF5 formats: weights ``/data/<layer>/<i>``,
solver state ``iter``, ``learned_net``, ``current_step`` and ``history/<i>``, plus
``pycolorize_rng`` (the Dropout generator, so that a resumed run is bit-identical on the CPU).

Solver fields (every one the schema accepts, csrc/proto/schema.cpp; prototxt/README.md lists them):

* followed as Caffe does: net (or its legacy name train_net; not both), type "SGD" (or the legacy
  solver_type SGD; not both), base_lr, lr_policy with gamma, power, stepsize, stepvalue and
  max_iter (fixed, step, exp, inv, multistep, poly and sigmoid: Caffe's SGDSolver::GetLearningRate),
  momentum, weight_decay, regularization_type, iter_size, clip_gradients, random_seed, and, in
  pycolorize.training, max_iter, snapshot, snapshot_prefix, snapshot_after_train, average_loss (the
  loss shown and logged is the mean of that many iterations) and display (a line
  ``Iteration <i>, loss = <mean>, lr = <rate>`` every `display` iterations in the progress output);
* refused, with an Error naming the file, line and field: any other type or solver_type (Nesterov,
  AdaGrad, RMSProp, AdaDelta, Adam), another lr_policy, snapshot_format BINARYPROTO (snapshots are
  HDF5), and what Caffe refuses too (a policy without its parameters, stepsize <= 0 for step,
  max_iter <= 0 for poly, average_loss or iter_size < 1, a negative display, snapshot or max_iter);
* accepted but not followed, with a warning when the file sets them: solver_mode and device_id
  (the caller picks the device: the tools' --gpu ID, pycolorize.use_gpu(); the warning comes when
  the file asks for another one, e.g. a Caffe solver's `solver_mode: GPU` on a CPU run),
  debug_info true (Caffe's per-layer norms) and test_net, test_iter, test_interval,
  test_initialization (no test nets run while training; `pycolorize evaluate` scores snapshots).

Crash safety: each file is written to a temporary beside it and renamed into place (atomic_h5), the
weights first and the state last, and an older state of the same iteration is deleted just before
its weights are replaced. A snapshot therefore counts as complete exactly when its state file exists
(its weights then exist and match it), whatever moment a ``kill -9`` or a power cut strikes;
``latest_snapshot`` finds the newest complete one and ignores temporaries and lone weights files.
A snapshot that cannot be written is an Error naming the path and the OS error, and leaves every
earlier snapshot as it was.
"""
import os
import re
import warnings

import h5py
import numpy as np

from pycolorize.engine.core import _core
from pycolorize.engine.core import Error
from pycolorize.engine.net import Net
from pycolorize.engine.weights import atomic_h5, save_weights


def latest_snapshot(prefix):
    """The state file (``<prefix>_iter_<N>.solverstate.h5``) of the newest complete snapshot
    under `prefix`, or None. Complete means the state file exists (written last, atomically) and so
    does its weights file; temporaries (``.tmp-*``) and weights without a state are ignored."""
    # split as given: Caffe's `snapshot_prefix: "snaps/"` names files snaps/_iter_N.* (base "")
    directory, base = os.path.split(os.fspath(prefix))
    directory = os.path.abspath(directory or ".")
    if not os.path.isdir(directory):
        return None
    pattern = re.compile(re.escape(base) + r"_iter_(\d+)\.solverstate\.h5")
    best = None
    for name in os.listdir(directory):
        m = pattern.fullmatch(name)
        if m and os.path.isfile(os.path.join(directory, f"{base}_iter_{m[1]}.caffemodel.h5")):
            if best is None or int(m[1]) > best[0]:
                best = (int(m[1]), os.path.join(directory, name))
    return best[1] if best else None


def _warn_ignored_fields(path, param):
    """One warning per solver field that the file sets but pycolorize does not follow (see the
    Solver's docstring): the device fields when they differ from the device in effect, debug_info
    true, and the test-net fields."""
    given = set(param["given"])
    mode = _core.mode()
    if "solver_mode" in given and param["solver_mode"].lower() != mode:
        warnings.warn(f"{path}: solver_mode {param['solver_mode']} is not followed: this run is on the {mode.upper()}, "
                      f"as the caller chose (the tools' --gpu ID, pycolorize.use_gpu(), pycolorize.set_mode_cpu())",
                      stacklevel=3)
    if "device_id" in given and mode == "gpu" and param["device_id"] != _core.device():
        warnings.warn(f"{path}: device_id {param['device_id']} is not followed: this run is on GPU {_core.device()}, "
                      f"as the caller chose (the tools' --gpu ID, pycolorize.use_gpu())", stacklevel=3)
    if param["debug_info"]:
        warnings.warn(f"{path}: debug_info true is not implemented (Caffe's per-layer data and gradient norms); "
                      f"ignored", stacklevel=3)
    tests = [f for f in ("test_net", "test_iter", "test_interval", "test_initialization") if f in given]
    if tests:
        warnings.warn(f"{path}: {', '.join(tests)} ignored: pycolorize runs no test nets while training (evaluate "
                      f"snapshots with `pycolorize evaluate`)", stacklevel=3)


class Solver:
    def __init__(self, solver_prototxt, weights=None):
        path = os.fspath(solver_prototxt)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: no such solver prototxt")
        with open(path, "rb") as f:  # bytes: the parser quotes a non-UTF-8 byte in its error as \xNN
            text = f.read()
        self.path = path
        self.param = _core.solver_param(text, path)
        net_path = self.param["net"] or self.param["train_net"]
        if not net_path:
            raise Error(f"{path}: the solver names no net (add net: 'train.prototxt')")
        if not os.path.isfile(net_path):
            raise FileNotFoundError(
                f"{path}: net '{net_path}' not found; as in Caffe, it is resolved against the current directory "
                f"({os.getcwd()})")
        _warn_ignored_fields(path, self.param)
        if self.param["random_seed"] >= 0:  # as Caffe: seeded before the net's fillers run
            _core.set_random_seed(self.param["random_seed"])
        self.net = Net(net_path, phase="train")
        self._solver = _core.Solver(text, path, self.net._net)
        if weights is not None:
            self.net.copy_from(weights)
        self.stopped_by = None  # set by pycolorize.training.train: the signal that stopped it, if any
        self.gradient_sync = None  # set_gradient_sync's object, kept alive here while the core uses it

    # ---- running -----------------------------------------------------------------------------
    def step(self, iters=1, before_forward=None):
        """Run `iters` SGD iterations; `before_forward()`, if given, runs before each forward pass
        (iter_size of them per iteration), e.g. to load the next batch. Returns the last loss."""
        return self._solver.step(int(iters), before_forward)

    @property
    def iter(self):
        return self._solver.iter

    @property
    def current_step(self):
        """The step of a "step"/"multistep" learning-rate policy the solver is in."""
        return self._solver.current_step

    def set_position(self, iteration, current_step):
        """Put the solver at `iteration` and learning-rate step `current_step` (resuming on the
        ranks of data-parallel training, from rank 0's state)."""
        self._solver.iter, self._solver.current_step = int(iteration), int(current_step)

    # ---- data-parallel training --------------------------------------------------------------
    def set_gradient_sync(self, sync):
        """Sum the parameter gradients across ranks with `sync` (a pycolorize._core.GradientSync:
        pycolorize.training.distributed's MPI sync, or use_nccl's) from the next step on."""
        self._solver.set_gradient_sync(sync)
        self.gradient_sync = sync

    def use_nccl(self, unique_id, rank, world, timeout):
        """Sum the gradients over NCCL (csrc/parallel/nccl_sync.cu) as rank `rank` of `world`; returns
        the sync (its statistics, its close)."""
        self.set_gradient_sync(_core.NcclSync(unique_id, rank, world, self.net._net, timeout))
        return self.gradient_sync

    @property
    def reduce_after_layer(self):
        """For each layer in net order, the parameters whose gradients are final after its backward
        (the order in which data-parallel training sums them)."""
        return self._solver.reduce_after_layer

    @property
    def learning_rate(self):
        """The rate the next update applies."""
        return self._solver.learning_rate

    @property
    def history(self):
        """Momentum buffers, one per learnable (non-shared) parameter blob, in net order."""
        return self._solver.history

    # ---- snapshots ---------------------------------------------------------------------------
    def snapshot_paths(self, prefix=None):
        prefix = prefix if prefix is not None else self.param["snapshot_prefix"]
        if not prefix:
            raise Error(f"{self.path}: no snapshot_prefix in the solver; give snapshot(prefix=...)")
        base = f"{prefix}_iter_{self.iter}"
        return base + ".caffemodel.h5", base + ".solverstate.h5"

    def snapshot(self, prefix=None, extra=None):
        """Write the weights and the solver state at the current iteration; returns both paths.
        Each file is complete or absent: they are written to temporaries and renamed, the state
        last, so that the pair is complete when the state exists (see the module docstring).
        `extra`, a str, is kept in the state file as ``pycolorize_extra`` (train.py stores the data
        position there); ``restore`` returns it."""
        model, state = self.snapshot_paths(prefix)
        directory = os.path.dirname(os.path.abspath(model))
        try:
            os.makedirs(directory, exist_ok=True)
        except OSError as e:
            raise Error(f"cannot write snapshot {model}: {e}") from None

        def retire_old_state():
            # A state left at this iteration by an earlier run must not be paired with the weights
            # about to replace its own (they may differ, e.g. on the GPU): it goes just before they
            # are renamed into place, so that a failure while writing them leaves the old pair whole.
            if os.path.exists(state):
                os.remove(state)
        save_weights(self.net, model, before_publish=retire_old_state)
        with atomic_h5(state) as f:
            f.create_dataset("iter", data=np.int32(self.iter))
            f.create_dataset("learned_net", data=model.encode())
            f.create_dataset("current_step", data=np.int32(self._solver.current_step))
            hist = f.create_group("history")
            for i, h in enumerate(self.history):
                hist.create_dataset(str(i), data=h.data)
            f.create_dataset("pycolorize_rng", data=_core.rng_state().encode())
            if extra is not None:
                f.create_dataset("pycolorize_extra", data=str(extra).encode())
        return model, state

    def restore(self, state_path):
        """Continue from a solver state: weights (from its learned_net), iteration, multistep
        position, momentum history and the Dropout generator. Returns the snapshot's `extra`
        string (None if it has none)."""
        state_path = os.fspath(state_path)
        if not os.path.isfile(state_path):
            raise FileNotFoundError(f"{state_path}: no such solver state")
        with h5py.File(state_path, "r") as f:
            for key in ("iter", "learned_net", "history"):
                if key not in f:
                    raise Error(f"{state_path}: no '{key}'; not a Caffe HDF5 solver state")
            model = f["learned_net"][()]
            model = model.decode() if isinstance(model, bytes) else str(model)
            if not os.path.isfile(model):  # moved together with its state file
                model = os.path.join(os.path.dirname(state_path), os.path.basename(model))
            hist = f["history"]
            if len(hist) != len(self.history):
                raise Error(f"{state_path}: {len(hist)} history blobs for {len(self.history)} learnable blobs in "
                            f"net '{self.net.name}'; wrong network?")
            for i, h in enumerate(self.history):
                src = hist[str(i)]
                if tuple(src.shape) != tuple(h.shape):
                    raise Error(f"{state_path}: history {i} has shape {tuple(src.shape)} but the net's blob has "
                                f"{tuple(h.shape)}")
                h.data[...] = src[()]
            self.net.copy_from(model)
            self._solver.iter = int(f["iter"][()])
            self._solver.current_step = int(f["current_step"][()]) if "current_step" in f else 0
            if "pycolorize_rng" in f:
                rng = f["pycolorize_rng"][()]
                _core.set_rng_state(rng.decode() if isinstance(rng, bytes) else str(rng))
            extra = f["pycolorize_extra"][()] if "pycolorize_extra" in f else None
        return extra.decode() if isinstance(extra, bytes) else extra

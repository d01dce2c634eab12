"""kill -9 at any moment: tools/train.py is killed and resumed with `--resume auto` until it
finishes, and its final weights and momentum must equal, bit for bit, those of a run that was never
interrupted (CPU).

Two ways to kill it:
* at the three moments that matter for the snapshot pair, by a SIGKILL the process sends itself
  from a wrapped os.replace (the rename that publishes each snapshot file): while the weights file
  is still a temporary, between the weights file and the state file, and while the state file is
  a temporary; and once after an explicit resume from an older snapshot, when the state of an
  iteration about to be rewritten has been removed;
* at seeded random moments, from outside, as Slurm, the OOM killer or a power cut would.
After every kill the newest complete snapshot must load and be the one expected.
"""
import csv
import os
import random
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import h5py
import numpy as np
import pytest
from PIL import Image

import pycolorize
from pycolorize import models
from pycolorize.engine.solver import latest_snapshot

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN = os.path.join(ROOT, "tools", "train.py")
MINI = {"conv": (3, 3, 4, 4, 4), "fc": 4, "h_fc1": 5}
ITERS = 40
RANDOM_KILLS = 8

# Runs tools/train.py, SIGKILLing itself just before or just after os.replace publishes the file
# named in KILL_AT ("before:NAME" or "after:NAME").
KILLER = r"""
import os, runpy, signal, sys
when, name = os.environ["KILL_AT"].split(":")
real_replace = os.replace
def replace(src, dst):
    if when == "before" and os.path.basename(dst) == name:
        os.kill(os.getpid(), signal.SIGKILL)
    real_replace(src, dst)
    if when == "after" and os.path.basename(dst) == name:
        os.kill(os.getpid(), signal.SIGKILL)
os.replace = replace
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    t = tmp_path_factory.mktemp("crash")
    photos = t / "photos"
    photos.mkdir()
    rng = np.random.RandomState(0)
    for i in range(6):
        Image.fromarray((rng.rand(72, 80, 3) * 255).astype(np.uint8)).save(photos / f"{i}.png")
    (t / "net.prototxt").write_text(models.train_net("hue_chroma", MINI, batch=2, crop=64, samples=8,
                                                     trunk_filler='type: "msra"'))
    (t / "data.yaml").write_text(f"source: {{type: folder, path: {photos}}}\nshort_side: 72\nmargin: 4\nworkers: 2\n")
    start = time.perf_counter()
    reference = Run(t, "reference")
    assert reference.go().returncode == 0
    # a random kill falls within one iteration, or within the start-up, as long as this run's
    duration = time.perf_counter() - start
    training = float(list(csv.DictReader(open(reference.prefix.parent / "mini_log.csv")))[-1]["elapsed_s"])
    return SimpleNamespace(path=t, iteration=training / ITERS, startup=max(duration - training, 0.1),
                           reference=reference.final())


class Run:
    """One training job (its own snapshot folder), run, killed and resumed as tools/train.py."""

    def __init__(self, t, name):
        self.prefix = t / name / "mini"
        self.solver = t / f"{name}.prototxt"
        self.solver.write_text(models.solver_text(str(t / "net.prototxt"), base_lr=0.01, max_iter=ITERS,
                                                  steps=(ITERS // 2,), prefix=str(self.prefix), snapshot=1,
                                                  random_seed=5))
        self.data = t / "data.yaml"
        # `python -c` puts the current folder first on sys.path: started in the repository root, the
        # child would import the source tree's pycolorize (another build, or none after pip install)
        # instead of the one under test. The tests' own folder holds no package.
        self.cwd = str(t)

    def args(self, resume="auto"):
        return [TRAIN, "--solver", str(self.solver), "--data", str(self.data), "--quiet", "--resume", resume]

    def go(self, kill_at=None, resume="auto"):
        """Run to the end, or until the self-inflicted SIGKILL of `kill_at`."""
        if kill_at is None:
            return subprocess.run([sys.executable] + self.args(resume), capture_output=True, text=True, timeout=120,
                                  cwd=self.cwd)
        env = dict(os.environ, KILL_AT=kill_at)
        return subprocess.run([sys.executable, "-c", KILLER] + self.args(resume), capture_output=True, text=True,
                              timeout=120, env=env, cwd=self.cwd)

    def newest(self):
        """The iteration of the newest complete snapshot (0 if none), after checking that it loads."""
        state = latest_snapshot(self.prefix)
        if state is None:
            return 0
        solver = pycolorize.Solver(str(self.solver))
        solver.restore(state)
        return solver.iter

    def files(self):
        return sorted(os.listdir(self.prefix.parent)) if self.prefix.parent.exists() else []

    def final(self):
        """Every array of the final weights and solver state (all but the state's file path)."""
        base = f"{self.prefix}_iter_{ITERS}"
        arrays = {}
        for path in (base + ".caffemodel.h5", base + ".solverstate.h5"):
            with h5py.File(path) as f:
                f.visititems(lambda name, d: arrays.__setitem__((path[-15:], name), d[()])
                             if isinstance(d, h5py.Dataset) and name != "learned_net" else None)
        return arrays


def assert_same(ours, reference):
    assert ours.keys() == reference.keys()
    for key, value in reference.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(ours[key], value, err_msg=str(key))
        else:
            assert ours[key] == value, key


def test_kills_at_the_snapshot_boundaries(world):
    run = Run(world.path, "boundaries")
    # (kill point, newest complete snapshot left, a file that must be left behind)
    trials = [("before:mini_iter_3.caffemodel.h5", 2, None),   # weights still a temporary
              ("after:mini_iter_5.caffemodel.h5", 4, "mini_iter_5.caffemodel.h5"),   # weights, no state
              ("before:mini_iter_7.solverstate.h5", 6, "mini_iter_7.caffemodel.h5")]  # state a temporary
    for kill_at, newest, left in trials:
        result = run.go(kill_at)
        assert result.returncode == -signal.SIGKILL, (kill_at, result.stderr)
        files = run.files()
        assert [f for f in files if f.startswith(".tmp-")] or left in files, (kill_at, files)
        assert run.newest() == newest, (kill_at, files)
    # An explicit resume from iteration 4 rewrites iterations 5 and 6 (their states removed first):
    # killed once the new weights of 6 are in place, the old state of 6 must be gone.
    result = run.go("after:mini_iter_6.caffemodel.h5", resume=f"{run.prefix}_iter_4.solverstate.h5")
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert run.newest() == 5, run.files()
    result = run.go()
    assert result.returncode == 0, result.stderr
    assert_same(run.final(), world.reference)
    assert logged_iterations(run) == list(range(1, ITERS + 1))  # redone iterations are logged once


def rows(log):
    return len(log.read_text().splitlines()) if log.exists() else 0


def logged_iterations(run):
    with open(run.prefix.parent / "mini_log.csv", newline="") as f:
        return [int(r["iter"]) for r in csv.DictReader(f)]


def test_kills_at_random_moments(world):
    """Each trial lets a random number of the iterations left finish (watching the CSV log, so that
    a loaded machine does not skew it), then kills at a random moment within the next iteration:
    its forward and backward passes, its update or its snapshot. A trial that lets none finish
    kills at a random moment of the start-up instead."""
    run = Run(world.path, "random")
    log = run.prefix.parent / "mini_log.csv"
    rng = random.Random(20161008)  # any fixed seed
    newest, debris = [], []
    for _ in range(RANDOM_KILLS):
        done = newest[-1] if newest else 0
        if done == ITERS:  # killed after its last snapshot, on its way out
            break
        # a resume cuts the log back to its snapshot: the header and one row per iteration done
        finish, before = rng.randrange(ITERS - done), done + 1
        proc = subprocess.Popen([sys.executable] + run.args(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                cwd=run.cwd)
        deadline = time.time() + 60
        while finish and rows(log) < before + finish and proc.poll() is None and time.time() < deadline:
            time.sleep(0.002)
        time.sleep(rng.uniform(0, world.iteration if finish else world.startup))
        proc.kill()
        _, err = proc.communicate()
        if proc.returncode == 0:  # finished before its kill (a slow moment on a loaded machine)
            break
        assert proc.returncode == -signal.SIGKILL, err.decode()
        newest.append(run.newest())
        files = run.files()
        debris.append(len([f for f in files if f.startswith(".tmp-")])
                      + len([f for f in files if f.endswith(".caffemodel.h5")
                             and f.replace(".caffemodel.", ".solverstate.") not in files]))
    print(f"\nnewest complete snapshot after each kill: {newest}; temporaries or lone weights left: {debris}")
    advanced = sum(b > a for a, b in zip([0] + newest, newest))
    assert advanced >= 3, f"too few kills landed during training to test anything: {newest}"
    if run.newest() < ITERS:  # else the run finished (killed after its final snapshot, or before its kill)
        result = run.go()
        assert result.returncode == 0, result.stderr
    assert_same(run.final(), world.reference)
    assert logged_iterations(run) == list(range(1, ITERS + 1))

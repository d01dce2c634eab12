"""tools/train.py and pycolorize.training: a short run with snapshots and a CSV log, an exact resume
(weights and data stream), and Ctrl-C leaving a usable snapshot."""
import csv
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

import pycolorize
from pycolorize import models
from pycolorize.training import train

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MINI = {"conv": (3, 3, 4, 4, 4), "fc": 4, "h_fc1": 5}


@pytest.fixture
def setup(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.RandomState(0)
    for i in range(6):
        Image.fromarray((rng.rand(72, 80, 3) * 255).astype(np.uint8)).save(photos / f"{i}.png")
    (tmp_path / "net.prototxt").write_text(models.train_net("hue_chroma", MINI, batch=2, crop=64, samples=8,
                                                            trunk_filler='type: "msra"'))
    solver = models.solver_text(str(tmp_path / "net.prototxt"), base_lr=0.01, max_iter=6, steps=(4,),
                                prefix=str(tmp_path / "snaps" / "mini"), snapshot=3, random_seed=5)
    (tmp_path / "solver.prototxt").write_text(solver)
    (tmp_path / "data.yaml").write_text(f"source: {{type: folder, path: {photos}}}\nshort_side: 72\nmargin: 4\nworkers: 2\n")
    return tmp_path


def params(net):
    return {(k, i): p.data.copy() for k, ps in net.params.items() for i, p in enumerate(ps)}


def test_train_snapshots_logs_and_resumes_exactly(setup):
    t = setup
    straight = train(str(t / "solver.prototxt"), str(t / "data.yaml"), progress=False)
    assert straight.iter == 6
    snaps = sorted(os.listdir(t / "snaps"))
    assert snaps == ["mini_iter_3.caffemodel.h5", "mini_iter_3.solverstate.h5", "mini_iter_6.caffemodel.h5",
                     "mini_iter_6.solverstate.h5", "mini_log.csv"]
    rows = list(csv.DictReader(open(t / "snaps" / "mini_log.csv")))
    assert [int(r["iter"]) for r in rows] == [1, 2, 3, 4, 5, 6] and all(float(r["loss"]) > 0 for r in rows)
    final = params(straight.net)
    pycolorize.set_random_seed(999)
    resumed = train(str(t / "solver.prototxt"), str(t / "data.yaml"), progress=False,
                    resume=str(t / "snaps" / "mini_iter_3.solverstate.h5"), log=str(t / "resumed.csv"))
    for key, value in params(resumed.net).items():
        np.testing.assert_array_equal(value, final[key], err_msg=str(key))


def test_bad_configs(setup):
    t = setup
    (t / "bad.yaml").write_text("short_side: 256\n")
    with pytest.raises(ValueError, match="needs a 'source'"):
        train(str(t / "solver.prototxt"), str(t / "bad.yaml"), progress=False)
    with pytest.raises(ValueError, match="nothing to do"):
        train(str(t / "solver.prototxt"), str(t / "data.yaml"), progress=False, max_iter=0)


def test_ctrl_c_writes_a_snapshot_and_stops(setup):
    t = setup
    cmd = [sys.executable, os.path.join(ROOT, "tools", "train.py"), "--solver", str(t / "solver.prototxt"),
           "--data", str(t / "data.yaml"), "--max-iter", "100000", "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = t / "snaps" / "mini_log.csv"
    deadline = time.time() + 60
    while time.time() < deadline and (not log.exists() or len(log.read_text().splitlines()) < 3):
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "writing a snapshot" in err
    it = int(out.strip().split()[-1])
    state = t / "snaps" / f"mini_iter_{it}.solverstate.h5"
    assert state.exists() and not [f for f in os.listdir(t / "snaps") if f.startswith(".tmp")]
    solver = pycolorize.Solver(str(t / "solver.prototxt"))
    solver.restore(str(state))
    assert solver.iter == it

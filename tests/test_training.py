"""tools/train.py and pycolorize.training: a short run with snapshots and a CSV log, an exact resume
(weights and data stream), Ctrl-C and SIGTERM leaving a usable snapshot (exit 130 and 143), a
diverging loss stopped with the layer named, snapshots that cannot be written, and the tool's
one-line set-up errors. Kills at random moments: tests/test_crash_safety.py."""
import csv
import errno
import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest
from PIL import Image

import pycolorize
from pycolorize import models
from pycolorize.engine.solver import latest_snapshot
from pycolorize.training.loop import Diverged, load_config, train

from conftest import tool_main

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


def test_from_scratch_net_trains_with_its_lightness_weights_and_snapshots_batchnorm(setup, monkeypatch):
    t = setup
    (t / "net.prototxt").write_text(models.scratch_net(MINI, batch=2, crop=64, samples=8))
    fed = []
    real = pycolorize.data.loader.make_example

    def spy(*a, **k):
        ex = real(*a, **k)
        fed.append(ex)
        return ex

    monkeypatch.setattr(pycolorize.data.loader, "make_example", spy)
    solver = train(str(t / "solver.prototxt"), str(t / "data.yaml"), progress=False)
    # every example carried the chroma-loss weight min(3L, 1, 3(1 - L)) of its samples' gray
    assert fed and all(ex["chroma_weight"].shape == (8,) for ex in fed)
    ex = fed[0]
    gray = ex["data"][0][ex["centroids"][:, 0].astype(int), ex["centroids"][:, 1].astype(int)]
    np.testing.assert_allclose(ex["chroma_weight"], np.minimum(np.minimum(3 * gray, 1), 3 * (1 - gray)), rtol=1e-6)
    # the BatchNorm running statistics are in the snapshot: 6 iterations of moving averages
    with h5py.File(t / "snaps" / "mini_iter_6.caffemodel.h5", "r") as f:
        stats = [f["data"]["conv2_1_bn"][k][()] for k in ("0", "1", "2")]
    assert stats[2][0] == pytest.approx(sum(0.999 ** i for i in range(6)), rel=1e-6)
    assert np.abs(stats[0]).sum() > 0 and (stats[1] > 0).all()
    np.testing.assert_array_equal(stats[0], solver.net.params["conv2_1_bn"][0].data)


def test_resume_auto_under_a_folder_prefix_and_one_snapshot_per_iteration(setup, monkeypatch):
    # Caffe's `snapshot_prefix: "snaps/"` writes snaps/_iter_N.*: --resume auto must find them (it
    # used to look for snaps_iter_N beside the folder and start over, erasing the log).
    t = setup
    solver = models.solver_text(str(t / "net.prototxt"), base_lr=0.01, max_iter=6, steps=(4,),
                                prefix=str(t / "snaps") + "/", snapshot=3, random_seed=5)
    (t / "folder.prototxt").write_text(solver)
    written = []
    real = pycolorize.Solver.snapshot

    def counting(self, *a, **k):
        written.append(self.iter)
        return real(self, *a, **k)

    monkeypatch.setattr(pycolorize.Solver, "snapshot", counting)
    train(str(t / "folder.prototxt"), str(t / "data.yaml"), progress=False, max_iter=4)
    assert latest_snapshot(str(t / "snaps") + "/") == str(t / "snaps" / "_iter_4.solverstate.h5")
    resumed = train(str(t / "folder.prototxt"), str(t / "data.yaml"), progress=False, resume="auto")
    assert resumed.iter == 6
    assert written == [3, 4, 6]  # the periodic snapshot of 6 is also the final one: written once
    rows = list(csv.DictReader(open(t / "snaps" / "_log.csv")))
    assert [int(r["iter"]) for r in rows] == [1, 2, 3, 4, 5, 6]


def test_bad_configs(setup):
    t = setup
    (t / "bad.yaml").write_text("short_side: 256\n")
    with pytest.raises(ValueError, match="needs a 'source'"):
        train(str(t / "solver.prototxt"), str(t / "bad.yaml"), progress=False)
    with pytest.raises(ValueError, match="nothing to do"):
        train(str(t / "solver.prototxt"), str(t / "data.yaml"), progress=False, max_iter=0)


@pytest.mark.parametrize("text, message", [
    ("seed: [1]\n", "seed must be an integer, got \\[1\\]"),
    ("margin: abc\n", "margin must be an integer, got 'abc'"),
    ("short_side: 2.5\n", "short_side must be an integer, got 2.5"),
    ("mirror: 3\n", "mirror must be true or false, got 3"),
    ("mean_shift: true\n", "mean_shift must be a number, got True"),
    ("workers: 0\n", "workers must be at least 1"),
    ("seed: -1\n", "seed must not be negative"),
    ("mean_shift: .nan\n", "mean_shift must be a finite number"),
    ("exposure: -0.1\n", "exposure must be between 0 \\(off\\) and 2"),
    ("exposure: .inf\n", "exposure must be between 0 \\(off\\) and 2"),
    ("shortside: 256\n", "unknown key\\(s\\) shortside; known: source, short_side"),
])
def test_config_keys_are_checked_and_named(tmp_path, text, message):
    path = tmp_path / "data.yaml"
    path.write_text("source: {type: folder, path: photos}\n" + text)
    with pytest.raises(ValueError, match=f"^{path}: {message}"):
        load_config(str(path))
    assert load_config({"source": {}, "mean_shift": 1})["mean_shift"] == 1.0  # an int where a float goes
    assert load_config({"source": {}, "seed": 10**400})["seed"] == 10**400  # no float() of a big int (OverflowError)


def test_config_and_solver_that_are_not_utf8_are_errors_naming_the_file(tmp_path):
    path = tmp_path / "data.yaml"
    path.write_bytes(b"source: {type: folder, path: ph\xffotos}\n")
    with pytest.raises(ValueError, match=f"^{path}: not valid YAML: .*invalid start byte"):
        load_config(str(path))
    solver = tmp_path / "solver.prototxt"
    solver.write_bytes(b'net: "tr\xffain.prototxt"\nbase_lr: 0.1\n')
    with pytest.raises(pycolorize.Error, match=rf'^{solver}:1:6: string "tr\\xFFain.prototxt" is not valid UTF-8'):
        pycolorize.Solver(str(solver))


@pytest.mark.parametrize("sig, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_writes_a_snapshot_and_exits_128_plus_signal(setup, sig, status):
    """Ctrl-C, and SIGTERM (Slurm's and Kubernetes' notice before pre-emption), finish the
    iteration, write a snapshot and exit 128 + the signal's number."""
    t = setup
    cmd = [sys.executable, os.path.join(ROOT, "tools", "train.py"), "--solver", str(t / "solver.prototxt"),
           "--data", str(t / "data.yaml"), "--max-iter", "100000", "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = t / "snaps" / "mini_log.csv"
    deadline = time.time() + 60
    while time.time() < deadline and (not log.exists() or len(log.read_text().splitlines()) < 3):
        time.sleep(0.1)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == status, err
    assert f"{sig.name}: finishing this iteration, then writing a snapshot" in err and "Traceback" not in err
    it = int(out.strip().split()[-1])
    state = t / "snaps" / f"mini_iter_{it}.solverstate.h5"
    assert latest_snapshot(t / "snaps" / "mini") == str(state)
    assert not [f for f in os.listdir(t / "snaps") if f.startswith(".tmp")]
    solver = pycolorize.Solver(str(t / "solver.prototxt"))
    solver.restore(str(state))
    assert solver.iter == it


def poison(t, layer, value):
    """A weights file for the mini net whose `layer` weights hold one `value` (NaN, inf)."""
    solver = pycolorize.Solver(str(t / "solver.prototxt"))
    solver.net.params[layer][0].data.flat[0] = value
    path = t / "poisoned.caffemodel.h5"
    solver.net.save(path)
    return path


def test_non_finite_loss_names_iteration_and_first_layer(setup):
    """An infinity in conv3_1's weights makes conv3_1 the first layer with a non-finite output (the
    layers before it are finite, those after it non-finite too): the error must name it and the
    iteration, and nothing is snapshotted."""
    t = setup
    with pytest.raises(Diverged, match=r"^iteration 1: the loss is nan; the first non-finite output is blob 'conv3_1' "
                                       r"of layer 'conv3_1'; training stopped, no snapshot was written$"):
        train(str(t / "solver.prototxt"), str(t / "data.yaml"), weights=poison(t, "conv3_1", np.inf), progress=False)
    assert not [f for f in os.listdir(t / "snaps") if f.endswith(".h5")]


def test_divergence_keeps_the_last_good_snapshot(setup):
    """A rate of 1e6 blows the weights up within a few iterations; with a snapshot every iteration,
    the newest left must be finite and older than the iteration the error names."""
    t = setup
    (t / "solver.prototxt").write_text(models.solver_text(
        str(t / "net.prototxt"), base_lr=1e6, max_iter=30, prefix=str(t / "snaps" / "mini"), snapshot=1, random_seed=5))
    with pytest.raises(Diverged) as info:
        train(str(t / "solver.prototxt"), str(t / "data.yaml"), progress=False)
    bad_iter = int(str(info.value).split(":")[0].split()[-1])
    state = latest_snapshot(t / "snaps" / "mini")
    assert state and state.endswith(f"mini_iter_{bad_iter - 1}.solverstate.h5"), (state, str(info.value))
    assert "last good" in str(info.value) and state in str(info.value)
    with h5py.File(state.replace("solverstate", "caffemodel")) as f:
        f["data"].visititems(lambda name, d: None if not isinstance(d, h5py.Dataset) or np.isfinite(d[()]).all()
                             else pytest.fail(f"non-finite {name} in the last snapshot"))


def test_non_finite_parameters_are_never_snapshotted(setup, monkeypatch):
    """An update can leave a parameter non-finite while the loss that produced it was finite; the
    check before each snapshot catches it (here a NaN put into h_fc1 right after iteration 3's
    update, just before its snapshot)."""
    t = setup
    step = pycolorize.Solver.step

    def poisoned_step(self, *args, **kw):
        loss = step(self, *args, **kw)
        if self.iter == 3:
            self.net.params["h_fc1"][0].data.flat[0] = np.nan
        return loss
    monkeypatch.setattr(pycolorize.Solver, "step", poisoned_step)
    with pytest.raises(Diverged, match=r"^iteration 3: parameter 0 of layer 'h_fc1' is not finite; training stopped "
                                       r"without writing a snapshot$"):
        train(str(t / "solver.prototxt"), str(t / "data.yaml"), progress=False)
    assert latest_snapshot(t / "snaps" / "mini") is None


def test_unwritable_snapshot_is_a_clear_error_and_keeps_the_previous(setup, monkeypatch):
    """As root, chmod cannot make a folder read-only, so: (1) the disk fills while iteration 6's
    snapshot is written (ENOSPC injected into the fsync every snapshot file ends with): the error
    names the file and the OS error, and iteration 3's snapshot is untouched and still the newest;
    (2) a snapshot folder whose name a file has taken: an error naming the path."""
    t = setup
    train(str(t / "solver.prototxt"), str(t / "data.yaml"), progress=False, max_iter=3)
    snaps = t / "snaps"
    before = {n: (snaps / n).read_bytes() for n in os.listdir(snaps) if n.endswith(".h5")}

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(pycolorize.Error, match=r"cannot write .*mini_iter_6.caffemodel.h5: \[Errno 28\] No space left"):
        train(str(t / "solver.prototxt"), str(t / "data.yaml"), progress=False, resume="auto")
    monkeypatch.undo()
    assert {n: (snaps / n).read_bytes() for n in os.listdir(snaps) if n.endswith(".h5")} == before
    assert latest_snapshot(snaps / "mini") == str(snaps / "mini_iter_3.solverstate.h5")
    (t / "afile").write_text("")
    with pytest.raises(pycolorize.Error, match=r"cannot write snapshot .*afile/x_iter_3.caffemodel.h5: \[Errno 17\] File exists: .*afile"):
        train(str(t / "solver.prototxt"), str(t / "data.yaml"), progress=False, max_iter=3,
              snapshot_prefix=str(t / "afile" / "x"), log=str(t / "x.csv"))


def one_line_error(capsys, main, argv, *needles):
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("train.py: ") and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err


def test_tool_set_up_errors_are_one_line(setup, capsys):
    t = setup
    main = tool_main("train.py")
    run = ["--solver", str(t / "solver.prototxt"), "--data", str(t / "data.yaml"), "--quiet"]
    one_line_error(capsys, main, ["--solver", str(t / "none.prototxt"), "--data", str(t / "data.yaml")], "none.prototxt")
    one_line_error(capsys, main, run[:3] + [str(t / "none.yaml")], "none.yaml")
    (t / "bad.yaml").write_text("source: {type: folder\nshort_side: [\n")
    one_line_error(capsys, main, run[:3] + [str(t / "bad.yaml")], "bad.yaml: not valid YAML", "line 2")
    one_line_error(capsys, main, run + ["--weights", str(poison(t, "conv3_1", np.nan))],
                   "iteration 1: the loss is nan", "layer 'conv3_1'")
    with pytest.raises(SystemExit) as usage:  # --gpu needs its ID and so cannot swallow what follows
        main(["--gpu", "--solver", "s", "--data", "d"])
    assert usage.value.code == 2 and "--gpu: expected one argument" in capsys.readouterr().err
    if not (pycolorize.cuda_compiled() and pycolorize.gpu_count() > 0):
        one_line_error(capsys, main, run + ["--gpu", "0"], "--gpu")
    one_line_error(capsys, main, run + ["--gpu", "99"], "--gpu")


# ---- the resume steps one by one, against hand-made answers ------------------------------------

class FakeLoader:
    def __init__(self, state=None):
        self.restored, self._state = [], state

    def restore(self, state):
        self.restored.append(state)

    def state(self):
        return self._state


def test_a_resumed_log_loses_exactly_the_rows_past_the_snapshot(tmp_path):
    from pycolorize.training import loop

    log = tmp_path / "log.csv"
    log.write_text("iter,loss\n1,0.5\n2,0.4\n3,0.3\n\n10,0.2\nnote,x\n4,0.1\n")
    loop._truncate_log(str(log), 3)
    assert log.read_text().splitlines() == ["iter,loss", "1,0.5", "2,0.4", "3,0.3"]
    inode = os.stat(log).st_ino
    loop._truncate_log(str(log), 3)  # nothing past it: the file is left as it is, not rewritten
    assert os.stat(log).st_ino == inode and log.read_text().splitlines()[-1] == "3,0.3"
    loop._truncate_log(str(log), 0)  # the header stays
    assert log.read_text().splitlines() == ["iter,loss"]


def test_each_rank_resumes_its_own_data_position_or_else_the_furthest(tmp_path):
    import json
    import warnings

    from pycolorize.training import loop

    ranks = [{"epoch": 2, "index": 5, "seed": 1}, {"epoch": 2, "index": 9, "seed": 1}, {"epoch": 1, "index": 30, "seed": 1}]
    extra = json.dumps({"data": ranks[0], "ranks": ranks, "world_size": 3})
    for rank in range(3):  # as many ranks as wrote it: each its own
        loader = FakeLoader()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            loop._restore_data(loader, extra, rank, 3, "snap.solverstate.h5")
        assert loader.restored == [ranks[rank]]
    for world in (1, 2, 4):  # another number of ranks: every rank from the furthest (epoch, then index)
        for rank in range(world):
            loader = FakeLoader()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                loop._restore_data(loader, extra, rank, world, "snap.solverstate.h5")
            assert loader.restored == [ranks[1]]
            messages = [str(w.message) for w in caught]
            if rank == 0:
                assert len(messages) == 1 and messages[0].startswith(
                    f"snap.solverstate.h5: written by 3 ranks, resumed on {world}:")
                assert "(epoch 2, position 9)" in messages[0]
            else:
                assert messages == []
    # a one-process snapshot ({"data": ...} only) on one process, and on two
    single = json.dumps({"data": {"epoch": 0, "index": 7, "seed": 3}})
    loader = FakeLoader()
    loop._restore_data(loader, single, 0, 1, "s")
    assert loader.restored == [{"epoch": 0, "index": 7, "seed": 3}]
    with pytest.warns(UserWarning, match="written by 1 rank, resumed on 2"):
        loop._restore_data(FakeLoader(), single, 0, 2, "s")


def test_the_data_positions_of_all_ranks_are_gathered(tmp_path):
    from pycolorize.training import loop

    class Ctx:  # an allreduce that adds the other ranks' rows, as MPI would
        rank, world = 1, 3

        def allreduce(self, table):
            assert table.dtype == np.float64 and table.shape == (3, 3) and not table[[0, 2]].any()
            table[0], table[2] = (4, 10, 7), (4, 12, 7)

    out = loop._positions(Ctx(), FakeLoader({"epoch": 4, "index": 11, "seed": 7}))
    assert out == [{"epoch": 4, "index": 10, "seed": 7}, {"epoch": 4, "index": 11, "seed": 7},
                   {"epoch": 4, "index": 12, "seed": 7}]
    assert all(type(v) is int for row in out for v in row.values())


def bare_run(tmp_path, lead=True, iteration=3, extra=None):
    """A training run's steps without a net: a solver that only knows its iteration and what its
    state file holds."""
    from pycolorize.training import loop

    class Solver:
        iter = iteration
        restored = []

        def restore(self, path):
            self.restored.append(path)
            return extra

    run = object.__new__(loop._Run)
    run.solver, run.ctx, run.prefix, run.rank, run.world, run.lead = Solver(), None, str(tmp_path / "out" / "m"), 0, 1, lead
    run.loader = FakeLoader()
    return run


def test_the_log_is_new_unless_resumed_and_then_cut_at_the_snapshot(tmp_path):
    run = bare_run(tmp_path)
    f, new = run.open_log(None, resumed=False)  # the default name beside the snapshots, its folder made
    with f:
        assert new and f.name == str(tmp_path / "out" / "m_log.csv")
        f.write("iter,loss\n1,0.5\n2,0.4\n3,0.3\n4,0.2\n")
    f, new = run.open_log(None, resumed=True)  # resumed at 3: row 4 goes, the rest is appended to
    with f:
        assert not new
        f.write("4,0.25\n")
    assert (tmp_path / "out" / "m_log.csv").read_text() == "iter,loss\n1,0.5\n2,0.4\n3,0.3\n4,0.25\n"
    f, new = run.open_log(None, resumed=False)  # a fresh start replaces it
    with f:
        assert new
    assert (tmp_path / "out" / "m_log.csv").read_text() == ""
    f, new = run.open_log(str(tmp_path / "elsewhere" / "log.csv"), resumed=True)  # resumed, but no log yet
    with f:
        assert new and os.path.dirname(f.name) == str(tmp_path / "elsewhere")
    f, new = bare_run(tmp_path, lead=False).open_log(str(tmp_path / "rank1.csv"), resumed=False)
    with f:  # the other ranks write nowhere
        assert f.name == os.devnull and not new
    assert not (tmp_path / "rank1.csv").exists()


def test_a_resume_restores_the_solver_then_the_data_position(tmp_path):
    import json

    position = {"epoch": 1, "index": 4, "seed": 0}
    run = bare_run(tmp_path, extra=json.dumps({"data": position}))
    run.resume("s.solverstate.h5")
    assert run.solver.restored == ["s.solverstate.h5"] and run.loader.restored == [position]
    run = bare_run(tmp_path, extra=json.dumps({"data": position}))
    run.resume(None)  # a fresh start: nothing restored
    assert run.solver.restored == [] and run.loader.restored == []
    run = bare_run(tmp_path, extra=None)  # a state file without a data position (Caffe's own)
    run.resume("caffe.solverstate.h5")
    assert run.solver.restored == ["caffe.solverstate.h5"] and run.loader.restored == []


def test_a_resume_on_ranks_takes_rank_zeros_state_then_each_ranks_position(tmp_path):
    import json
    import warnings

    ranks = [{"epoch": 3, "index": 1, "seed": 2}, {"epoch": 3, "index": 2, "seed": 2}]
    extra = json.dumps({"data": ranks[0], "ranks": ranks, "world_size": 2})

    class Ctx:  # rank `rank` of `world`; the broadcasts hand rank 0's values on, as MPI would
        def __init__(self, rank, world):
            self.rank, self.world, self.sent = rank, world, []

        def broadcast_bytes(self, data):
            self.sent.append(("bytes", data))
            return data

        def broadcast_params(self, net):
            self.sent.append(("params", net))

        def broadcast_arrays(self, arrays):
            self.sent.append(("arrays", len(arrays)))

    for world, rank, want in ((2, 0, ranks[0]), (3, 0, ranks[1])):
        run = bare_run(tmp_path, extra=extra)
        run.ctx, run.rank, run.world = Ctx(rank, world), rank, world
        run.solver.iter, run.solver.current_step, run.solver.net, run.solver.history = 7, 1, "NET", []
        positions = []
        run.solver.set_position = lambda it, step: positions.append((it, step))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            run.resume("snap.solverstate.h5")
        assert run.solver.restored == ["snap.solverstate.h5"] and run.loader.restored == [want]
        assert [k for k, _ in run.ctx.sent] == ["bytes", "params", "arrays"] and run.ctx.sent[1][1] == "NET"
        assert positions == [(7, 1)]
        assert [str(w.message).split(":")[0] for w in caught] == ([] if world == 2 else ["snap.solverstate.h5"])


def test_the_resume_warning_counts_ranks_in_words():
    import json

    from pycolorize.training import loop

    two = json.dumps({"ranks": [{"epoch": 0, "index": i, "seed": 0} for i in range(2)]})
    with pytest.warns(UserWarning, match=r"^s: written by 2 ranks, resumed on 1: every rank continues"):
        loop._restore_data(FakeLoader(), two, 0, 1, "s")


def test_the_other_ranks_log_is_a_sink_that_takes_writes(tmp_path):
    f, new = bare_run(tmp_path, lead=False).open_log(None, resumed=True)
    with f:
        f.write("iter,loss\n")  # written and dropped
    assert not new

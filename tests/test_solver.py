"""The SGD solver: real Caffe's trajectory (tests/data/solver, the golden A3 set: five steps, plain
and with iter_size 2), every lr policy, gradient clipping, snapshots that are complete or absent,
and a bit-identical resume on the CPU."""
import csv
import os
import re

import h5py
import numpy as np
import pytest

import pycolorize
from pycolorize.training.loop import train

from conftest import DATA, assert_close, cpu_path
from test_training import setup  # noqa: F401 (a fixture: a tiny colorization net, photos and a data config)

TOL = 1e-5
# Parameters (~0.1) and their updates (~1e-3, down to 1e-5) are checked element by element:
# |ours - Caffe| <= ATOL + TOL |Caffe|. Measured on the CPU: at most 1.5e-8 absolute on the
# parameters and 1e-9 on the updates (float32 rounding of other summation orders).
ATOL = 1e-8
SOLVER_DIR = os.path.join(DATA, "solver")
GOLD = np.load(os.path.join(SOLVER_DIR, "solver.npz"))
PARAMS = [("conv", 0), ("conv", 1), ("ip", 0), ("ip", 1)]


def golden_solver(monkeypatch, name):
    monkeypatch.chdir(SOLVER_DIR)  # Caffe resolves `net:` against the current directory
    solver = pycolorize.Solver(name)
    for layer, i in PARAMS:
        solver.net.params[layer][i].data[...] = GOLD[f"init__{layer}__{i}"]
    return solver


def test_sgd_matches_caffe_step_by_step(device, monkeypatch):
    check_sgd_steps(monkeypatch)


@pytest.mark.parametrize("path", ["kernel_rows", "winograd"])
def test_sgd_matches_caffe_on_every_cpu_path(monkeypatch, path):
    # the CPU's other ways to run a convolution (conftest.CPU_PATHS), forced wherever they apply
    with cpu_path(path):
        check_sgd_steps(monkeypatch)


def check_sgd_steps(monkeypatch):
    solver = golden_solver(monkeypatch, "solver.prototxt")
    rates = []
    for step in range(5):
        solver.net.blobs["data"].data[...] = GOLD[f"step{step}__data"]
        solver.net.blobs["label"].data[...] = GOLD[f"step{step}__label"]
        loss = solver.step(1)
        rates.append(solver.learning_rate)
        assert_close(loss, GOLD[f"step{step}__loss"], TOL, f"step {step} loss")
        for layer, i in PARAMS:
            p = solver.net.params[layer][i]
            assert_close(p.data, GOLD[f"step{step}__param__{layer}__{i}"], TOL, f"step {step} {layer}[{i}]", atol=ATOL)
            assert_close(p.diff, GOLD[f"step{step}__update__{layer}__{i}"], TOL, f"step {step} update {layer}[{i}]",
                         atol=ATOL)
    assert solver.iter == 5
    # the final weights equal the ones Caffe saved (its HDF5 file loads into our net as is)
    ref = pycolorize.Net(os.path.join(SOLVER_DIR, "train.prototxt"), phase="train",
                         weights=os.path.join(SOLVER_DIR, "final_plain.caffemodel.h5"))
    for layer, i in PARAMS:
        assert_close(solver.net.params[layer][i].data, ref.params[layer][i].data, TOL, f"final {layer}[{i}]", atol=ATOL)


def test_iter_size_averages_sub_batches_like_caffe(device, monkeypatch):
    solver = golden_solver(monkeypatch, "solver_iter_size2.prototxt")
    for step in range(5):
        subs = iter(range(2))

        def feed():
            s = next(subs)
            solver.net.blobs["data"].data[...] = GOLD[f"is2_step{step}_sub{s}__data"]
            solver.net.blobs["label"].data[...] = GOLD[f"is2_step{step}_sub{s}__label"]

        loss = solver.step(1, before_forward=feed)
        mean = (GOLD[f"is2_step{step}_sub0__loss"] + GOLD[f"is2_step{step}_sub1__loss"]) / 2
        assert_close(loss, mean, TOL, f"step {step} loss")
        for layer, i in PARAMS:
            p = solver.net.params[layer][i]
            assert_close(p.data, GOLD[f"is2_step{step}__param__{layer}__{i}"], TOL, f"step {step} {layer}[{i}]", atol=ATOL)
            assert_close(p.diff, GOLD[f"is2_step{step}__update__{layer}__{i}"], TOL, f"update {layer}[{i}]", atol=ATOL)


TINY_NET = """name: "t"
layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 4 dim: 6 } } }
layer { name: "y" type: "Input" top: "y" input_param { shape { dim: 4 } } }
layer { name: "ip1" type: "InnerProduct" bottom: "x" top: "h" inner_product_param { num_output: 8
        weight_filler { type: "gaussian" std: 0.5 } } }
layer { name: "drop" type: "Dropout" bottom: "h" top: "h" }
layer { name: "ip2" type: "InnerProduct" bottom: "h" top: "z" param { lr_mult: 2 decay_mult: 0 }
        param { lr_mult: 1 } inner_product_param { num_output: 3 weight_filler { type: "xavier" } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "z" bottom: "y" top: "loss" }
"""


def write_solver(tmp_path, extra, net=TINY_NET, momentum=0.9, weight_decay=0.01):
    (tmp_path / "net.prototxt").write_text(net)
    text = (f'net: "{tmp_path / "net.prototxt"}"\nbase_lr: 0.1\nmomentum: {momentum}\nweight_decay: {weight_decay}\n'
            f'random_seed: 3\n{extra}')
    path = tmp_path / "solver.prototxt"
    path.write_text(text)
    return str(path)


def feed(solver, it):
    rng = np.random.RandomState(100 + it)
    solver.net.blobs["x"].data[...] = rng.randn(4, 6)
    solver.net.blobs["y"].data[...] = rng.randint(0, 3, 4)


@pytest.mark.parametrize("policy,extra,expect", [
    ("fixed", "", lambda it: 0.1),
    ("step", "gamma: 0.5 stepsize: 3", lambda it: 0.1 * 0.5 ** (it // 3)),
    ("exp", "gamma: 0.9", lambda it: 0.1 * 0.9 ** it),
    ("inv", "gamma: 0.1 power: 0.75", lambda it: 0.1 * (1 + 0.1 * it) ** -0.75),
    ("poly", "power: 2 max_iter: 10", lambda it: 0.1 * (1 - it / 10) ** 2),
    ("sigmoid", "gamma: -0.5 stepsize: 4", lambda it: 0.1 / (1 + np.exp(0.5 * (it - 4)))),
])
def test_lr_policies(tmp_path, policy, extra, expect):
    solver = pycolorize.Solver(write_solver(tmp_path, f'lr_policy: "{policy}" {extra}'))
    for it in range(8):
        assert solver.learning_rate == pytest.approx(expect(it), rel=1e-6), (policy, it)
        feed(solver, it)
        solver.step(1)


MULTS = {("ip1", 0): (1, 1), ("ip1", 1): (1, 1), ("ip2", 0): (2, 0), ("ip2", 1): (1, 1)}  # (lr_mult, decay_mult)


def test_multistep_and_the_update_formula(tmp_path):
    solver = pycolorize.Solver(write_solver(tmp_path, 'lr_policy: "multistep" gamma: 0.1 stepvalue: 2 stepvalue: 4'))
    net = solver.net
    hist = {key: 0.0 for key in MULTS}
    for it in range(6):
        rate = 0.1 * 0.1 ** sum(it >= s for s in (2, 4))
        assert solver.learning_rate == pytest.approx(rate), it
        before = {(k, i): p.data.copy() for k, ps in net.params.items() for i, p in enumerate(ps)}
        feed(solver, it)
        pycolorize.set_random_seed(it)  # the same Dropout mask for our gradient and the step's
        net.forward()
        net.clear_param_diffs()
        net.backward()
        grads = {(k, i): p.diff.copy() for k, ps in net.params.items() for i, p in enumerate(ps)}
        pycolorize.set_random_seed(it)
        solver.step(1)
        for (k, i), (lr_mult, decay_mult) in MULTS.items():
            g = grads[k, i] + 0.01 * decay_mult * before[k, i]
            hist[k, i] = 0.9 * hist[k, i] + rate * lr_mult * g
            assert_close(net.params[k][i].data, before[k, i] - hist[k, i], 1e-6, f"iter {it} {k}[{i}]")


def test_clip_gradients_bounds_the_global_norm(tmp_path):
    solver = pycolorize.Solver(write_solver(tmp_path, "clip_gradients: 0.01", momentum=0, weight_decay=0))
    feed(solver, 0)
    before = {k: [p.data.copy() for p in ps] for k, ps in solver.net.params.items()}
    solver.step(1)
    # with momentum 0 and no decay the applied update is rate * clipped gradient
    sq = sum(float(((before[k][i] - p.data) ** 2).sum()) for k, ps in solver.net.params.items() for i, p in enumerate(ps)
             if not (k == "ip2" and i == 0))
    sq += float((((before["ip2"][0] - solver.net.params["ip2"][0].data) / 2) ** 2).sum())  # lr_mult 2
    assert np.sqrt(sq) == pytest.approx(0.1 * 0.01, rel=1e-4)


def run(solver, start, stop):
    for it in range(start, stop):
        feed(solver, it)
        solver.step(1)


def test_resume_is_bit_identical_on_the_cpu(tmp_path):
    path = write_solver(tmp_path, f'lr_policy: "multistep" gamma: 0.5 stepvalue: 2 stepvalue: 5\n'
                                  f'snapshot_prefix: "{tmp_path / "snap"}"')
    straight = pycolorize.Solver(path)
    run(straight, 0, 8)
    first = pycolorize.Solver(path)
    run(first, 0, 3)
    model, state = first.snapshot()
    assert os.path.basename(model) == "snap_iter_3.caffemodel.h5" and os.path.isfile(state)
    pycolorize.set_random_seed(12345)  # the state file must bring the Dropout generator back
    resumed = pycolorize.Solver(path)
    resumed.restore(state)
    assert resumed.iter == 3
    run(resumed, 3, 8)
    for k, ps in straight.net.params.items():
        for i, p in enumerate(ps):
            np.testing.assert_array_equal(resumed.net.params[k][i].data, p.data, err_msg=f"{k}[{i}]")
    with h5py.File(state) as f:  # Caffe's HDF5 solver-state layout
        assert int(f["iter"][()]) == 3 and int(f["current_step"][()]) == 1 and len(f["history"]) == 4


def test_interrupted_snapshot_leaves_the_previous_one(tmp_path, monkeypatch):
    path = write_solver(tmp_path, f'snapshot_prefix: "{tmp_path / "snap"}"')
    solver = pycolorize.Solver(path)
    run(solver, 0, 2)
    model, state = solver.snapshot()
    saved = open(model, "rb").read(), open(state, "rb").read()
    run(solver, 2, 2)  # same iteration: the next snapshot would overwrite these files

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(h5py.Group, "create_dataset", boom)
    with pytest.raises(KeyboardInterrupt):
        solver.snapshot()
    monkeypatch.undo()
    assert (open(model, "rb").read(), open(state, "rb").read()) == saved
    assert sorted(os.listdir(tmp_path)) == ["net.prototxt", "snap_iter_2.caffemodel.h5", "snap_iter_2.solverstate.h5",
                                            "solver.prototxt"]


def test_solver_errors(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.prototxt").write_text('net: "missing.prototxt"\nbase_lr: 0.1\n')
    with pytest.raises(FileNotFoundError, match="resolved against the current directory"):
        pycolorize.Solver(str(tmp_path / "s.prototxt"))
    with pytest.raises(pycolorize.Error, match="unknown lr_policy 'cosine'"):
        pycolorize.Solver(write_solver(tmp_path, 'lr_policy: "cosine"'))
    with pytest.raises(pycolorize.Error, match="lr_policy step needs stepsize"):
        pycolorize.Solver(write_solver(tmp_path, 'lr_policy: "step" gamma: 0.1'))
    with pytest.raises(pycolorize.Error, match="'ADAM' is not implemented"):
        pycolorize.Solver(write_solver(tmp_path, 'type: "ADAM"'))


@pytest.mark.parametrize("extra,message", [
    ('type: "Adam"', "type 'Adam' is not implemented; pycolorize's solver is SGD with momentum"),
    ("solver_type: NESTEROV", "solver_type 'NESTEROV' is not implemented"),
    ('solver_type: SGD type: "SGD"', "type and solver_type are both given"),
    ('train_net: "other.prototxt"', "net and train_net are both given"),
    ("snapshot_format: BINARYPROTO", "snapshot_format BINARYPROTO is not implemented; pycolorize writes HDF5"),
    ('lr_policy: "step" gamma: 0.5 stepsize: 0', "stepsize must be positive for lr_policy step, got 0"),
    ('lr_policy: "poly" power: 1 max_iter: 0', "max_iter must be positive for lr_policy poly, got 0"),
    ("average_loss: 0", "average_loss must be at least 1, got 0"),
    ("display: -5", "display must not be negative, got -5"),
    ("snapshot: -1", "snapshot must not be negative, got -1"),
])
def test_fields_we_do_not_implement_are_one_line_errors_naming_file_and_field(tmp_path, extra, message):
    """Refused while the solver file is read, before the net is built (the net file is missing
    here), with the file, line and column of the field at fault."""
    path = write_solver(tmp_path, extra)
    os.remove(tmp_path / "net.prototxt")
    with pytest.raises(pycolorize.Error, match=rf"^{re.escape(path)}:6:\d+: {message}") as e:
        pycolorize.Solver(path)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("extra,warning", [
    ("solver_mode: GPU", "solver_mode GPU is not followed: this run is on the CPU, as the caller chose"),
    ("solver_mode: CPU", None),
    ("debug_info: true", r"debug_info true is not implemented \(Caffe's per-layer data and gradient norms\)"),
    ("debug_info: false", None),
    ("test_iter: 10 test_interval: 100", "test_iter, test_interval ignored: pycolorize runs no test nets"),
    ("display: 20 device_id: 0", None),  # device_id is looked at in GPU mode only
])
def test_device_debug_and_test_fields_warn_when_not_followed(tmp_path, recwarn, extra, warning):
    pycolorize.Solver(write_solver(tmp_path, extra))
    said = [str(w.message) for w in recwarn if issubclass(w.category, UserWarning)]
    if warning is None:
        assert said == []
    else:
        assert len(said) == 1 and re.match(rf"{re.escape(str(tmp_path / 'solver.prototxt'))}: {warning}", said[0]), said


def test_device_id_other_than_the_one_in_use_warns(device, tmp_path, recwarn):
    if device != "gpu":
        pytest.skip("device_id matters in GPU mode only")
    pycolorize.set_device(0)
    pycolorize.Solver(write_solver(tmp_path, "device_id: 0"))
    pycolorize.Solver(write_solver(tmp_path, "device_id: 1"))
    assert [str(w.message) for w in recwarn if "device_id" in str(w.message)] == [
        f"{tmp_path / 'solver.prototxt'}: device_id 1 is not followed: this run is on GPU 0, as the caller chose "
        f"(the tools' --gpu ID, pycolorize.use_gpu())"]


def test_display_prints_caffes_line_every_display_iterations(setup, capsys):
    """display: 2 over six iterations: Caffe's "Iteration i, loss = ..., lr = ..." at i = 0, 2, 4
    (numbered before the update, as Caffe does), with the loss averaged over average_loss as in the
    CSV log's smoothed_loss; display: 0 prints none."""
    t = setup
    solver = t / "solver.prototxt"
    solver.write_text(solver.read_text().replace("display: 5", "display: 2").replace("average_loss: 250",
                                                                                    "average_loss: 2"))
    train(str(solver), str(t / "data.yaml"), log=str(t / "a.csv"))
    lines = [l for l in capsys.readouterr().err.splitlines() if l.startswith("Iteration ")]
    rows = list(csv.DictReader(open(t / "a.csv")))
    assert lines == [f"Iteration {int(r['iter']) - 1}, loss = {r['smoothed_loss']}, lr = {r['lr']}"
                     for r in rows if int(r["iter"]) in (1, 3, 5)]
    assert rows[1]["smoothed_loss"] == f"{(float(rows[0]['loss']) + float(rows[1]['loss'])) / 2:.6g}"
    solver.write_text(solver.read_text().replace("display: 2", "display: 0"))
    for f in (t / "snaps").iterdir():
        f.unlink()
    train(str(solver), str(t / "data.yaml"), log=str(t / "b.csv"))
    err = capsys.readouterr().err
    assert "Iteration" not in err and "train: 6/6 it, 100 %" in err

"""The benchmark measures what it says: its PyTorch twins compute the networks of the prototxts (so a
change to models.py cannot leave the benchmark timing a different net), one training step of the
twin is one step of our solver, and the memory and large-photo reporters run and print their
figures (tiny nets and photos here; the real sizes are `pycolorize benchmark`'s job). The twins
need PyTorch and are skipped without it."""
import argparse
import os
import subprocess
import sys

import numpy as np
import pytest

import pycolorize
from pycolorize.cli.benchmark import train as bt
from pycolorize.cli.benchmark import command as bench
from pycolorize import cli
from pycolorize.cli import CommandError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY_DEPLOY = os.path.join(ROOT, "prototxt", "tiny_deploy.prototxt")
NARROW = {"conv": (4, 4, 8, 8, 8), "fc": 8, "h_fc1": 8}


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("w") / "w.caffemodel.h5")
    bench.make_weights(path, TINY_DEPLOY)
    return path


def bench_args(**kw):
    args = dict(sizes=[64], runs=1, threads=1, profile=False, gpu=None, tf32=False, train_iters=None, train_rounds=1, photo=(96, 64),
                torch_compile=False, prototxt=TINY_DEPLOY, quiet=False)
    args.update(kw)
    return argparse.Namespace(**args)


@pytest.mark.parametrize("graph,channels_last", [("caffe", False), ("grouped", False), ("grouped", True)])
def test_dense_twins_match_the_deploy_net(torch, tiny_weights, graph, channels_last):
    x = np.random.RandomState(1).rand(1, 1, 64, 64).astype(np.float32)
    ours = bench.run_ours(64, 1, tiny_weights, x, False, prototxt=TINY_DEPLOY)
    theirs = bench.run_torch(64, 1, tiny_weights, x, False, graph=graph, channels_last=channels_last, prototxt=TINY_DEPLOY)
    assert bench.same_outputs(ours, theirs, tol=1e-4) < 1e-4
    theirs["out"] = theirs["out"][:, :, ::-1]  # a twin computing something else is refused
    with pytest.raises(CommandError, match="not the network of the prototxt"):
        bench.same_outputs(ours, theirs)


@pytest.mark.parametrize("scratch", [False, True])
def test_training_twin_has_the_prototxts_tensors(torch, scratch):
    net = bt.torch_train_net(scratch)  # check_twin runs inside: the shapes match models.py's net
    shapes = [p.shape for p in net.parameters()]
    assert len(shapes) == 2 * (len(bt.train_prototxt(scratch).split('type: "Convolution"')) - 1 + 3)
    text = bt.train_prototxt(scratch, batch=1, crop=64, samples=1)
    with pytest.raises(CommandError, match="differs from the prototxt"):
        bt.check_twin(shapes[:-2], text)  # a head missing
    with pytest.raises(CommandError, match="differs from the prototxt"):
        bt.check_twin(shapes[2:] + shapes[:2], text)  # the same tensors in another order


def test_training_step_twin_is_our_step(torch):
    """One step of the benchmark's PyTorch training (torch_step with torch_optimizer) and of ours
    (ours_step on ours_solver) from the same weights and batch: the same loss (1e-5 relative) and the
    same weight updates, W1 - W0, i.e. the gradients scaled by the learning rates, momentum and decay
    (1e-3 of each tensor's largest update). Dropout off in both (ratio 0 in ours, eval() in the
    twin): its masks are drawn by different generators."""
    text = bt.train_prototxt(False, batch=2, crop=64, samples=8, widths=NARROW).replace("dropout_ratio: 0.5", "dropout_ratio: 0")
    assert "dropout_ratio: 0\n" in text or "dropout_ratio: 0 " in text
    lr = 1.0  # large steps: the updates stand well above the float32 rounding of W1 - W0
    solver = bt.ours_solver(text, base_lr=lr)
    ours = [b for blobs in solver.net.params.values() for b in blobs]
    before = [b.data.copy() for b in ours]
    twin = bt.torch_train_net(False, NARROW).eval()
    with torch.no_grad():
        for p, w in zip(twin.parameters(), before):
            p.copy_(torch.from_numpy(w.reshape(p.shape)))
    opt = bt.torch_optimizer(twin, lr)
    batch = bt.train_batches(1, 2, 64, 8)[0]
    loss_ours = bt.ours_step(solver, batch)
    loss_twin = float(bt.torch_step(twin, opt, batch, "cpu"))
    assert loss_ours == pytest.approx(loss_twin, rel=1e-5)
    for (name, p), b, w0 in zip(twin.named_parameters(), ours, before):
        d_ours = b.data.reshape(p.shape) - w0.reshape(p.shape)
        d_twin = p.detach().numpy() - w0.reshape(p.shape)
        scale = np.abs(d_twin).max()
        assert scale > 0, name
        err = np.abs(d_ours - d_twin).max()
        assert err <= 1e-3 * scale, (name, err, scale)


def test_reset_peak_counts_what_follows(tmp_path):
    """In a fresh process (as the workers): 64 MB allocated after reset_peak() show in the peak above it."""
    code = ("import numpy as np; from pycolorize.cli.benchmark import command as b; idle = b.reset_peak(); "
            "x = np.ones(8 * 2**20); print(b.peak_rss_mb() - idle)")
    # the pycolorize this test imports (an installed one, or the source tree's in-place build); run
    # elsewhere than the source tree's root, whose unbuilt package `-c` would put first on the path
    here = os.path.dirname(os.path.dirname(pycolorize.__file__))
    env = dict(os.environ, PYTHONPATH=here + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True,
                         cwd=tmp_path).stdout
    assert 60 <= float(out) < 200


def test_forward_part_prints_times_and_memory(tiny_weights, tmp_path, capsys):
    try:
        import torch  # noqa: F401
        have_torch = True
    except ImportError:
        have_torch = False
    bench.forward_part(bench_args(), tiny_weights, str(tmp_path), have_torch)
    out = capsys.readouterr().out
    ours = next(line for line in out.splitlines() if "| pycolorize" in line)
    assert ours.startswith("  64x64") and float(ours.split("|")[-2].split()[0]) > 0  # MB above the idle process
    if have_torch:
        assert "Caffe-style" in out and "grouped ConvTranspose2d" in out and "ours / the fastest PyTorch graph" in out
    else:
        assert "PyTorch not installed" in out


def test_photo_part_prints_time_and_memory(tiny_weights, tmp_path, capsys):
    bench.photo_part(bench_args(photo=(96, 64)), tiny_weights, str(tmp_path), canvas=64)
    out = capsys.readouterr().out
    assert "Large photo: 96x64 (0.0 megapixels" in out and "size=64" in out
    total, net = (float(out.split(word)[1].split()[0]) for word in ("total ", "the network "))
    assert total >= net > 0
    assert "outside the network" in out and "returned float" in out
    assert float(out.split("peak memory ")[1].split()[0]) > 0


def test_scaling_part_profiles_the_net_and_measures_two_mpi_ranks(capsys, monkeypatch):
    # `pycolorize benchmark --parts scaling`, the command's whole path, on the demo's narrow net with
    # small crops: the per-layer profile, the projection to many GPUs, and 1 process against 2 MPI ranks
    try:
        import mpi4py  # noqa: F401

        from pycolorize.training import distributed

        distributed.mpiexec()
    except (ImportError, pycolorize.Error) as e:
        pytest.skip(f"mpi4py or mpiexec missing: {e}")
    monkeypatch.setattr(bench, "SCALING_ARGS", ["--widths", "tiny", "--crop", "64", "--reps", "1", "--mpi",
                                                "--mpi-crop", "64", "--iters", "1"])
    assert cli.main(["benchmark", "--parts", "scaling"]) == 0
    out = capsys.readouterr().out
    assert "Per layer, in backward order (CPU, crop 64, batch 1" in out
    profiled = [line.split() for line in out.splitlines() if line.startswith("  conv") or line.startswith("  fc")]
    assert {r[0] for r in profiled} >= {"conv1_2", "conv5_3", "fc6", "fc7"}
    assert "MPI on this machine" in out and "2 ranks with 1 thread each" in out
    two_ranks = out.split("per layer, in the order the sums ran")[1]
    assert "fc6" in two_ranks and "conv1_1" in two_ranks


def test_make_photo_has_the_size_asked():
    photo, what = bench.make_photo(30, 20)
    assert photo.shape == (20, 30, 3) and photo.dtype == np.uint8 and photo.std() > 0 and what


def test_photo_size_option():
    p = bench.argparse.ArgumentParser()
    bench.add_arguments(p)
    assert p.parse_args([]).photo == (6000, 4000)
    assert p.parse_args(["--photo", "40x30"]).photo == (40, 30)
    with pytest.raises(SystemExit):
        p.parse_args(["--photo", "40"])


def test_train_rows_ratio_against_the_fastest(capsys):
    ours = {"images_per_s": 3.0, "step_s": 1.33, "peak_mb": 100.0, "profile": {"Convolution 3x3 bwd": 1.0, "rest": 0.33}}
    rows = [("PyTorch", {"images_per_s": 2.0, "step_s": 2.0, "peak_mb": 50.0, "version": "x"}, None),
            ("PyTorch, channels_last", {"images_per_s": 1.5, "step_s": 2.6, "peak_mb": 50.0, "version": "x"}, None),
            ("PyTorch, broken", None, "failed here")]
    bench.train_rows(ours, rows, gpu=False, have_torch=True)
    out = capsys.readouterr().out
    assert "ours / the fastest PyTorch (PyTorch, x): 1.50x" in out and "failed here" in out
    assert "where a pycolorize step goes (1.330 s)" in out and "Convolution 3x3 bwd" in out and "75.2 %" in out



def test_train_rounds_alternate_and_report_each_sides_fastest(monkeypatch, capsys):
    """--train-rounds 3 on the CPU: ours and PyTorch take turns, fresh workers each round, and each
    side's fastest round is compared; the per-round ratios are printed too."""
    asked, speeds = [], iter([2.0, 1.0, 3.0, 1.5, 2.5, 2.0])  # ours, PyTorch, ours, PyTorch, ...

    def fake(kind, args, weights, tmp, size=None, runs=None, extra=()):
        asked.append(kind)
        v = next(speeds)
        return {"images_per_s": v, "step_s": 4 / v, "peak_mb": 1.0, "version": "x"}, None

    monkeypatch.setattr(bench, "spawn", fake)
    bench.train_part(bench_args(train_rounds=3), "tmp", True)
    out = capsys.readouterr().out
    assert asked == ["train-ours", "train-torch"] * 3
    assert "the fastest of 3 alternating rounds" in out
    assert "pycolorize                   3.00 images/s" in out and "PyTorch                      2.00 images/s" in out
    assert "ours / the fastest PyTorch (PyTorch, x): 1.50x" in out
    assert "each round's ours / its fastest PyTorch: 2.00x, 2.00x, 1.25x" in out


def test_train_rounds_option():
    p = argparse.ArgumentParser()
    bench.add_arguments(p)
    assert p.parse_args(["--train-rounds", "4"]).train_rounds == 4
    for bad in ("0", "two"):
        with pytest.raises(SystemExit):
            p.parse_args(["--train-rounds", bad])


def test_gpu_reports_with_stand_in_workers(monkeypatch, capsys):
    """The --gpu reports (which need a CUDA device to measure) print every variant and the ratio
    against the fastest, from stand-in worker results; the workers are asked for the GPU variants."""
    asked = []

    def fake(kind, args, weights, tmp, size=None, runs=None, extra=()):
        asked.append((kind, tuple(extra)))
        res = {"gpu_peak_mb": 10.0, "gpu_used_mb": 20.0, "version": "x", "out": np.zeros((1, 32, 4, 4), np.float32)}
        if kind.startswith("train-"):
            return dict(res, images_per_s=100.0 if kind.endswith("ours") else 50.0 + 10 * len(extra), step_s=0.1), None
        return dict(res, times=[0.01 if kind == "ours" else 0.03 - 0.005 * len(extra)]), None

    monkeypatch.setattr(bench, "spawn", fake)
    args = bench_args(gpu=0, torch_compile=True)
    bench.forward_part(args, "w", "tmp", True)
    bench.train_part(args, "tmp", True)
    out = capsys.readouterr().out
    assert ("torch", ("--graph", "grouped", "--channels-last", "--compile")) in asked
    assert ("train-torch", ("--channels-last",)) in asked and ("train-scratch-ours", ()) in asked
    assert "512x512" in out and "ms" in out and "ours / the fastest PyTorch graph (grouped, channels_last, compiled): 1.00x" in out
    assert "ours / the fastest PyTorch (PyTorch, channels_last, x): 1.67x" in out
    assert "from scratch / ImageNet-initialised (pycolorize): 1.00x" in out

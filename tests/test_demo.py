"""`pycolorize demo` end to end, shrunk: a narrow net, a 128-pixel canvas, a few iterations and random
initial convolutions (no download), so that the whole pipeline (photos, training, calibration,
colorization, the table and results.json) runs in seconds; and a signal during training stops the
demo there instead of calibrating a half-trained model."""
import json
import os
import signal

import numpy as np
import pytest

from pycolorize.colorization import calibration as cal
from pycolorize import cli, models
from pycolorize.cli import demo as cli_demo
from pycolorize.training import loop as training
from pycolorize.util import wheelfiles

pytest.importorskip("skimage", reason="the demo's photos come from scikit-image (pip install scikit-image)")


def offline_fetch(requirement, *a, **k):
    raise wheelfiles.FetchError(f"could not download {requirement} with pip (offline? network is unreachable)")


@pytest.fixture
def small_demo(monkeypatch):
    monkeypatch.setattr(models, "TINY", {"conv": (4, 4, 8, 8, 8), "fc": 8, "h_fc1": 8})
    monkeypatch.setattr(cli_demo, "SIZE", 128)
    monkeypatch.setattr(cli_demo, "initial_weights", lambda *a, **k: None)  # offline: random convolutions
    monkeypatch.setattr(wheelfiles, "fetch", offline_fetch)  # offline: no scikit-learn photos


def run_demo(out, *extra):
    return cli.main(["demo", "-o", str(out), "--iters", "6", "--threads", "2", "--quiet", *extra])


def test_demo_end_to_end(small_demo, tmp_path, capsys):
    assert run_demo(tmp_path) == 0
    printed = capsys.readouterr().out
    results = json.load(open(tmp_path / "results.json"))
    assert results["iterations"] == 6
    splits = {r["photo"]: r["split"] for r in results["photos"]}
    assert {n for n, s in splits.items() if s == "validation"} == {
        "astronaut_bottom", "rocket_bottom", "stereo_motorcycle_left_bottom", "stereo_motorcycle_right_bottom"}
    assert {"coffee", "chelsea"} <= {n for n, s in splits.items() if s == "held out"}
    for r in results["photos"]:
        assert np.isfinite([r["rmse_ab"], r["psnr"], r["rmse_ab_baseline"], r["psnr_baseline"]]).all(), r
        assert f"{r['photo']:<26}" in printed
    # the calibration the Colorizer applies is the one results.json reports
    loaded = cal.load(cal.path_for(str(tmp_path / "model.caffemodel.h5")))
    assert loaded["hue"] == pytest.approx(results["calibration"]["temperature"]["hue"])
    assert loaded["chroma"] == pytest.approx(results["calibration"]["temperature"]["chroma"])
    # every canvas and clamp was tried on the validation strips; the one kept has the lowest RMSE(alpha-beta)
    tried = results["calibration"]["validation_rmse_ab"]
    assert sorted(tried) == ["reflect, clamp off", "reflect, clamp on", "zeros, clamp off", "zeros, clamp on"]
    assert tried[f"{loaded['canvas']}, clamp {'on' if loaded['clamp_chroma'] else 'off'}"] == min(tried.values())
    assert (loaded["canvas"], loaded["clamp_chroma"]) == (results["calibration"]["canvas"], results["calibration"]["clamp_chroma"])
    for name in ("deploy.prototxt", "heldout_coffee.png", "heldout_chelsea.png", "train_log.csv"):
        assert (tmp_path / name).is_file(), name
    assert not (tmp_path / "snapshots").exists()  # the training snapshots are removed at the end


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_during_training_stops_the_demo(small_demo, tmp_path, monkeypatch, capsys, signum):
    real_train = training.train

    def interrupted(*a, **k):  # what train() returns after a first SIGTERM/Ctrl-C: a snapshot, stopped_by set
        solver = real_train(*a, **k)
        solver.stopped_by = signum
        return solver

    monkeypatch.setattr(training, "train", interrupted)
    assert run_demo(tmp_path) == 128 + signum
    err = capsys.readouterr().err
    assert f"stopped by {signal.Signals(signum).name}" in err and "Traceback" not in err
    for name in ("results.json", "model.caffemodel.h5", "model.calibration.json"):
        assert not (tmp_path / name).exists(), name


def test_scikit_learn_photos_join_training_and_validation(small_demo, tmp_path, monkeypatch, capsys):
    # Where pip can fetch scikit-learn's wheel, its two photos are trained on (top three quarters) and
    # validated on (bottom quarter); offline (the fixture) the demo says so and goes on without them.
    from PIL import Image

    photos = cli_demo.demo_photos(["china", "flower", "coffee"], str(tmp_path / "cache"))
    assert "the demo goes on without china, flower" in capsys.readouterr().err and set(photos) == {"coffee"}

    def fetch(requirement, members, cache, pip_args=(), **k):
        assert requirement == cli_demo.SKLEARN_WHEEL and set(members) == set(cli_demo.SKLEARN_PHOTOS.values())
        assert pip_args == cli_demo.SKLEARN_PIP  # one fixed wheel, whatever the machine
        assert sorted(members.values()) == ["scikit-learn-1.5.2_china.jpg", "scikit-learn-1.5.2_flower.jpg"]  # versioned
        made = {}
        for i, (member, name) in enumerate(members.items()):
            made[member] = str(tmp_path / name)
            Image.fromarray(np.random.default_rng(i).integers(0, 256, (80, 96, 3), dtype=np.uint8)).save(made[member])
        return made

    monkeypatch.setattr(wheelfiles, "fetch", fetch)
    photos = cli_demo.demo_photos(["china", "flower"], str(tmp_path / "cache"))
    assert {k: (v.shape, v.dtype) for k, v in photos.items()} == {"china": ((80, 96, 3), np.uint8),
                                                                   "flower": ((80, 96, 3), np.uint8)}
    assert run_demo(tmp_path / "out") == 0
    assert sorted(os.listdir(tmp_path / "out" / "photos" / "validation")) == sorted(
        f"{n}_bottom.png" for n in ("astronaut", "rocket", "stereo_motorcycle_left", "stereo_motorcycle_right", "china", "flower"))
    assert Image.open(tmp_path / "out" / "photos" / "train" / "china.png").size == (96, 60)  # the top three quarters

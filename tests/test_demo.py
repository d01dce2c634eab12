"""`pycolorize demo` end to end, shrunk: a narrow net, a 128-pixel canvas, a few iterations and random
initial convolutions (no download), so that the whole pipeline (photos, training, calibration,
colorization, the table and results.json) runs in seconds; and a signal during training stops the
demo there instead of calibrating a half-trained model."""
import json
import os
import signal

import numpy as np
import pytest

from pycolorize import calibration as cal
from pycolorize import cli, cli_demo, models, training

pytest.importorskip("skimage", reason="the demo's photos come from scikit-image (pip install scikit-image)")


@pytest.fixture
def small_demo(monkeypatch):
    monkeypatch.setattr(models, "TINY", {"conv": (4, 4, 8, 8, 8), "fc": 8, "h_fc1": 8})
    monkeypatch.setattr(cli_demo, "SIZE", 128)
    monkeypatch.setattr(cli_demo, "initial_weights", lambda *a, **k: None)  # offline: random convolutions


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

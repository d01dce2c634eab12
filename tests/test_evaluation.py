"""tools/evaluate.py and pycolorize.evaluation: known scores, skipped images counted, resume, figures."""
import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from pycolorize import evaluation

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def save(path, rgb):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray((np.clip(rgb, 0, 1) * 255).round().astype(np.uint8)).save(path)


@pytest.fixture
def dataset(tmp_path):
    rng = np.random.RandomState(0)
    truth, preds = tmp_path / "truth", tmp_path / "preds"
    for i in range(4):
        rgb = rng.rand(20, 24, 3)
        save(str(truth / f"n01/img{i}.png"), rgb)
        save(str(preds / f"n01/img{i}.png"), rgb if i == 0 else rgb.mean(-1, keepdims=True).repeat(3, -1))
    save(str(truth / "n01/gray.png"), np.full((20, 24, 3), 0.5))             # grayscale ground truth
    save(str(truth / "n01/small.png"), rng.rand(20, 24, 3))
    save(str(preds / "n01/small.png"), rng.rand(10, 12, 3))                  # mismatched size
    save(str(truth / "n01/nopred.png"), rng.rand(20, 24, 3))                 # no prediction
    return tmp_path


def run(args):
    return subprocess.run([sys.executable, os.path.join(ROOT, "tools", "evaluate.py")] + args, capture_output=True, text=True)


def test_scores_skips_resume_and_figures(dataset):
    out = dataset / "out"
    r = run(["--folder", str(dataset / "truth"), "--predictions", str(dataset / "preds"), "-o", str(out)])
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(open(out / "per_image.csv")))
    assert [row["image"] for row in rows] == [f"n01/img{i}.png" for i in range(4)]
    assert float(rows[0]["rmse_ab"]) == 0.0 and rows[0]["psnr"] == "inf"  # the perfect prediction
    for row in rows[1:]:  # the gray predictions score as the baseline (up to their 8-bit rounding)
        assert float(row["rmse_ab"]) == pytest.approx(float(row["rmse_ab_baseline"]), abs=2e-3)
        assert float(row["psnr"]) == pytest.approx(float(row["psnr_baseline"]), abs=2e-3)
    summary = json.load(open(out / "summary.json"))
    assert summary["images"] == 4
    assert summary["skipped"] == {"grayscale ground truth": 1, "prediction size differs from the ground truth": 1,
                                  "no prediction": 1}
    # the mean over images: one perfect image and three that score as their baselines
    assert summary["ours"]["rmse_ab"] == pytest.approx(sum(float(r["rmse_ab_baseline"]) for r in rows[1:]) / 4, abs=2e-3)
    assert np.isfinite(summary["ours"]["psnr"])  # the infinite PSNR of a perfect image is left out of the mean
    for fig in ("error_cumulative.png", "psnr_histogram.png", "grid.png"):
        assert (out / fig).stat().st_size > 1000
    assert "no colorization" in r.stdout and "skipped (grayscale ground truth)" in r.stdout
    # a rerun resumes: nothing new to score, same table
    r2 = run(["--folder", str(dataset / "truth"), "--predictions", str(dataset / "preds"), "-o", str(out)])
    assert r2.returncode == 0 and "resuming: 4 image(s)" in r2.stdout
    assert len(list(csv.DictReader(open(out / "per_image.csv")))) == 4


def test_list_format_and_errors(dataset, tmp_path):
    lst = tmp_path / "list.txt"
    lst.write_text("/n01/img1.png 0\n/n01/img2.png 0\n")
    names = evaluation.list_images(str(lst), root=str(dataset / "truth"))
    assert [n for n, _ in names] == ["n01/img1.png", "n01/img2.png"] and os.path.isfile(names[0][1])
    (tmp_path / "empty.txt").write_text("\n# nothing\n")
    r = run(["--list", str(tmp_path / "empty.txt"), "--predictions", str(dataset / "preds"), "-o", str(tmp_path / "o")])
    assert r.returncode != 0 and "the list is empty" in r.stderr
    r = run(["--folder", str(tmp_path / "missing"), "--predictions", str(dataset / "preds"), "-o", str(tmp_path / "o")])
    assert r.returncode != 0 and "no such folder" in r.stderr

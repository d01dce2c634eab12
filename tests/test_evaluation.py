"""tools/evaluate.py and pycolorize.evaluation: known scores, skipped images counted, resume, figures."""
import contextlib
import csv
import io
import json
import os
import subprocess
import sys
import types

import numpy as np
import pytest
from PIL import Image

from pycolorize.evaluation import colorization as evaluation

from conftest import tool_main

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


def run_script(args):
    return subprocess.run([sys.executable, os.path.join(ROOT, "tools", "evaluate.py")] + args, capture_output=True, text=True)


def run(args):
    """tools/evaluate.py's main() in this process (as `python tools/evaluate.py ARGS` runs it; one test
    runs the script itself), so that what it reaches is measured and mutation-tested."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = tool_main("evaluate.py")(args)
        except SystemExit as e:  # argparse's usage errors
            code = e.code if isinstance(e.code, int) else 1
    return types.SimpleNamespace(returncode=code or 0, stdout=out.getvalue(), stderr=err.getvalue())


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
    # the default reading is the sum one; the rms RMSE is also kept under every reading, the literal 3x the default
    assert summary["reading"] == "sum" and "RMSE(ab) reading: sum" in r.stdout
    for row in rows:
        for s in ("", "_baseline"):
            assert float(row[f"rmse_ab{s}"]) == float(row[f"rmse_ab_rms_sum{s}"])
            assert float(row[f"rmse_ab_mean{s}"]) <= float(row[f"rmse_ab{s}"]) + 1e-6  # mean of norms <= rms
    for row in rows[1:]:
        b = {k: float(row[f"rmse_ab_rms_{k}_baseline"]) for k in ("sum", "mean", "none")}
        assert b["mean"] == pytest.approx(3 * b["sum"], rel=1e-5)
        assert b["none"] > 0 and b["none"] != pytest.approx(b["sum"], rel=1e-3)
    by = summary["by_reading"]
    assert by["sum"]["no colorization"] == pytest.approx(summary["no colorization"]["rmse_ab"])
    assert by["mean"]["no colorization"] == pytest.approx(3 * by["sum"]["no colorization"], rel=1e-5)
    assert "0.333 ctest10k / 0.285 SUN-6" in r.stdout
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("no colorization") and len(ln.split()) == 5)
    assert [float(x) for x in line.split()[2:]] == pytest.approx([by[k]["no colorization"] for k in ("sum", "mean", "none")],
                                                                 abs=1e-4)
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
    r = run_script(["--folder", str(tmp_path / "missing"), "--predictions", str(dataset / "preds"), "-o", str(tmp_path / "o")])
    assert r.returncode != 0 and "no such folder" in r.stderr and "Traceback" not in r.stderr  # the script itself


def test_literal_reading_selectable_and_resume_guard(dataset):
    out = dataset / "out_mean"
    args = ["--folder", str(dataset / "truth"), "--predictions", str(dataset / "preds"), "-o", str(out)]
    r = run(args + ["--rmse-reading", "mean"])
    assert r.returncode == 0, r.stderr
    summary = json.load(open(out / "summary.json"))
    assert summary["reading"] == "mean" and "RMSE(ab) reading: mean" in r.stdout
    rows = list(csv.DictReader(open(out / "per_image.csv")))
    for row in rows:
        assert float(row["rmse_ab_baseline"]) == float(row["rmse_ab_rms_mean_baseline"])
        assert float(row["rmse_ab"]) == float(row["rmse_ab_rms_mean"])
    for row in rows[1:]:
        assert float(row["rmse_ab_baseline"]) == pytest.approx(3 * float(row["rmse_ab_rms_sum_baseline"]), rel=1e-5)
    # resuming into the same folder under another reading would mix two scales: refused
    r = run(args)
    assert r.returncode != 0 and "holds RMSE under the 'mean' reading" in r.stderr
    r = run(args + ["--rmse-reading", "lab"])
    assert r.returncode != 0 and "invalid choice" in r.stderr


def test_old_csv_is_not_resumed(dataset):
    out = dataset / "old"
    out.mkdir()
    (out / "per_image.csv").write_text("image,rmse_ab,rmse_ab_mean,psnr,rmse_ab_baseline,rmse_ab_mean_baseline,psnr_baseline\n")
    r = run(["--folder", str(dataset / "truth"), "--predictions", str(dataset / "preds"), "-o", str(out)])
    assert r.returncode != 0 and "another version of this tool" in r.stderr


def test_rmse_readings_tool(tmp_path):
    """tools/rmse_readings.py on a folder: one pixel colour, worked by hand."""
    save(str(tmp_path / "imgs/a.png"), np.tile(np.array([153, 77, 77]) / 255, (4, 5, 1)))
    save(str(tmp_path / "imgs/gray.png"), np.full((4, 5, 3), 0.5))
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "rmse_readings.py"), "--folder", str(tmp_path / "imgs"),
                        "--json", str(tmp_path / "r.json")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    res = json.load(open(tmp_path / "r.json"))
    assert res["skipped"] == ["gray.png"] and list(res["images"]) == ["a.png"]
    R, G, B = 153 / 255, 77 / 255, 77 / 255
    norm = np.hypot(B - (R + G) / 2, R - G)
    m = res["mean"]
    assert m["sum / rms"] == pytest.approx(norm / (R + G + B + 3e-4), rel=1e-9)
    assert m["mean / rms"] == pytest.approx(norm / ((R + G + B) / 3 + 1e-4), rel=1e-9)
    assert m["none / rms"] == pytest.approx(norm, rel=1e-9) and m["none / mean"] == pytest.approx(norm, rel=1e-9)
    assert "sum / rms (default)" in r.stdout and "0.285" in r.stdout


@pytest.mark.parametrize("pixel,gray", [((0, 1, 2), True), ((100, 101, 102), True), ((253, 254, 255), True),
                                        ((7, 7, 7), True), ((0, 0, 2), False), ((100, 101, 103), False),
                                        ((200, 202, 201), True), ((200, 203, 201), False)])
def test_grayscale_is_decided_in_whole_levels_anywhere_in_the_range(pixel, gray):
    # one pixel of a colour among gray ones decides, the same at every brightness (in floating point,
    # (0, 1, 2)/255 was gray and (100, 101, 102)/255 was not)
    from pycolorize.evaluation.colorization import is_grayscale

    img = np.full((3, 4, 3), 0.5)
    img[1, 2] = np.array(pixel) / 255
    assert is_grayscale(img) == gray
    assert is_grayscale(np.array(pixel, np.uint8)[None, None] / 255.0) == gray


# ---- the library, with independent answers ---------------------------------------------------

def test_score_reports_every_reading_and_both_aggregations():
    from pycolorize.evaluation import metrics

    rng = np.random.RandomState(4)
    pred, truth = rng.rand(5, 6, 3), rng.rand(5, 6, 3)
    for reading in metrics.READINGS:
        out, err = evaluation.score(pred, truth, reading)
        assert set(out) == {"rmse_ab", "rmse_ab_mean", "psnr"} | {f"rmse_ab_rms_{r}" for r in metrics.READINGS}
        np.testing.assert_array_equal(err, metrics.pixel_errors(pred, truth, reading))
        assert out["rmse_ab"] == pytest.approx(np.sqrt((err ** 2).mean()), rel=1e-12)
        assert out["rmse_ab_mean"] == pytest.approx(err.mean(), rel=1e-12)
        assert out["psnr"] == pytest.approx(10 * np.log10(1 / ((pred - truth) ** 2).mean()), rel=1e-12)
        for r in metrics.READINGS:
            assert out[f"rmse_ab_rms_{r}"] == pytest.approx(metrics.rmse_alphabeta(pred, truth, "rms", r), rel=1e-12)
    assert evaluation.score(pred, truth)[0]["rmse_ab"] == evaluation.score(pred, truth, "sum")[0]["rmse_ab"]


def colour_photos(folder, n=3, seed=5):
    rng = np.random.RandomState(seed)
    paths = []
    for i in range(n):
        p = os.path.join(folder, f"p{i}.png")
        save(p, rng.rand(8, 10, 3))
        paths.append((f"p{i}.png", p))
    return paths


def test_the_summary_averages_what_the_rows_hold(tmp_path):
    # predictions: the truth itself (PSNR inf), a darker copy, and a copy with the channels rolled
    images = colour_photos(str(tmp_path / "truth"))
    truths = {n: np.asarray(Image.open(p)) / 255.0 for n, p in images}
    outs = {"p0.png": lambda t: t, "p1.png": lambda t: t * 0.8, "p2.png": lambda t: np.roll(t, 1, axis=-1)}
    names = iter(n for n, _ in images)
    logged = []
    ev = evaluation.Evaluation(images, str(tmp_path / "out"), colorize=lambda t: outs[next(names)](t),
                               log=logged.append, grid=2)
    t = ev.run(progress=False)
    scores = {n: evaluation.score(outs[n](truths[n]), truths[n])[0] for n in truths}
    base = {n: evaluation.score(np.repeat(truths[n].mean(-1, keepdims=True), 3, -1), truths[n])[0] for n in truths}
    assert t["images"] == 3 and t["reading"] == "sum" and t["skipped"] == {} and logged == []
    assert t["ours"]["rmse_ab"] == pytest.approx(np.mean([s["rmse_ab"] for s in scores.values()]), abs=1e-6)
    assert t["ours"]["rmse_ab_mean"] == pytest.approx(np.mean([s["rmse_ab_mean"] for s in scores.values()]), abs=1e-6)
    finite = [scores[n]["psnr"] for n in ("p1.png", "p2.png")]  # the perfect image's infinite PSNR left out
    assert t["ours"]["psnr"] == pytest.approx(np.mean(finite), abs=1e-5)
    assert t["ours"]["psnr_geometric"] == pytest.approx(np.exp(np.mean(np.log(finite))), abs=1e-5)
    bpsnr = [b["psnr"] for b in base.values()]
    assert t["no colorization"]["psnr"] == pytest.approx(np.mean(bpsnr), abs=1e-5)
    assert t["no colorization"]["psnr_geometric"] == pytest.approx(np.exp(np.mean(np.log(bpsnr))), abs=1e-5)
    assert t["no colorization"]["rmse_ab"] == pytest.approx(np.mean([b["rmse_ab"] for b in base.values()]), abs=1e-6)
    assert t["no colorization"]["rmse_ab_mean"] == pytest.approx(np.mean([b["rmse_ab_mean"] for b in base.values()]),
                                                                 abs=1e-6)
    for r in ("sum", "mean", "none"):
        assert t["by_reading"][r]["ours"] == pytest.approx(np.mean([s[f"rmse_ab_rms_{r}"] for s in scores.values()]), abs=1e-6)
        assert t["by_reading"][r]["no colorization"] == pytest.approx(
            np.mean([b[f"rmse_ab_rms_{r}"] for b in base.values()]), abs=1e-6)
    assert t["psnr_values"]["ours"][0] == float("inf") and len(t["psnr_values"]["baseline"]) == 3
    assert [row[0] for row in ev.grid_rows] == ["p0.png", "p1.png"]  # the first `grid` images
    # the error histograms (Fig. 6): every pixel of every image counted once, errors above 3 in the last bin
    assert ev.hist["ours"].sum() == ev.hist["baseline"].sum() == 3 * 8 * 10
    with np.load(tmp_path / "out" / "pixel_errors.npz") as z:
        np.testing.assert_array_equal(z["ours"], ev.hist["ours"])
    # resumed: nothing left to score, the same summary, and a line saying so
    ev2 = evaluation.Evaluation(images, str(tmp_path / "out"), colorize=lambda t: 1 / 0, log=logged.append)
    np.testing.assert_array_equal(ev2.hist["ours"], ev.hist["ours"])
    assert ev2.run(progress=False)["ours"] == t["ours"]
    assert logged == [f"resuming: 3 image(s) already scored in {tmp_path / 'out' / 'per_image.csv'}"]


def test_a_resume_after_a_death_mid_row_or_before_the_state_scores_each_image_once(tmp_path):
    # A run killed halfway through writing a row, or after a row but before the state that follows
    # it, leaves rows the saved histograms do not hold: the resume drops them and scores those images
    # again, so that the CSV and the histograms are what an uninterrupted run writes.
    images = colour_photos(str(tmp_path / "truth"), n=4)

    def darker(t):
        return t * 0.7

    def evaluate(out, subset):
        return evaluation.Evaluation(subset, str(tmp_path / out), colorize=darker, log=lambda m: None).run(progress=False)

    whole = evaluate("whole", images)
    whole_csv = (tmp_path / "whole" / "per_image.csv").read_text()
    with np.load(tmp_path / "whole" / "pixel_errors.npz") as z:
        whole_hist = {k: z[k].copy() for k in ("ours", "baseline")}
        assert int(z["rows"]) == 4
    lines = whole_csv.splitlines(keepends=True)
    for name, tail in (("mid_row", lines[3][:25]), ("row_before_state", lines[3]),
                       ("before_state", lines[3] + lines[4][:5]), ("clean", "")):
        evaluate(name, images[:2])  # two images scored and held by the state
        path = tmp_path / name / "per_image.csv"
        with open(path, "a", newline="") as f:
            f.write(tail)  # what the dead run wrote past them
        summary = evaluate(name, images)
        assert path.read_text() == whole_csv, name
        with np.load(tmp_path / name / "pixel_errors.npz") as z:
            for k in whole_hist:
                np.testing.assert_array_equal(z[k], whole_hist[k])
        assert summary["ours"] == whole["ours"] and summary["images"] == 4, name
    # an earlier run's state without the count holds every row it finds, but not one cut short
    np.savez(tmp_path / "clean" / "pixel_errors.npz", **whole_hist)
    assert evaluate("clean", images)["images"] == 4
    assert (tmp_path / "clean" / "per_image.csv").read_text() == whole_csv
    old = tmp_path / "old"
    evaluate("old", images[:3])
    with np.load(old / "pixel_errors.npz") as z:
        np.savez(old / "pixel_errors.npz", ours=z["ours"], baseline=z["baseline"])  # no count
    with open(old / "per_image.csv", "a", newline="") as f:
        f.write(lines[4][:30])
    assert evaluate("old", images)["ours"] == whole["ours"]
    assert (old / "per_image.csv").read_text() == whole_csv
    # killed before the header reached the disk: an empty CSV, scored afresh with its header
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "per_image.csv").write_text("")
    assert evaluate("empty", images)["ours"] == whole["ours"]
    assert (tmp_path / "empty" / "per_image.csv").read_text() == whole_csv


def test_geometric_and_arithmetic_means_with_no_finite_value_are_infinite(tmp_path):
    images = colour_photos(str(tmp_path / "truth"), n=2)
    t = evaluation.Evaluation(images, str(tmp_path / "o"), colorize=lambda x: x, log=lambda m: None).run(progress=False)
    assert t["ours"]["psnr"] == float("inf") and t["ours"]["psnr_geometric"] == float("inf")
    assert t["ours"]["rmse_ab"] == 0.0


def test_evaluation_refuses_bad_set_ups_in_words(tmp_path):
    images = colour_photos(str(tmp_path / "truth"), n=1)
    with pytest.raises(ValueError, match=r"^give either a model or a folder of predictions$"):
        evaluation.Evaluation(images, str(tmp_path / "o"))
    with pytest.raises(ValueError, match=r"^give either a model or a folder of predictions$"):
        evaluation.Evaluation(images, str(tmp_path / "o"), colorize=lambda x: x, predictions=str(tmp_path))
    with pytest.raises(ValueError, match=r"^RMSE reading must be one of sum, mean, none; got 'lab'$"):
        evaluation.Evaluation(images, str(tmp_path / "o"), colorize=lambda x: x, reading="lab")
    with pytest.raises(ValueError, match=r"^give an image list or a folder$"):
        evaluation.list_images()
    # nothing scorable: the reasons counted
    gray = tmp_path / "gray" / "g.png"
    save(str(gray), np.full((6, 6, 3), 0.4))
    ev = evaluation.Evaluation([("g.png", str(gray)), ("x.png", str(tmp_path / "none.png"))], str(tmp_path / "o2"),
                               colorize=lambda x: x, log=lambda m: None)
    with pytest.raises(ValueError, match=r"^no image could be scored \(grayscale ground truth: 1; unreadable or missing: 1\)$"):
        ev.run(progress=False)


def test_predictions_are_found_by_name_png_first(tmp_path):
    images = colour_photos(str(tmp_path / "truth"), n=1)
    truth = np.asarray(Image.open(images[0][1])) / 255.0
    preds = tmp_path / "preds"
    save(str(preds / "p0.jpg"), truth * 0.5)
    save(str(preds / "p0.png"), truth)  # the PNG wins over the JPEG of the same name
    t = evaluation.Evaluation(images, str(tmp_path / "o"), predictions=str(preds), log=lambda m: None).run(progress=False)
    assert t["ours"]["rmse_ab"] == 0.0
    os.remove(preds / "p0.png")
    t = evaluation.Evaluation(images, str(tmp_path / "o2"), predictions=str(preds), log=lambda m: None).run(progress=False)
    assert t["ours"]["rmse_ab"] > 0
    ev = evaluation.Evaluation(images, str(tmp_path / "o3"), predictions=str(tmp_path / "empty"), log=lambda m: None)
    with pytest.raises(FileNotFoundError, match=rf"^no prediction for p0.png in {tmp_path / 'empty'}$"):
        ev._prediction("p0.png")


def test_the_summary_table_word_for_word():
    t = {"reading": "sum", "images": 2, "skipped": {"no prediction": 1, "grayscale ground truth": 2},
         "no colorization": {"rmse_ab": 0.3, "rmse_ab_mean": 0.25, "psnr": 23.5, "psnr_geometric": 23.25},
         "ours": {"rmse_ab": 0.125, "rmse_ab_mean": 0.1, "psnr": 25.0, "psnr_geometric": 24.5},
         "by_reading": {"sum": {"no colorization": 0.3, "ours": 0.125}, "mean": {"no colorization": 0.9, "ours": 0.375},
                        "none": {"no colorization": 0.2, "ours": 0.0625}}}
    from pycolorize.evaluation import metrics

    want = "\n".join([
        f"RMSE(ab) reading: sum: {metrics.READING_HELP['sum']}",
        "method" + " " * 14 + "RMSE(ab) avg/px  (mean of norms)      PSNR  (geometric)",
        "-" * 75,
        "no colorization              0.3000           0.2500  23.50 dB     23.25 dB",
        "ours                         0.1250           0.1000  25.00 dB     24.50 dB",
        "2 image(s) scored; skipped: no prediction 1, grayscale ground truth 2",
        "paper's no-colorization row: RMSE 0.333, PSNR 23.27 dB on ctest10k; RMSE 0.285 on SUN-6",
        "",
        "RMSE(ab) avg/px under each reading (docs/rmse_reading.md); on ctest10k or SUN-6 the reading whose",
        "no-colorization value matches the paper's is the paper's:",
        "method                  sum     mean     none   paper (0.333 ctest10k / 0.285 SUN-6)",
        "no colorization      0.3000   0.9000   0.2000",
        "ours                 0.1250   0.3750   0.0625"])
    assert evaluation.format_table(t) == want
    t["skipped"] = {}
    assert evaluation.format_table(t).splitlines()[5] == "2 image(s) scored"


def test_a_resume_needs_the_same_columns_and_reading(tmp_path):
    images = colour_photos(str(tmp_path / "truth"), n=1)
    out = tmp_path / "o"
    evaluation.Evaluation(images, str(out), colorize=lambda x: x, log=lambda m: None).run(progress=False)
    assert json.load(open(out / "rmse_reading.json")) == {"reading": "sum"}
    with pytest.raises(ValueError, match=rf"^{out / 'per_image.csv'} holds RMSE under the 'sum' reading, not 'mean'; "
                                         r"rerun with that reading or write to another folder$"):
        evaluation.Evaluation(images, str(out), colorize=lambda x: x, reading="mean")
    (out / "per_image.csv").write_text("image,other\n")
    with pytest.raises(ValueError, match=rf"^{out / 'per_image.csv'} was written by another version of this tool"):
        evaluation.Evaluation(images, str(out), colorize=lambda x: x)


def test_list_images_names_and_paths(tmp_path):
    images = colour_photos(str(tmp_path / "truth"), n=2)
    assert evaluation.list_images(folder=str(tmp_path / "truth")) == images
    lst = tmp_path / "l.txt"
    lst.write_text("/p1.png 3\np0.png\n")
    assert evaluation.list_images(str(lst), root=str(tmp_path / "truth")) == [("p1.png", images[1][1]), ("p0.png", images[0][1])]


def test_evaluation_details_defaults_histograms_and_stale_files(tmp_path):
    assert evaluation.is_grayscale(np.array([[[100, 102, 104]]]) / 255, tol=2)  # within 2 levels of the mean
    assert not evaluation.is_grayscale(np.array([[[100, 102, 105]]]) / 255, tol=2)
    lst = tmp_path / "l.txt"
    (tmp_path / "Xray.png").write_bytes(b"")
    lst.write_text("/Xray.png\n")
    assert [n for n, _ in evaluation.list_images(str(lst), root=str(tmp_path))] == ["Xray.png"]
    images = colour_photos(str(tmp_path / "truth"), n=7)
    out = tmp_path / "o"
    out.mkdir()
    np.savez(out / "pixel_errors.npz", ours=np.ones(300), baseline=np.ones(300))  # stale: no CSV beside it
    (tmp_path / "o2").mkdir()
    (tmp_path / "o2" / "per_image.csv").write_text("")  # an empty CSV is no other version's
    evaluation.Evaluation(images, str(tmp_path / "o2"), colorize=lambda x: x, log=lambda m: None)
    ev = evaluation.Evaluation(images, str(out), colorize=lambda x: np.roll(x, 1, axis=-1), reading="mean",
                               log=lambda m: None)
    assert ev.hist["ours"].sum() == 0  # the stale histograms were not taken up
    ev.run(progress=False)
    assert len(ev.grid_rows) == 6  # six rows in the grid by default
    # the histograms of Fig. 6: each image's per-pixel errors, those above 3 counted in the last bin
    want = np.zeros(300)
    for _, p in images:
        t = np.asarray(Image.open(p)) / 255.0
        err = evaluation.score(np.roll(t, 1, axis=-1), t, "mean")[1]
        want += np.histogram(np.minimum(err, 3.0), np.linspace(0, 3, 301))[0]
    np.testing.assert_array_equal(ev.hist["ours"], want)
    assert want[-1] > 0  # some errors were above 3 under the literal reading
    (out / "per_image.csv").write_text("image,other\n")
    with pytest.raises(ValueError, match=r"another version of this tool \(other columns\); move it away or write to "
                                         r"another folder$"):
        evaluation.Evaluation(images, str(out), colorize=lambda x: x, reading="mean")

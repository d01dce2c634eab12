"""The paper's benchmark protocol (Sec. 4): colorize a test set (or read colorizations made
elsewhere), score every image against its ground truth and against the no-colorization baseline
(the gray image itself), and summarise as the paper's tables and figures.

Test sets: an image list in the format of the authors' cval1k / ctest10k lists (one
`/<synset>/<file> [label]` path per line under an ImageNet root), or a folder (SUN-6 / SUN-A
style); both read by pycolorize.data.images' rules, the ones training uses.
Images whose three channels are equal (encoded as grayscale; the paper's lists exclude them) are
skipped and counted, as are unreadable files and predictions whose size differs from the ground
truth. Per-image scores go to a CSV file that is also the resume point: a rerun skips the images
already in it.

Scores: RMSE in Deshpande's alpha-beta under one reading of its lightness division (`reading`,
default "sum": over R + G + B, the reading on the paper's scale; see pycolorize.evaluation.metrics and
docs/rmse_reading.md), both aggregations of the paper's "averaged over all pixels" ("rms" first),
and PSNR in RGB (peak 1), averaged arithmetically over images as the paper does (the geometric
mean, which Cheng et al. used, is printed beside it). The root-mean-square RMSE of ours and of no
colorization is also kept under every reading, so one run on SUN-6 or ctest10k prints the
baseline row under each beside the paper's 0.285 / 0.333. The figures: the cumulative histogram of per-pixel alpha-beta error (Fig. 6),
the histogram of per-image PSNR (Fig. 7), and a grid of inputs, outputs and ground truth.
"""
import csv
import io
import json
import os

import numpy as np

from pycolorize.colorization import color
from pycolorize.evaluation import metrics
from pycolorize.data.images import EXTENSIONS, find_images, load_image, read_list
from pycolorize.util.files import atomic_open, atomic_path

FIELDS = (["image", "rmse_ab", "rmse_ab_mean", "psnr", "rmse_ab_baseline", "rmse_ab_mean_baseline", "psnr_baseline"]
          + [f"rmse_ab_rms_{r}{s}" for r in metrics.READINGS for s in ("", "_baseline")])
ERROR_BINS = np.linspace(0, 3, 301)  # per-pixel alpha-beta error histogram (Fig. 6)
PAPER_BASELINE_RMSE = {"ctest10k": 0.333, "SUN-6": 0.285}


def list_images(list_file=None, root=None, folder=None):
    """(name, path) pairs of a test set: a list file (pycolorize.data.images.read_list's rule; the name is
    the path as listed, without a leading '/') or a folder (images.find_images' rule, the same images
    training would read; the name is the path inside the folder). A prediction is looked up by the
    name (Evaluation), and the name is the CSV's resume key."""
    if list_file:
        return [(e.listed.lstrip("/"), e.path) for e in read_list(list_file, root)]
    if folder:
        return [(os.path.relpath(p, folder), p) for p in find_images(folder)]
    raise ValueError("give an image list or a folder")


def is_grayscale(rgb, tol=1):
    """Whether an RGB image in [0, 1] is gray: every pixel's channels within `tol` 8-bit levels of
    their mean. Compared in integers (levels, times 3 so that the mean stays whole), so that a
    pixel's verdict does not depend on where in the range it is: (0, 1, 2) and (100, 101, 102) are
    both gray, (100, 101, 103) is not."""
    levels = np.rint(np.asarray(rgb, np.float64) * 255).astype(np.int64)
    return bool(np.abs(3 * levels - levels.sum(axis=-1, keepdims=True)).max() <= 3 * tol)


def score(pred, truth, reading=metrics.DEFAULT_READING):
    """The chosen reading's RMSE (both aggregations), PSNR, and the rms RMSE under every reading;
    and the chosen reading's per-pixel errors (Fig. 6). Each reading's errors are computed once."""
    errors = {r: metrics.pixel_errors(pred, truth, r) for r in metrics.READINGS}
    out = {"rmse_ab": metrics.reduce_errors(errors[reading], "rms"),
           "rmse_ab_mean": metrics.reduce_errors(errors[reading], "mean"), "psnr": metrics.psnr(pred, truth)}
    out.update({f"rmse_ab_rms_{r}": metrics.reduce_errors(e, "rms") for r, e in errors.items()})
    return out, errors[reading]


class Evaluation:
    """Runs over a test set; `colorize(rgb) -> rgb` or `predictions` (a folder of outputs named like
    the inputs, any image extension) gives the outputs."""

    def __init__(self, images, out_dir, colorize=None, predictions=None, grid=6, log=print,
                 reading=metrics.DEFAULT_READING):
        if (colorize is None) == (predictions is None):
            raise ValueError("give either a model or a folder of predictions")
        if reading not in metrics.READINGS:
            raise ValueError(f"RMSE reading must be one of {', '.join(metrics.READINGS)}; got {reading!r}")
        self.images, self.out_dir, self.colorize, self.predictions = images, out_dir, colorize, predictions
        self.grid, self.log, self.reading = grid, log, reading
        os.makedirs(out_dir, exist_ok=True)
        self.csv_path = os.path.join(out_dir, "per_image.csv")
        self._check_resume()
        # The resume's state, written whole after each image (atomic_open): the Fig. 6 histograms and
        # how many rows of the per-image CSV they hold. The CSV is appended to, row by row; a run that
        # died between a row and this state (or halfway through a row) left rows the histograms do
        # not hold, which the next run drops and scores again (older states, without the count, hold
        # every row).
        self.hist_path = os.path.join(out_dir, "pixel_errors.npz")
        self.hist = {"ours": np.zeros(len(ERROR_BINS) - 1), "baseline": np.zeros(len(ERROR_BINS) - 1)}
        self._rows = 0  # the CSV rows the histograms hold
        if os.path.exists(self.csv_path) and os.path.exists(self.hist_path):
            with np.load(self.hist_path) as z:
                self.hist = {k: z[k].copy() for k in self.hist}
                self._rows = int(z["rows"]) if "rows" in z else None
        self.skipped = {}
        self.grid_rows = []

    def _check_resume(self):
        """A resumed run must have the same columns and the same RMSE reading as the first."""
        meta_path = os.path.join(self.out_dir, "rmse_reading.json")
        if os.path.exists(self.csv_path):
            with open(self.csv_path, newline="") as f:
                header = next(csv.reader(f), [])
            if header and header != FIELDS:
                raise ValueError(f"{self.csv_path} was written by another version of this tool (other columns); "
                                 "move it away or write to another folder")
            if os.path.exists(meta_path):
                with open(meta_path) as f:
                    old = json.load(f).get("reading")
                if old != self.reading:
                    raise ValueError(f"{self.csv_path} holds RMSE under the {old!r} reading, not {self.reading!r}; "
                                     "rerun with that reading or write to another folder")
        with atomic_open(meta_path) as f:
            json.dump({"reading": self.reading}, f)

    def _prediction(self, name):
        stem = os.path.splitext(name)[0]
        for ext in (".png",) + EXTENSIONS:
            p = os.path.join(self.predictions, stem + ext)
            if os.path.isfile(p):
                return load_image(p)
        raise FileNotFoundError(f"no prediction for {name} in {self.predictions}")

    def _scored_rows(self):
        """The CSV's rows the saved state holds; the file rewritten (atomically) without any others."""
        if not os.path.exists(self.csv_path):
            return []
        with open(self.csv_path, newline="") as f:
            text = f.read()
        rows = list(csv.DictReader(io.StringIO(text)))
        if rows and not text.endswith("\n"):  # the last row was cut short (a state of any age)
            rows = rows[:-1]
        kept = rows[:self._rows]  # None (an older state): every row
        if kept != rows or not text.endswith("\n"):  # rows past the state, a cut row, or no header at all
            with atomic_open(self.csv_path, "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=FIELDS)
                writer.writeheader()
                writer.writerows(kept)
        return kept

    def run(self, progress=True):
        kept = self._scored_rows()
        done = {row["image"] for row in kept}
        rows = len(kept)
        todo = [(n, p) for n, p in self.images if n not in done]
        if done:
            self.log(f"resuming: {len(done)} image(s) already scored in {self.csv_path}")
        bar = None
        if progress:
            from pycolorize.util.progress import progress as progress_display

            bar = progress_display(total=len(todo), unit="img", desc="evaluate")
        new = not os.path.exists(self.csv_path)
        with open(self.csv_path, "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=FIELDS)
            if new:
                writer.writeheader()
            for name, path in todo:
                row = self._one(name, path)
                if row is not None:
                    writer.writerow(row)
                    f.flush()
                    rows += 1
                    with atomic_open(self.hist_path, "wb") as hf:  # the resume's state: whole or the previous one
                        np.savez(hf, rows=np.int64(rows), **self.hist)
                if bar is not None:
                    bar.update(1)
        if bar is not None:
            bar.close()
        return self.summary()

    def _skip(self, reason, name):
        self.skipped.setdefault(reason, []).append(name)

    def _one(self, name, path):
        try:
            truth = load_image(path)
        except (OSError, ValueError, SyntaxError):
            self._skip("unreadable or missing", name)
            return None
        if is_grayscale(truth):
            self._skip("grayscale ground truth", name)
            return None
        gray = color.gray(truth)
        try:
            pred = self.colorize(truth) if self.colorize is not None else self._prediction(name)
        except FileNotFoundError:
            self._skip("no prediction", name)
            return None
        if pred.shape != truth.shape:
            self._skip("prediction size differs from the ground truth", name)
            return None
        baseline = np.repeat(gray[..., None], 3, axis=-1)
        (ours, err_ours), (base, err_base) = score(pred, truth, self.reading), score(baseline, truth, self.reading)
        for key, err in (("ours", err_ours), ("baseline", err_base)):
            self.hist[key] += np.histogram(np.minimum(err, ERROR_BINS[-1]), ERROR_BINS)[0]
        if len(self.grid_rows) < self.grid:
            self.grid_rows.append((name, gray, pred, truth))
        return {"image": name, **{k: f"{v:.6f}" for k, v in ours.items()},
                **{f"{k}_baseline": f"{v:.6f}" for k, v in base.items()}}

    def summary(self):
        with open(self.csv_path, newline="") as f:
            rows = list(csv.DictReader(f))
        if not rows:
            raise ValueError("no image could be scored (" + "; ".join(f"{k}: {len(v)}" for k, v in self.skipped.items()) + ")")
        col = {k: np.array([float(r[k]) for r in rows]) for k in FIELDS[1:]}

        def geo(x):
            x = x[np.isfinite(x)]
            return float(np.exp(np.log(x).mean())) if len(x) else float("inf")

        def arith(x):
            x = x[np.isfinite(x)]
            return float(x.mean()) if len(x) else float("inf")

        table = {
            "images": len(rows),
            "reading": self.reading,
            "by_reading": {r: {"no colorization": float(col[f"rmse_ab_rms_{r}_baseline"].mean()),
                               "ours": float(col[f"rmse_ab_rms_{r}"].mean())} for r in metrics.READINGS},
            "skipped": {k: len(v) for k, v in self.skipped.items()},
            "no colorization": {"rmse_ab": float(col["rmse_ab_baseline"].mean()),
                                "rmse_ab_mean": float(col["rmse_ab_mean_baseline"].mean()),
                                "psnr": arith(col["psnr_baseline"]), "psnr_geometric": geo(col["psnr_baseline"])},
            "ours": {"rmse_ab": float(col["rmse_ab"].mean()), "rmse_ab_mean": float(col["rmse_ab_mean"].mean()),
                     "psnr": arith(col["psnr"]), "psnr_geometric": geo(col["psnr"])},
        }
        table["psnr_values"] = {"ours": col["psnr"].tolist(), "baseline": col["psnr_baseline"].tolist()}
        return table


PAPER_BASELINE = "RMSE 0.333, PSNR 23.27 dB on ctest10k; RMSE 0.285 on SUN-6"


def format_table(t):
    lines = [f"RMSE(ab) reading: {t['reading']}: {metrics.READING_HELP[t['reading']]}",
             f"{'method':<18} {'RMSE(ab) avg/px':>16} {'(mean of norms)':>16} {'PSNR':>9} {'(geometric)':>12}",
             "-" * 75]
    for method in ("no colorization", "ours"):
        r = t[method]
        lines.append(f"{method:<18} {r['rmse_ab']:>16.4f} {r['rmse_ab_mean']:>16.4f} {r['psnr']:>6.2f} dB "
                     f"{r['psnr_geometric']:>9.2f} dB")
    lines.append(f"{t['images']} image(s) scored" + (
        "; skipped: " + ", ".join(f"{k} {v}" for k, v in t["skipped"].items()) if t["skipped"] else ""))
    # The paper does not say which RMSE reading it used; on its test sets the baseline row decides.
    lines.append(f"paper's no-colorization row: {PAPER_BASELINE}")
    lines.append("")
    lines.append("RMSE(ab) avg/px under each reading (docs/rmse_reading.md); on ctest10k or SUN-6 the reading whose")
    lines.append("no-colorization value matches the paper's is the paper's:")
    paper = " / ".join(f"{v:.3f} {k}" for k, v in PAPER_BASELINE_RMSE.items())
    lines.append(f"{'method':<18} " + " ".join(f"{r:>8}" for r in metrics.READINGS) + f"   paper ({paper})")
    for method in ("no colorization", "ours"):
        lines.append(f"{method:<18} " + " ".join(f"{t['by_reading'][r][method]:>8.4f}" for r in metrics.READINGS))
    return "\n".join(lines)


def figures(ev, table, out_dir):
    """The three figures as PNG files (matplotlib); returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    fig, ax = plt.subplots(figsize=(5, 4))
    right = 0.0  # the axis ends where both curves have reached 99.9 % (the readings' scales differ 3x)
    for key, label in (("ours", "ours"), ("baseline", "no colorization")):
        h = ev.hist[key]
        if h.sum() > 0:
            cum = np.cumsum(h) / h.sum()
            ax.plot(ERROR_BINS[1:], cum, label=label)
            right = max(right, ERROR_BINS[1:][min(np.searchsorted(cum, 0.999), len(cum) - 1)])
    if right > 0:
        ax.set_xlim(0, right)
    ax.set_xlabel(f"per-pixel αβ error ({table.get('reading', ev.reading)} reading)")
    ax.set_ylabel("fraction of pixels")
    ax.set_title("Cumulative error (cf. Fig. 6)")
    ax.legend()
    paths.append(os.path.join(out_dir, "error_cumulative.png"))
    save_figure(fig, paths[-1], dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5, 4))
    values = [np.array(table["psnr_values"][k]) for k in ("ours", "baseline")]
    finite = np.concatenate([v[np.isfinite(v)] for v in values])
    bins = np.linspace(finite.min() - 1, finite.max() + 1, 30) if len(finite) else 10
    for v, label in zip(values, ("ours", "no colorization")):
        ax.hist(v[np.isfinite(v)], bins=bins, alpha=0.6, label=label)
    ax.set_xlabel("PSNR per image (dB)")
    ax.set_ylabel("images")
    ax.set_title("Per-image PSNR (cf. Fig. 7)")
    ax.legend()
    paths.append(os.path.join(out_dir, "psnr_histogram.png"))
    save_figure(fig, paths[-1], dpi=100)
    plt.close(fig)

    if ev.grid_rows:
        n = len(ev.grid_rows)
        fig, axes = plt.subplots(n, 3, figsize=(9, 3 * n), squeeze=False)
        for i, (name, gray, pred, truth) in enumerate(ev.grid_rows):
            for j, (im, title) in enumerate(((gray, "input"), (pred, "output"), (truth, "ground truth"))):
                axes[i, j].imshow(im, cmap="gray" if im.ndim == 2 else None, vmin=0, vmax=1)
                axes[i, j].set_axis_off()
                axes[i, j].set_title(f"{title}" if i else f"{title}\n{name}" if j == 0 else title, fontsize=8)
        paths.append(os.path.join(out_dir, "grid.png"))
        save_figure(fig, paths[-1], dpi=80)
        plt.close(fig)
    return paths


def save_figure(fig, path, dpi):
    """A matplotlib figure as a PNG at `path`, written atomically."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png")

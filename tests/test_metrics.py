"""The paper's metrics on images with known answers, and the RMSE readings (docs/rmse_reading.md)."""
import numpy as np
import pytest

from pycolorize.colorization import color
from pycolorize.evaluation import metrics

# Two pixels, worked by hand. Truth (0.6, 0.3, 0.3): gray 0.4, alpha = 0.3 - 0.45 = -0.15, beta = 0.3,
# |(alpha, beta)| = sqrt(0.1125). Truth (0.2, 0.2, 0.5): gray 0.3, alpha = 0.3, beta = 0, norm 0.3.
TRUTH = np.array([[[0.6, 0.3, 0.3], [0.2, 0.2, 0.5]]])
GRAY = np.array([[[0.4, 0.4, 0.4], [0.3, 0.3, 0.3]]])
NORMS = {  # per-pixel error norms of the gray prediction (its alpha-beta is 0) under each reading
    "mean": [np.sqrt(0.1125) / 0.4001, 0.3 / 0.3001],            # Deshpande's converttobmyrmg: / (gray + 1e-4)
    "sum": [np.sqrt(0.1125) / 1.2003, 0.3 / 0.9003],             # / (R + G + B + 3e-4)
    "none": [np.sqrt(0.1125), 0.3],
}


@pytest.mark.parametrize("reading", metrics.READINGS)
def test_readings_by_hand(reading):
    n = np.array(NORMS[reading])
    assert metrics.pixel_errors(GRAY, TRUTH, reading) == pytest.approx(n[None], rel=1e-12)
    assert metrics.rmse_alphabeta(GRAY, TRUTH, "rms", reading) == pytest.approx(np.sqrt((n ** 2).mean()), rel=1e-12)
    assert metrics.rmse_alphabeta(GRAY, TRUTH, "mean", reading) == pytest.approx(n.mean(), rel=1e-12)
    assert metrics.rmse_alphabeta(TRUTH, TRUTH, reading=reading) == 0.0


def test_default_is_the_sum_reading():
    """The default divides by R + G + B: one third of Deshpande's literal reading. Reverting the default
    to the literal one (3x the paper's scale) fails here."""
    assert metrics.DEFAULT_READING == "sum"
    assert metrics.rmse_alphabeta(GRAY, TRUTH) == pytest.approx(np.sqrt((np.array(NORMS["sum"]) ** 2).mean()), rel=1e-12)
    assert metrics.rmse_alphabeta(GRAY, TRUTH) == pytest.approx(0.30751, abs=1e-5)
    rng = np.random.RandomState(1)
    a, b = rng.rand(5, 6, 3), rng.rand(5, 6, 3)
    for red in metrics.REDUCTIONS:
        assert metrics.rmse_alphabeta(a, b, red) == pytest.approx(metrics.rmse_alphabeta(a, b, red, "mean") / 3, rel=1e-12)


def test_literal_reading_is_the_decoders_alphabeta():
    rng = np.random.RandomState(2)
    rgb = rng.rand(4, 5, 3)
    assert np.array_equal(metrics.alphabeta(rgb, "mean"), color.rgb_to_alphabeta(rgb))


def test_default_baseline_is_on_the_papers_scale():
    """No colorization of the everyday photos pip installs: the default lands near the paper's 0.333 / 0.285
    (0.29), the literal reading three times above (0.87)."""
    data = pytest.importorskip("skimage.data")
    photos = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket()] + list(data.stereo_motorcycle()[:2])
    base = {r: [] for r in metrics.READINGS}
    for im in photos:
        rgb = im[::2, ::2, :3] / 255.0  # every other pixel: a quick test, the same scale
        gray = np.repeat(rgb.mean(-1, keepdims=True), 3, -1)
        for r in metrics.READINGS:
            base[r].append(metrics.rmse_alphabeta(gray, rgb, reading=r))
    assert 0.25 < np.mean(base["sum"]) < 0.33
    assert np.mean(base["mean"]) > 0.75
    assert metrics.rmse_alphabeta(gray, rgb) == base["sum"][-1]  # the default is the sum reading


def test_perfect_and_gray_predictions():
    rng = np.random.RandomState(0)
    truth = rng.rand(8, 9, 3)
    assert metrics.rmse_alphabeta(truth, truth) == 0.0
    assert metrics.psnr(truth, truth) == float("inf")
    gray = np.repeat(truth.mean(-1, keepdims=True), 3, axis=-1)
    ab = np.stack([(truth[..., 2] - (truth[..., 0] + truth[..., 1]) / 2), truth[..., 0] - truth[..., 1]], -1) \
        / (truth.sum(-1, keepdims=True) + 3e-4)
    assert metrics.rmse_alphabeta(gray, truth) == pytest.approx(np.sqrt((ab ** 2).sum(-1).mean()))
    assert metrics.rmse_alphabeta(gray, truth, reduce="mean") == pytest.approx(np.sqrt((ab ** 2).sum(-1)).mean())
    assert metrics.psnr(truth + 0.1, truth) == pytest.approx(20.0)


def test_bad_arguments_are_errors():
    with pytest.raises(ValueError, match=r"same \(H, W, 3\)"):
        metrics.psnr(np.zeros((4, 4, 3)), np.zeros((4, 5, 3)))
    with pytest.raises(ValueError, match=r"same \(H, W, 3\)"):
        metrics.rmse_alphabeta(np.zeros((4, 4)), np.zeros((4, 4)))
    with pytest.raises(ValueError, match="reading must be one of sum, mean, none"):
        metrics.rmse_alphabeta(GRAY, TRUTH, reading="lab")
    with pytest.raises(ValueError, match="reduce must be"):
        metrics.rmse_alphabeta(GRAY, TRUTH, reduce="max")


def test_defaults_peaks_shapes_and_types():
    rng = np.random.RandomState(3)
    a, b = rng.rand(4, 5, 3), rng.rand(4, 5, 3)
    err = metrics.pixel_errors(a, b)
    assert metrics.reduce_errors(err) == pytest.approx(np.sqrt((err ** 2).mean()), rel=1e-12)  # "rms" by default
    # PSNR with peak 255 on 0..255 values is PSNR with peak 1 on 0..1
    assert metrics.psnr(a * 255, b * 255, peak=255) == pytest.approx(metrics.psnr(a, b), rel=1e-12)
    assert metrics.psnr(a * 2, b * 2, peak=2.0) == pytest.approx(metrics.psnr(a, b), rel=1e-12)
    # float32 images are scored in float64: exactly as their float64 copies
    a32, b32 = a.astype(np.float32), b.astype(np.float32)
    for f in (metrics.rmse_alphabeta, metrics.psnr):
        assert f(a32, b32) == f(a32.astype(np.float64), b32.astype(np.float64))
        assert f(a32, b32.astype(np.float64)) == f(a32.astype(np.float64), b32.astype(np.float64))
        assert f(a32.astype(np.float64), b32) == f(a32.astype(np.float64), b32.astype(np.float64))
    with pytest.raises(ValueError, match=r"same \(H, W, 3\)"):  # 2-D with 3 columns is not an image
        metrics.psnr(np.zeros((4, 3)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"same \(H, W, 3\)"):
        metrics.psnr(np.zeros((4, 4, 4)), np.zeros((4, 4, 4)))

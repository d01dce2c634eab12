"""The paper's metrics on images with known answers."""
import numpy as np
import pytest

from pycolorize import metrics


def test_perfect_and_gray_predictions():
    rng = np.random.RandomState(0)
    truth = rng.rand(8, 9, 3)
    assert metrics.rmse_alphabeta(truth, truth) == 0.0
    assert metrics.psnr(truth, truth) == float("inf")
    gray = np.repeat(truth.mean(-1, keepdims=True), 3, axis=-1)
    ab = np.stack([(truth[..., 2] - (truth[..., 0] + truth[..., 1]) / 2), truth[..., 0] - truth[..., 1]], -1) \
        / (truth.mean(-1, keepdims=True) + 1e-4)
    assert metrics.rmse_alphabeta(gray, truth) == pytest.approx(np.sqrt((ab ** 2).sum(-1).mean()))
    assert metrics.rmse_alphabeta(gray, truth, reduce="mean") == pytest.approx(np.sqrt((ab ** 2).sum(-1)).mean())
    assert metrics.psnr(truth + 0.1, truth) == pytest.approx(20.0)


def test_mismatched_shapes_are_errors():
    with pytest.raises(ValueError, match=r"same \(H, W, 3\)"):
        metrics.psnr(np.zeros((4, 4, 3)), np.zeros((4, 5, 3)))
    with pytest.raises(ValueError, match=r"same \(H, W, 3\)"):
        metrics.rmse_alphabeta(np.zeros((4, 4)), np.zeros((4, 4)))

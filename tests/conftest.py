"""Shared test helpers: the golden data folder and small-net builders."""
import os

import numpy as np
import pytest

import pycolorize

DATA = os.path.join(os.path.dirname(__file__), "data")


def net_from(text, phase="test", **kw):
    return pycolorize.Net.from_string(text, phase=phase, **kw)


def assert_close(ours, ref, tol, what=""):
    """max |ours - ref| / max(1, max |ref|) <= tol; prints the first mismatches with their indices."""
    ours = np.asarray(ours, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    assert ours.shape == ref.shape, f"{what}: shape {ours.shape} != {ref.shape}"
    scale = max(1.0, float(np.abs(ref).max()) if ref.size else 1.0)
    err = np.abs(ours - ref) / scale
    if ref.size and err.max() > tol:
        bad = np.argwhere(err > tol)[:5]
        lines = [f"  at {tuple(i)}: ours {ours[tuple(i)]:.8g} ref {ref[tuple(i)]:.8g}" for i in bad]
        raise AssertionError(f"{what}: max scaled error {err.max():.3g} > {tol:g}\n" + "\n".join(lines))


HAS_GPU = pycolorize.cuda_compiled() and pycolorize.gpu_count() > 0


@pytest.fixture(autouse=True)
def _cpu_mode():
    pycolorize.set_mode_cpu()
    yield
    pycolorize.set_mode_cpu()


@pytest.fixture(params=["cpu", pytest.param("gpu", marks=pytest.mark.gpu)])
def device(request):
    """Runs a test once per device: on the CPU, and on the GPU where one is visible (full FP32)."""
    if request.param == "gpu":
        if not HAS_GPU:
            pytest.skip("no CUDA device (or a build without CUDA)")
        pycolorize.set_allow_tf32(False)
        pycolorize.set_mode_gpu()
    return request.param

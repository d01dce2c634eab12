"""Shared test helpers: the golden data folder and small-net builders."""
import contextlib
import importlib.util
import os

import numpy as np
import pytest

import pycolorize
from pycolorize._core import _testing

DATA = os.path.join(os.path.dirname(__file__), "data")


def net_from(text, phase="test", **kw):
    return pycolorize.Net.from_string(text, phase=phase, **kw)


# The CPU runs a convolution one of three ways (docs/design.md, "Decisions"): im2col + one GEMM; the
# kernel-row GEMMs (one per kernel row, over an unfolding of the kernel's columns only; stride 1 in
# height, one image per GEMM); and, for all three passes of 3x3 stride-1 layers, Winograd
# F(2x2, 3x3) (csrc/layers/conv/winograd.h). By default each runs where it pays; cpu_path forces one
# wherever it applies (the others' layers fall back), then restores the defaults.
CPU_PATHS = {
    "im2col": dict(kernel_rows=False, winograd=0),
    "kernel_rows": dict(kernel_rows=True, winograd=0, batch_floats=1),  # one image per GEMM
    "winograd": dict(kernel_rows=True, winograd=2, batch_floats=1),
}


@contextlib.contextmanager
def cpu_path(name, band_floats=2 ** 22):
    knobs = CPU_PATHS[name]
    try:
        _testing.set_conv_kernel_rows(knobs["kernel_rows"])
        _testing.set_conv_winograd(knobs["winograd"])
        _testing.set_conv_batch_floats(knobs.get("batch_floats", 2 ** 24))
        _testing.set_conv_band_floats(band_floats)
        yield
    finally:
        _testing.set_conv_kernel_rows(True)
        _testing.set_conv_winograd(1)
        _testing.set_conv_batch_floats(2 ** 24)
        _testing.set_conv_band_floats(2 ** 22)


def assert_close(ours, ref, tol, what="", atol=None):
    """max |ours - ref| / max(1, max |ref|) <= tol, for values of order 1 or more; prints the first
    mismatches with their indices. Where the elements are small (solver updates of ~1e-3, say),
    that scaling makes tol an absolute tolerance, so such checks pass `atol`: then every element
    must satisfy |ours - ref| <= atol + tol * |ref| (numpy.isclose's rule)."""
    ours = np.asarray(ours, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    assert ours.shape == ref.shape, f"{what}: shape {ours.shape} != {ref.shape}"
    if not ref.size:
        return
    if atol is None:
        err = np.abs(ours - ref) / max(1.0, float(np.abs(ref).max()))
        bound, rule = tol, f"max scaled error {err.max():.3g} > {tol:g}"
    else:
        err = np.abs(ours - ref)
        bound = atol + tol * np.abs(ref)
        rule = f"max |ours - ref| - (atol {atol:g} + rtol {tol:g} |ref|) = {(err - bound).max():.3g} > 0"
    wrong = (err > bound) | (np.isfinite(ref) & ~np.isfinite(ours))  # NaN compares False: caught here
    if wrong.any():
        bad = np.argwhere(wrong)[:5]
        lines = [f"  at {tuple(i)}: ours {ours[tuple(i)]:.8g} ref {ref[tuple(i)]:.8g}" for i in bad]
        raise AssertionError(f"{what}: {rule}\n" + "\n".join(lines))


HAS_GPU = pycolorize.cuda_compiled() and pycolorize.gpu_count() > 0


def tool_main(script):
    """main() of tools/`script` (e.g. "train.py"), loaded from its file as `python tools/...` runs it."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    spec = importlib.util.spec_from_file_location("tool_" + script[:-3], os.path.join(root, "tools", script))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


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

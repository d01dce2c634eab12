"""pycolorize: Larsson, Maire & Shakhnarovich (ECCV 2016) automatic colorization on a small
Caffe-style C++/CUDA core.

    import pycolorize
    net = pycolorize.Net("prototxt/colorize_deploy.prototxt", phase="test",
                         weights="autocolorize.caffemodel.h5")
    out = net.forward(data=gray[None, None])     # {"prediction_h_full": ..., ...}

The API is shaped like pycaffe: ``net.blobs[name].data`` / ``.diff`` and
``net.params[layer][i].data`` / ``.diff`` are zero-copy float32 NumPy arrays.
"""
import ctypes as _ctypes
import os as _os

from ._version import __version__

# OpenMP and OpenBLAS keep separate thread pools, and neither's idle threads may spin on the cores
# the other is about to use: libgomp's idle threads sleep (OMP_WAIT_POLICY=PASSIVE), and OpenBLAS's
# sleep after 2**4 cycles (OPENBLAS_THREAD_TIMEOUT=4) instead of its default 2**28 (about 0.1 s,
# during which a worker spun on one of two cores through every OpenMP loop that followed a GEMM:
# the training step ran 16-20 % slower). Neither library has a call for this: each reads its variable
# once, when it loads. So the variables are set for that moment only (where the user has not set
# them) and taken away again: importing pycolorize leaves the process's environment as it was.
_THREAD_ENV = {"OMP_WAIT_POLICY": "PASSIVE", "OPENBLAS_THREAD_TIMEOUT": "4"}
_ENV_SET = [k for k in _THREAD_ENV if k not in _os.environ]


def _no_extension(error):
    """The ImportError for a pycolorize folder without its compiled _core: most often the source
    tree shadowing an installed copy (Python puts the current folder first on sys.path), which
    otherwise surfaces as a confusing partial-import error."""
    here = _os.path.dirname(_os.path.abspath(__file__))
    is_source_tree = _os.path.exists(_os.path.join(here, "..", "setup.py"))
    msg = f"pycolorize at {here} has no compiled extension (_core): {error}."
    if is_source_tree:
        msg += (" This is the source tree, which comes first on sys.path when Python runs from its root and"
                " hides a pip-installed pycolorize. Run from another folder to use the installed package, or"
                " build in place: cmake -S . -B build && cmake --build build.")
    else:
        msg += " Reinstall it: pip install --force-reinstall pycolorize (from its source folder: pip install .)."
    return ImportError(msg)


_os.environ.update({k: _THREAD_ENV[k] for k in _ENV_SET})
try:
    # The extension links OpenBLAS from the scipy-openblas32 wheel; load it first (globally) so the
    # dynamic loader finds it wherever pip put the wheel. (A build against SciPy's bundled copy
    # finds it through its RPATH instead.)
    try:
        import scipy_openblas32 as _openblas
    except ImportError:
        _openblas = None
    if _openblas is not None:
        _ctypes.CDLL(_os.path.join(_openblas.get_lib_dir(), _openblas.get_library(True)), mode=_ctypes.RTLD_GLOBAL)
    # A CUDA build's cuDNN, cuBLAS and runtime come from the nvidia-* wheels where PyTorch's are
    # installed, so that the two share one copy of each whoever is imported first (util.cudalibs).
    import importlib.util as _importlib_util

    from .util import cudalibs as _cudalibs

    _spec = _importlib_util.find_spec(__name__ + "._core")
    _preloaded = _cudalibs.preload_for(_spec.origin) if _spec is not None and _spec.origin else []
    try:
        from . import _core  # noqa: E402
    except ImportError as _e:
        if not _preloaded:
            raise
        raise ImportError(f"pycolorize's extension did not load ({_e}) after {', '.join(_preloaded)} from the nvidia-* "
                          f"wheels: set {_cudalibs.OPT_OUT}=0 to use the CUDA libraries the build found instead") from None
except ImportError as _e:
    if "_core" not in str(_e) or _cudalibs.OPT_OUT in str(_e):
        raise
    raise _no_extension(_e) from None
finally:
    for _k in _ENV_SET:
        del _os.environ[_k]
from ._core import Error, layer_types  # noqa: E402
from .engine import Net, Solver, load_weights, save_weights  # noqa: E402
from .engine.runtime import (allow_tf32, config, cuda_compiled, gpu_count, gpu_memory, gpu_name, mode,  # noqa: E402
                             set_allow_tf32, set_device, set_mode_cpu, set_mode_gpu, set_num_threads,
                             set_random_seed, show_config, synchronize, use_gpu)
from .colorization import Colorizer  # noqa: E402

__all__ = [
    "Error", "Net", "Solver", "Colorizer", "layer_types", "load_weights", "save_weights", "set_mode_cpu", "set_mode_gpu",
    "set_device", "use_gpu", "mode", "config", "show_config", "set_allow_tf32", "allow_tf32", "cuda_compiled", "gpu_count", "gpu_name", "synchronize", "gpu_memory", "set_random_seed", "set_num_threads", "__version__",
]

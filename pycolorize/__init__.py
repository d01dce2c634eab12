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
    from . import _core  # noqa: E402
except ImportError as _e:
    if "_core" not in str(_e):
        raise
    raise _no_extension(_e) from None
finally:
    for _k in _ENV_SET:
        del _os.environ[_k]
from ._core import Error, layer_types  # noqa: E402
from .net import Net  # noqa: E402
from .solver import Solver  # noqa: E402
from .colorizer import Colorizer  # noqa: E402
from .weights import load_weights, save_weights  # noqa: E402


def set_mode_cpu():
    """Run layers on the CPU (the default)."""
    _core.set_mode_cpu()


def use_gpu(device_id):
    """Run layers on CUDA device `device_id` (set_device, then set_mode_gpu). Raises Error with one
    line saying why not: a build without CUDA, no visible device, or an ID out of range."""
    device_id = int(device_id)
    if not cuda_compiled():
        raise Error(f"GPU {device_id} requested, but this build of pycolorize has no CUDA support "
                    "(build it where the CUDA toolkit, cuBLAS and cuDNN are installed, or run on the CPU)")
    count = gpu_count()
    if count == 0:
        raise Error(f"GPU {device_id} requested, but no CUDA device is visible (run on the CPU)")
    if not 0 <= device_id < count:
        raise Error(f"GPU {device_id} requested, but there {'is 1 CUDA device (ID 0)' if count == 1 else f'are {count} CUDA devices (IDs 0 to {count - 1})'}")
    set_device(device_id)
    set_mode_gpu()


def config():
    """What this build of pycolorize has and runs on, as a dict: its version, the compiler and its
    flags, the build type, OpenMP, OpenBLAS (library, version, the kernel it picked for this CPU),
    and the CUDA toolkit it was built with and the CUDA runtime, driver, cuBLAS and cuDNN it runs
    on (absent without CUDA). NCCL is not used (no multi-GPU training yet)."""
    info = {"version": __version__}
    info.update(_core.build_info())
    info["gpus"] = ", ".join(gpu_name(i) for i in range(gpu_count())) if cuda_compiled() else ""
    info["gpus"] = info["gpus"] or "none"
    return info


def show_config():
    """Print config(), one line per item, as numpy.show_config() does."""
    for key, value in config().items():
        print(f"{key:>16}: {value}")


def set_mode_gpu():
    """Run layers on the current CUDA device; raises Error without CUDA or a visible GPU."""
    _core.set_mode_gpu()


def set_device(device_id):
    """Select the CUDA device used in GPU mode."""
    _core.set_device(int(device_id))


def mode():
    """'cpu' or 'gpu'."""
    return _core.mode()


def cuda_compiled():
    """True when this build contains the CUDA backend."""
    return _core.cuda_compiled()


def gpu_count():
    """Number of visible CUDA devices (0 without CUDA)."""
    return _core.gpu_count()


def gpu_name(device_id=0):
    """The CUDA device's name ("NVIDIA H200")."""
    return _core.gpu_name(int(device_id))


def synchronize():
    """Wait for the GPU's queued work (for timing); nothing on the CPU."""
    _core.synchronize()


def gpu_memory():
    """pycolorize's device memory, in bytes: {"allocated", "peak_allocated", "device_free",
    "device_total"} (the last two for the whole device)."""
    return _core.gpu_memory()


def set_allow_tf32(allow):
    """Let cuBLAS and cuDNN use TF32 tensor cores (faster, ~1e-3 relative error). Off by default:
    the GPU computes in full FP32, as the CPU does."""
    _core.set_allow_tf32(bool(allow))


def allow_tf32():
    return _core.allow_tf32()


def set_random_seed(seed):
    """Seed the generator used by fillers and Dropout."""
    _core.set_random_seed(int(seed))


def set_num_threads(n):
    """Threads for OpenBLAS and the OpenMP loops."""
    _core.set_num_threads(int(n))


__all__ = [
    "Error", "Net", "Solver", "Colorizer", "layer_types", "load_weights", "save_weights", "set_mode_cpu", "set_mode_gpu",
    "set_device", "use_gpu", "mode", "config", "show_config", "set_allow_tf32", "allow_tf32", "cuda_compiled", "gpu_count", "gpu_name", "synchronize", "gpu_memory", "set_random_seed", "set_num_threads", "__version__",
]

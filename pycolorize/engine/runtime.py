"""The process-wide runtime of the core: CPU or GPU mode and device, TF32, the random seed, threads,
and what this build has (config, show_config)."""
import os

from pycolorize.engine.core import _core
from pycolorize.engine.core import Error
from pycolorize._version import __version__
from pycolorize.util import cudalibs


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
    on (absent without CUDA); and which file of each CUDA library this process has loaded
    ("loaded <library>": shared with PyTorch when both run in one process; NCCL only once the NCCL
    backend has been used, "not loaded" before)."""
    info = {"version": __version__}
    info.update(_core.build_info())
    # the build records where it linked OpenBLAS (for a wheel build, a temporary build environment
    # that no longer exists); say which file this process really runs on, where that can be read
    openblas = next(iter(cudalibs.loaded((os.path.basename(info.get("openblas_library", "")).split(".so")[0],))
                         .values()), None) if info.get("openblas_library") else None
    if openblas:
        info["openblas_library"] = ", ".join(openblas)
    info["gpus"] = ", ".join(gpu_name(i) for i in range(gpu_count())) if cuda_compiled() else ""
    info["gpus"] = info["gpus"] or "none"
    files = cudalibs.loaded()
    for lib in cudalibs.CUDA_LIBRARIES:
        if lib in files:
            info[f"loaded {lib}"] = ", ".join(files[lib])
    if getattr(_core, "nccl_compiled", False) and "libnccl" not in files:
        info["loaded libnccl"] = "not loaded (loaded when the NCCL backend is first used)"
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

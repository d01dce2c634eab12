"""The compiled core (pycolorize._core, built from csrc/) as the rest of the package reaches it: the
module itself and its error type. pycolorize/__init__ loads it (after OpenBLAS); importing it from
here keeps the structure checker's view of the package true (it cannot see inside an extension
module, and would otherwise count every use of the core as an import of the whole package)."""
from pycolorize import _core
from pycolorize._core import Error
from pycolorize.util import cudalibs

if getattr(_core, "nccl_compiled", False):
    # NCCL loads on first use (csrc/parallel/nccl_api.h): a copy already in the process first
    # (PyTorch's), then the nvidia-nccl wheel's, then the one the build found
    _core.set_nccl_search_paths(cudalibs.nccl_folders())

__all__ = ["_core", "Error"]

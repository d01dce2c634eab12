"""The compiled core (pycolorize._core, built from csrc/) as the rest of the package reaches it: the
module itself and its error type. pycolorize/__init__ loads it (after OpenBLAS); importing it from
here keeps the structure checker's view of the package true (it cannot see inside an extension
module, and would otherwise count every use of the core as an import of the whole package)."""
from pycolorize import _core
from pycolorize._core import Error

__all__ = ["_core", "Error"]

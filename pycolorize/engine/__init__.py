"""The engine: the compiled core's Net and Solver as Python objects, weights in Caffe's formats
(HDF5 and binary caffemodel, BatchNorm folding), the gradient checker, and the process runtime
(CPU/GPU mode, devices, seeds, threads, build configuration).

May import: pycolorize._core and pycolorize.util. Everything else in pycolorize builds on it; only
this package touches the core's objects behind Net and Solver (their ``_net`` and ``_solver``).
"""
from .net import Net
from .solver import Solver, latest_snapshot
from .weights import load_weights, save_weights

__all__ = ["Net", "Solver", "latest_snapshot", "load_weights", "save_weights"]

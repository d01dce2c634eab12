"""Training: the data config, the training loop with snapshots, exact resume and crash safety (loop),
and data-parallel training over MPI or NCCL (distributed).

May import: pycolorize.data, pycolorize.colorization, pycolorize.models, pycolorize.engine and
pycolorize.util.
"""
from .loop import Diverged, StopNow, load_config, train

__all__ = ["Diverged", "StopNow", "load_config", "train"]

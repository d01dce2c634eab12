"""`pycolorize benchmark`: the command (command), the training comparison against PyTorch (train),
the multi-node scaling estimate (scaling), and the worker processes they start (worker, run as
``python -m pycolorize.cli.benchmark.worker``), and the training loader's comparison (loader).

May import, as every command: the whole library, PyTorch (only inside the measurements, where it
is installed) and pycolorize.cli's shared options; nothing imports it but pycolorize.cli.
"""
from .command import DESCRIPTION, EPILOG, SUMMARY, add_arguments, run

__all__ = ["DESCRIPTION", "EPILOG", "SUMMARY", "add_arguments", "run"]

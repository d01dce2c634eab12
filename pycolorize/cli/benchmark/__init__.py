"""`pycolorize benchmark`: the command (command), the training comparison against PyTorch (train),
the multi-node scaling estimate (scaling), and the worker processes they start (worker, run as
``python -m pycolorize.cli.benchmark.worker``).
"""
from .command import DESCRIPTION, EPILOG, SUMMARY, add_arguments, run

__all__ = ["DESCRIPTION", "EPILOG", "SUMMARY", "add_arguments", "run"]

#!/usr/bin/env python
"""Train a colorization net with the C++ SGD solver.

The same as `pycolorize train ARGS` (the code is in pycolorize/cli/train.py); `python tools/train.py
--help` lists the options, defaults, examples and exit codes.
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.append(ROOT)  # an installed pycolorize wins; the source tree serves in-place builds
from pycolorize.cli import run_tool  # noqa: E402


def main(argv=None):
    return run_tool("train", argv, prog=os.path.basename(__file__), root=ROOT)


if __name__ == "__main__":
    sys.exit(main())

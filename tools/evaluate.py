#!/usr/bin/env python
"""Score colorizations as the paper does (RMSE in alpha-beta, PSNR), beside no colorization.

The same as `pycolorize evaluate ARGS` (the code is in pycolorize/cli/evaluate.py); `python tools/evaluate.py
--help` lists the options, defaults, examples and exit codes.
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.append(ROOT)  # an installed pycolorize wins; the source tree serves in-place builds
from pycolorize.cli import run_tool  # noqa: E402


def main(argv=None):
    return run_tool("evaluate", argv, prog=os.path.basename(__file__), root=ROOT)


if __name__ == "__main__":
    sys.exit(main())

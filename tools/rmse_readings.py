#!/usr/bin/env python
"""The no-colorization RMSE(alpha-beta) under each reading of the paper's metric, beside the paper's

The same as `pycolorize rmse-readings ARGS` (the code is in pycolorize/cli/rmse_readings.py); `python tools/rmse_readings.py
--help` lists the options, defaults, examples and exit codes.
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.append(ROOT)  # an installed pycolorize wins; the source tree serves in-place builds
from pycolorize.cli import run_tool  # noqa: E402


def main(argv=None):
    return run_tool("rmse-readings", argv, prog=os.path.basename(__file__), root=ROOT)


if __name__ == "__main__":
    sys.exit(main())

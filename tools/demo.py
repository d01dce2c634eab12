#!/usr/bin/env python
"""The end-to-end demo: train the tiny model on scikit-image's colour photos, colorize the held-out
ones and compare with no colorization.

The same as `pycolorize demo ARGS` (the code is in pycolorize/cli/demo.py); `python tools/demo.py
--help` lists the options, defaults, examples and exit codes.
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.append(ROOT)  # an installed pycolorize wins; the source tree serves in-place builds
from pycolorize.cli import run_tool  # noqa: E402


def main(argv=None):
    return run_tool("demo", argv, prog=os.path.basename(__file__), root=ROOT)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python
"""The VGG-16 trunk of a colorization snapshot (conv1_1 .. fc7, BatchNorm folded), for fine-tuning.

The same as `pycolorize export-trunk ARGS` (the code is in pycolorize/cli/export_trunk.py); `python tools/export_trunk.py
--help` lists the options, defaults, examples and exit codes.
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.append(ROOT)  # an installed pycolorize wins; the source tree serves in-place builds
from pycolorize.cli import run_tool  # noqa: E402


def main(argv=None):
    return run_tool("export-trunk", argv, prog=os.path.basename(__file__), root=ROOT)


if __name__ == "__main__":
    sys.exit(main())

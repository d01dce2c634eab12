#!/usr/bin/env python
"""Colorize photographs with a dense hue/chroma model, as the authors' released tool does.

The same as `pycolorize colorize ARGS` (the code is in pycolorize/cli/colorize.py); `python tools/colorize.py
--help` lists the options, defaults, examples and exit codes.
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.append(ROOT)  # an installed pycolorize wins; the source tree serves in-place builds
from pycolorize.cli import run_tool  # noqa: E402


def main(argv=None):
    return run_tool("colorize", argv, prog=os.path.basename(__file__), root=ROOT)


if __name__ == "__main__":
    sys.exit(main())

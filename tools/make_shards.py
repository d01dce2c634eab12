#!/usr/bin/env python
"""Pack a folder or an image list into tar shards (the WebDataset layout) for training.

The same as `pycolorize make-shards ARGS` (the code is in pycolorize/cli/make_shards.py); `python tools/make_shards.py
--help` lists the options, defaults, examples and exit codes.
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.append(ROOT)  # an installed pycolorize wins; the source tree serves in-place builds
from pycolorize.cli import run_tool  # noqa: E402


def main(argv=None):
    return run_tool("make-shards", argv, prog=os.path.basename(__file__), root=ROOT)


if __name__ == "__main__":
    sys.exit(main())

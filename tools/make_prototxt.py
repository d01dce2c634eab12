#!/usr/bin/env python
"""Write the generated prototxts of prototxt/ from pycolorize.models (run from the repository root):

The same as `pycolorize make-prototxt ARGS` (the code is in pycolorize/cli/make_prototxt.py); `python tools/make_prototxt.py
--help` lists the options, defaults, examples and exit codes.
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.append(ROOT)  # an installed pycolorize wins; the source tree serves in-place builds
from pycolorize.cli import run_tool  # noqa: E402


def main(argv=None):
    return run_tool("make-prototxt", argv, prog=os.path.basename(__file__), root=ROOT)


if __name__ == "__main__":
    sys.exit(main())

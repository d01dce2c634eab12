#!/usr/bin/env python
"""The dense colorization net as an ONNX graph or a torch.export program, checked against pycolorize.

The same as `pycolorize export ARGS` (the code is in pycolorize/cli/export.py); `python tools/export.py
--help` lists the options, defaults, examples and exit codes.
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.append(ROOT)  # an installed pycolorize wins; the source tree serves in-place builds
from pycolorize.cli import run_tool  # noqa: E402


def main(argv=None):
    return run_tool("export", argv, prog=os.path.basename(__file__), root=ROOT)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python
"""Score semantic segmentation on PASCAL VOC 2012 (mean IU, the paper's Table 6): a net, or
predictions made elsewhere.

The same as `pycolorize evaluate-segmentation ARGS` (the code is in
pycolorize/cli/evaluate_segmentation.py); `python tools/evaluate_segmentation.py --help` lists the
options, defaults, examples and exit codes.
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.append(ROOT)  # an installed pycolorize wins; the source tree serves in-place builds
from pycolorize.cli import run_tool  # noqa: E402


def main(argv=None):
    return run_tool("evaluate-segmentation", argv, prog=os.path.basename(__file__), root=ROOT)


if __name__ == "__main__":
    sys.exit(main())

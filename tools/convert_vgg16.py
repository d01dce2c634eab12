#!/usr/bin/env python
"""ImageNet VGG-16 weights to VGG-16-Gray for the colorization net (Caffe HDF5 out).

The same as `pycolorize convert-vgg16 ARGS` (the code is in pycolorize/cli/convert_vgg16.py); `python tools/convert_vgg16.py
--help` lists the options, defaults, examples and exit codes.
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.append(ROOT)  # an installed pycolorize wins; the source tree serves in-place builds
from pycolorize.cli import run_tool  # noqa: E402


def main(argv=None):
    return run_tool("convert-vgg16", argv, prog=os.path.basename(__file__), root=ROOT)


if __name__ == "__main__":
    sys.exit(main())

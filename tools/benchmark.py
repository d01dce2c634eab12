#!/usr/bin/env python
"""Benchmark: the authors' dense colorization network beside the same network in PyTorch, on the CPU
or (--gpu) a CUDA device.

The same as `pycolorize benchmark ARGS` (the code is in pycolorize/cli/benchmark/command.py); `python tools/benchmark.py
--help` lists the options, defaults, examples and exit codes.
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.append(ROOT)  # an installed pycolorize wins; the source tree serves in-place builds
from pycolorize.cli import run_tool  # noqa: E402


def main(argv=None):
    return run_tool("benchmark", argv, prog=os.path.basename(__file__), root=ROOT)


if __name__ == "__main__":
    sys.exit(main())

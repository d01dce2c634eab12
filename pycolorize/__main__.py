"""`python -m pycolorize SUB ...`: the same as the `pycolorize` console command."""
import sys

from .cli import main

sys.exit(main())

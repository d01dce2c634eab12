"""A benchmark worker: one measurement in a fresh process, its results as a JSON file. The command
spawns it (`python -m pycolorize.cli.benchmark.worker --worker KIND ...`); it is not run by hand."""
from pycolorize.cli.benchmark.command import worker_main

if __name__ == "__main__":
    worker_main()

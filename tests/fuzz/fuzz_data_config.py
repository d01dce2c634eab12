"""atheris harness: the YAML data config of tools/train.py, pycolorize.training.load_config, then the
source it names, pycolorize.data.open_source (list, folder and hdf5 sources), and a list file's text.

Input: first byte 'L' -> the rest is an image-list file (data.list_source reads it); otherwise the
rest is the YAML config. Seeds name a list file, a folder and an HDF5 file the harness makes in its
scratch folder, so mutations reach open_source with real paths.

Clean: pycolorize.Error or ValueError with a message (naming the config or list file where the
error is about that file), FileNotFoundError / NotADirectoryError / IsADirectoryError /
PermissionError for paths in the config. Anything else is a crash.
"""
import os
import sys

import atheris

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fuzzlib  # noqa: E402

# PyYAML is instrumented too, so that coverage guides mutations through the YAML grammar.
with atheris.instrument_imports(include=["pycolorize", "yaml"]):
    import yaml  # noqa: F401
    import pycolorize
    from pycolorize import data
    from pycolorize.training import loop as training

import h5py  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

CONFIG = fuzzlib.scratch_path(".yaml")
LIST = fuzzlib.scratch_path(".txt")
FOLDER = fuzzlib.scratch_path("-images")
HDF5 = fuzzlib.scratch_path("-images.h5")
PATH_ERRORS = (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError)


def make_sources():
    os.makedirs(FOLDER, exist_ok=True)
    Image.fromarray(np.full((4, 4, 3), 200, np.uint8)).save(os.path.join(FOLDER, "a.png"))
    fuzzlib.write(LIST, b"a.png 0\n# comment\n\n/a.png\n")
    with h5py.File(HDF5, "w") as f:
        f.create_dataset("images", data=np.zeros((2, 4, 4, 3), np.uint8))
        f.create_group("group").create_dataset("x", data=np.zeros((4, 4), np.uint8))


def test_one_input(raw):
    if raw[:1] == b"L":
        fuzzlib.write(LIST, raw[1:])
        try:
            data.list_source(LIST, root=FOLDER)
        except Exception as e:  # noqa: BLE001 -- judged: clean or a crash
            fuzzlib.judge(e, LIST, (pycolorize.Error, ValueError))
        return
    fuzzlib.write(CONFIG, raw[1:])
    try:
        cfg = training.load_config(CONFIG)
    except Exception as e:  # noqa: BLE001 -- judged: clean, known open or a crash
        fuzzlib.judge(e, CONFIG, (pycolorize.Error, ValueError))
        return
    try:
        data.open_source(cfg["source"])
    except PATH_ERRORS:
        pass
    except Exception as e:  # noqa: BLE001
        if not isinstance(e, (pycolorize.Error, ValueError)) or not str(e):
            raise


def seeds():
    base = "short_side: 256\nmirror: true\nmargin: 16\nmean_shift: 0.0\nseed: 3\nworkers: 2\n"
    return {
        "list.yaml": f"Ysource: {{type: list, path: {LIST}, root: {FOLDER}}}\n{base}".encode(),
        "folder.yaml": f"Ysource:\n  type: folder\n  path: {FOLDER}\n{base}".encode(),
        "hdf5.yaml": f"Ysource: {{type: hdf5, path: '{HDF5}', dataset: images}}\n{base}".encode(),
        "group.yaml": f"Ysource: {{type: hdf5, path: \"{HDF5}\", dataset: group}}\n".encode(),
        "anchors.yaml": b"Ya: &x [1, 2]\nsource: *x\n",
        "list.txt": b"L/n01440764/a.png 3\n# comment\n\nb.png\n",
    }


if __name__ == "__main__":
    make_sources()
    fuzzlib.main("data_config", test_one_input, seeds())

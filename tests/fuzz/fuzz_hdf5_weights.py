"""atheris harness: the Caffe HDF5 weights readers, pycolorize.load_weights (Net(weights=...),
Solver(weights=...)) and the HDF5 branch of pycolorize.models.vgg.read_vgg_weights (tools/convert_vgg16.py).

Two kinds of input, picked by the first byte: the rest taken as the file's bytes (a damaged file;
seeds are the repository's .caffemodel.h5 files), or a recipe from which the harness writes a
well-formed HDF5 file of odd structure (groups where blobs belong, odd names, shapes, dtypes,
scalars, strings, empty datasets).

Clean: pycolorize.Error (both readers), ValueError from read_vgg_weights (its "no VGG-16 weights"
message), FileNotFoundError; each naming the file. Anything else is a crash (h5py's own errors
escaping either reader on a damaged file included).
"""
import os
import sys

import atheris

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fuzzlib  # noqa: E402

with atheris.instrument_imports(include=["pycolorize"]):
    import pycolorize
    from pycolorize.models import vgg

import h5py  # noqa: E402
import numpy as np  # noqa: E402

PATH = fuzzlib.scratch_path(".h5")
NAMES = ["data", "0", "1", "2", "conv", "ip", "conv1_1", "fc6", "block1_conv1", "kernel:0", "bias:0", "x", "10", "-1"]
DTYPES = [np.float32, np.float64, np.int8, np.uint16, np.int64, np.float16, np.bool_, "S3", np.complex64]
NET = None


def write_recipe(fdp):
    """A well-formed HDF5 file whose structure comes from the fuzz input."""
    with h5py.File(PATH, "w") as f:
        stack = [f]
        for _ in range(fdp.ConsumeIntInRange(0, 24)):
            if fdp.remaining_bytes() == 0:
                break
            op = fdp.ConsumeIntInRange(0, 3)
            where = stack[-1]
            name = fdp.PickValueInList(NAMES)
            if name in where:
                continue
            if op == 0:  # a group, entered
                stack.append(where.create_group(name))
            elif op == 1 and len(stack) > 1:  # leave the group
                stack.pop()
            else:  # a dataset of some shape and type
                ndim = fdp.ConsumeIntInRange(0, 5)
                shape = tuple(fdp.ConsumeIntInRange(0, 6) for _ in range(ndim))
                dtype = fdp.PickValueInList(DTYPES)
                count = int(np.prod(shape))
                raw = fdp.ConsumeBytes(count * np.dtype(dtype).itemsize)
                arr = np.zeros(count, dtype)
                view = arr.view(np.uint8)
                view[:len(raw)] = np.frombuffer(raw, np.uint8)
                where.create_dataset(name, data=arr.reshape(shape))


def test_one_input(data):
    global NET
    if NET is None:
        NET = pycolorize.Net(os.path.join(fuzzlib.ROOT, "tests", "data", "solver", "train.prototxt"), phase="test")
    if data[:1] == b"R":
        fuzzlib.write(PATH, data[1:])
    else:
        write_recipe(atheris.FuzzedDataProvider(data[1:]))
    for read in (lambda: pycolorize.load_weights(NET, PATH), lambda: vgg.read_vgg_weights(PATH)):
        try:
            read()
        except Exception as e:  # noqa: BLE001 -- judged: clean, known open, or a crash
            fuzzlib.judge(e, PATH, (pycolorize.Error, ValueError, FileNotFoundError))


if __name__ == "__main__":
    seeds = {}
    for rel in ("tests/data/solver/final_plain.caffemodel.h5",):
        with open(os.path.join(fuzzlib.ROOT, rel), "rb") as f:
            seeds["R" + os.path.basename(rel)] = b"R" + f.read()
    seeds["recipe"] = b"S" + bytes(range(256))
    fuzzlib.main("hdf5_weights", test_one_input, seeds)

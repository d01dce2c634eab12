"""atheris harness: the binary .caffemodel reader (pycolorize/caffemodel.py), through
pycolorize.models.vgg.read_vgg_weights as tools/convert_vgg16.py calls it.

Clean: pycolorize.Error (caffemodel.DecodeError is one) or ValueError, naming the file. Anything
else (IndexError, struct or NumPy errors, UnicodeDecodeError, MemoryError, ...) is a crash.
"""
import os
import struct
import sys

import atheris

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fuzzlib  # noqa: E402

with atheris.instrument_imports(include=["pycolorize"]):
    import pycolorize
    from pycolorize.models import vgg

PATH = fuzzlib.scratch_path(".caffemodel")


def field(num, wire, payload):
    """One protobuf field (wire 0: payload is an int; 2: bytes)."""
    def varint(v):
        out = b""
        while True:
            out += bytes([(v & 0x7F) | (0x80 if v > 0x7F else 0)])
            v >>= 7
            if not v:
                return out
    if wire == 0:
        return varint(num << 3) + varint(payload)
    return varint(num << 3 | 2) + varint(len(payload)) + payload


def tiny_model():
    """conv1_1 with a (2, 1, 1, 1) weight and a (2,) bias, in the new and the legacy layout."""
    shape = field(7, 2, field(1, 2, bytes([2, 1, 1, 1])))
    weights = field(5, 2, struct.pack("<2f", 1.0, -2.0))
    bias = field(5, 2, struct.pack("<2f", 0.5, 0.25))
    new = field(100, 2, field(1, 2, b"conv1_1") + field(7, 2, shape + weights) + field(7, 2, bias))
    legacy = field(2, 2, field(4, 2, b"conv1_2") + field(6, 2, field(1, 0, 2) + field(2, 0, 1) + weights))
    return new + legacy


def test_one_input(data):
    fuzzlib.write(PATH, data)
    try:
        vgg.read_vgg_weights(PATH)
    except Exception as e:  # noqa: BLE001 -- judged: clean or a crash
        fuzzlib.judge(e, PATH, (pycolorize.Error, ValueError))


if __name__ == "__main__":
    with open(os.path.join(fuzzlib.ROOT, "tests", "data", "solver", "final_plain.caffemodel"), "rb") as f:
        real = f.read()
    fuzzlib.main("caffemodel", test_one_input, {"final_plain.caffemodel": real, "tiny.caffemodel": tiny_model()})

"""The prototxt parser and schema: syntax, defaults, and errors that name file, line and column."""
import numpy as np
import pytest

import pycolorize
from pycolorize import _core

from conftest import net_from

INPUT = 'layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 1 dim: 2 dim: 4 dim: 4 } } }\n'


def test_syntax_variants_parse_the_same():
    a = net_from(INPUT + 'layer { name: "p" type: "Pooling" bottom: "x" top: "p" pooling_param { pool: AVE kernel_size: 2 stride: 2 } }')
    b = net_from(
        "# comment\n" + INPUT.replace("\n", "  # trailing comment\n") +
        "layer <name: 'p', type: \"Pool\" 'ing'; bottom: \"x\" top: \"p\"\n"
        "  pooling_param: { pool: AVE, kernel_size: 2; stride: 2 } >")
    x = np.random.RandomState(0).rand(1, 2, 4, 4).astype(np.float32)
    np.testing.assert_array_equal(a.forward(x=x)["p"], b.forward(x=x)["p"])


def test_list_values_and_numbers():
    net = net_from('layer { name: "x" type: "Input" top: "x" input_param { shape { dim: [1, 3, 0x5, 6] } } }\n'
                   'layer { name: "r" type: "ReLU" bottom: "x" top: "y" relu_param { negative_slope: 1.5e-1 } }')
    assert net.blobs["x"].shape == (1, 3, 5, 6)
    x = -np.ones((1, 3, 5, 6), np.float32)
    np.testing.assert_allclose(net.forward(x=x)["y"], -0.15, rtol=1e-6)


def error(text, name="net.prototxt"):
    with pytest.raises(pycolorize.Error) as e:
        pycolorize.Net.from_string(text, name=name)
    return str(e.value)


def test_malformed_prototxt_names_line_and_column():
    msg = error(INPUT + 'layer {\n  name: "r"\n  type "ReLU"\n}')
    assert msg.startswith("net.prototxt:4:8:") and "expected ':' or '{'" in msg
    assert "net.prototxt:3:1: expected '}' before end of file" in error(INPUT + "layer {\n")
    assert "unterminated string" in error('name: "abc\n')
    assert "unexpected character '@'" in error("name: @")


def test_unknown_field_lists_known_fields():
    msg = error(INPUT + 'layer { name: "r" type: "ReLU" bottom: "x" top: "x" relu_param { slope: 1 } }')
    assert msg.startswith("net.prototxt:2:")
    assert "unknown field 'slope' in ReLUParameter; known fields: negative_slope, engine" in msg
    assert "known fields: name, type, bottom, top" in error('layer { nmae: "x" }')


def test_unknown_layer_type_lists_known_types():
    msg = error(INPUT + 'layer { name: "c" type: "Convolutoin" bottom: "x" top: "c" }')
    assert "net.prototxt:2:1: layer 'c': unknown type 'Convolutoin'; known types:" in msg
    assert "Convolution" in msg and "SoftmaxWithLoss" in msg


def test_wrong_value_kinds():
    assert "expects an integer, got '2.5'" in error('layer { name: "p" type: "Pooling" pooling_param { kernel_size: 2.5 } }')
    assert "unknown value 'MIN'; known values: MAX, AVE" in error('layer { name: "p" type: "Pooling" pooling_param { pool: MIN } }')
    assert "expects a quoted string" in error("layer { name: relu }")
    assert "is not repeated but given more than once" in error('name: "a" name: "b"')
    assert "is a message" in error("layer: 3")
    assert "expects true or false" in error("force_backward: 2")


def test_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such prototxt"):
        pycolorize.Net(tmp_path / "missing.prototxt")
    p = tmp_path / "bad.prototxt"
    p.write_text(INPUT + 'layer { name: "r" type: "ReLU" bottom: "nope" top: "r" }\n')
    with pytest.raises(pycolorize.Error, match=r"bad.prototxt:2:1: layer 'r': unknown bottom blob 'nope' \(bottom 0\); blobs produced before it: x"):
        pycolorize.Net(p)


def test_schema_defaults_are_caffes():
    schema = {m["name"]: {f["name"]: f for f in m["fields"]} for m in _core.schema()}
    assert schema["ConvolutionParameter"]["bias_term"]["default"] == "true"
    assert schema["PoolingParameter"]["round_mode"]["default"] == "CEIL"
    assert schema["DropoutParameter"]["dropout_ratio"]["default"] == "0.5"
    assert schema["LossParameter"]["normalization"]["default"] == "VALID"
    assert schema["BatchNormParameter"]["eps"]["default"] == "1e-05"
    assert _core.enums()["EltwiseOp"] == ["PROD", "SUM", "MAX"]


def test_prototxt_readme_is_generated_from_the_schema():
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    tool = os.path.join(root, "tools", "gen_prototxt_doc.py")
    out = subprocess.run([sys.executable, tool, "--stdout"], check=True, capture_output=True, text=True).stdout
    with open(os.path.join(root, "prototxt", "README.md")) as f:
        assert f.read() == out, "prototxt/README.md is stale: run python tools/gen_prototxt_doc.py"

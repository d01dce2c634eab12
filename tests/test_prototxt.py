"""The prototxt parser and schema: syntax, defaults, and errors that name file, line and column."""
import os
import re

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


# ---- text from strangers: errors, never crashes (issue 10) ---------------------------------------

def check_error(data, name="bad.prototxt"):
    """The message of the Error that parsing and validating `data` (bytes) raises."""
    with pytest.raises(pycolorize.Error) as e:
        _core.check_prototxt(data, name)
    return str(e.value)


def test_errors_quoting_non_ascii_bytes_stay_valid_utf8():
    # A lone byte of a multi-byte character used to go into what() raw, and Python failed to decode
    # the message (UnicodeDecodeError instead of pycolorize.Error).
    assert check_error(b"name: \xff") == "bad.prototxt:1:7: unexpected character '\\xFF'"
    assert check_error("name: é".encode()) == "bad.prototxt:1:7: unexpected character '\\xC3'"
    assert check_error(b"name: \x01") == "bad.prototxt:1:7: unexpected character '\\x01'"
    assert check_error(b'name: "a\\\xe9"') == "bad.prototxt:1:10: unknown escape '\\\\xE9' in string"
    # Strings quoted whole in messages keep valid UTF-8 and escape the rest (the schema names a
    # UTF-8 value it does not know; a string that is not UTF-8 is refused by the parser itself).
    msg = check_error(b'layer { name: "p" type: "Pooling" pooling_param { pool: "\xc3\xa4" } }')
    assert "unknown value '\xe4'; known values: MAX, AVE" in msg
    assert check_error(b'layer { name: "p" type: "Pooling" pooling_param { pool: "\xc3\xa4\xff" } }') == \
        'bad.prototxt:1:57: string "\xe4\\xFF" is not valid UTF-8'


def test_strings_that_are_not_utf8_are_errors(tmp_path):
    # As protobuf's text format: names reach Python as str, so a string field must be UTF-8.
    path = tmp_path / "names.prototxt"
    path.write_bytes(b'name: "ok \xc3\xa9"\nlayer { name: "x\xfe" type: "Input" top: "x" input_param { shape { dim: 1 } } }\n')
    with pytest.raises(pycolorize.Error, match=rf'^{path}:2:15: string "x\\xFE" is not valid UTF-8$'):
        pycolorize.Net(str(path))
    assert net_from('name: "caf\u00e9" layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 1 } } }').name == "caf\u00e9"


def test_nesting_and_token_length_limits_name_the_line():
    # 100000 nested messages used to overflow the stack (a segfault, not an error).
    msg = check_error(b"\n" + b"a {" * 100000)
    assert msg == "bad.prototxt:2:303: messages nested more than 100 deep"
    # 100 deep parses (validation then stops at the unknown field).
    assert check_error(b"a { " * 100 + b"}" * 100).startswith("bad.prototxt:1:1: unknown field 'a' in NetParameter")
    msg = check_error(b'\n\nname: "' + b"x" * (2 << 20) + b'"')
    assert msg == "bad.prototxt:3:7: token longer than the limit of 1048576 bytes"
    assert check_error(b"\n" + b"x" * (2 << 20)).startswith("bad.prototxt:2:1: token longer than the limit")
    assert check_error(b"name: " + b'"xxxxxxxx" ' * 200000).startswith("bad.prototxt:1:7: token longer")
    # Quoted tokens are clipped in messages.
    assert len(check_error(b"layer: " + b"y" * 5000)) < 300


def big_net(shape=None, conv=None):
    text = 'layer { name: "x" type: "Input" top: "x" input_param { shape { dim: %s } } }\n' % " dim: ".join(
        str(d) for d in shape or (1, 3, 8, 8))
    if conv:
        text += ('layer { name: "conv1" type: "Convolution" bottom: "x" top: "c" convolution_param { %s } }\n' % conv)
    return error(text)


def test_blobs_past_int_max_elements_are_errors_naming_layer_and_shape():
    # These used to overflow the int64 count (UB) or build a blob the int-indexed layers cannot address.
    assert big_net(shape=(2000000000, 2000000000)) == (
        "net.prototxt:1:1: layer 'x' (Input): blob shape (2000000000, 2000000000) has more than 2147483647 "
        "elements, the most a blob can hold")
    assert "blob shape (65536, 65536, 65536, 65536, 65536) has more than" in big_net(shape=(65536,) * 5)
    msg = big_net(conv="num_output: 2000000000 kernel_size: 3")
    assert msg == ("net.prototxt:2:1: layer 'conv1' (Convolution): blob shape (2000000000, 3, 3, 3) has more than "
                   "2147483647 elements, the most a blob can hold")


@pytest.mark.skipif("libasan" in os.environ.get("LD_PRELOAD", ""),
                    reason="AddressSanitizer reserves terabytes of address space: an RLIMIT_AS cannot apply under it")
def test_blobs_past_available_memory_are_errors_naming_the_bytes(tmp_path):
    # 8 GB of weights under a 3 GiB address-space limit: an Error naming the bytes, where the old code
    # went on to fill the weights (std::bad_alloc, or the OOM killer when the machine has no limit).
    import subprocess
    import sys
    script = tmp_path / "limited.py"
    script.write_text(
        "import resource\n"
        "resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))\n"
        "import pycolorize\n"
        "text = ('layer { name: \"x\" type: \"Input\" top: \"x\" input_param { shape { dim: 1 dim: 1 dim: 8 dim: 8 } } }'\n"
        "        'layer { name: \"fc\" type: \"InnerProduct\" bottom: \"x\" top: \"y\" '\n"
        "        'inner_product_param { num_output: 31250000 weight_filler { type: \"gaussian\" } } }')\n"
        "try:\n"
        "    pycolorize.Net.from_string(text, name='big.prototxt')\n"
        "except pycolorize.Error as e:\n"
        "    print(e)\n")
    package_root = os.path.dirname(os.path.dirname(pycolorize.__file__))  # the pycolorize these tests import
    env = dict(os.environ, PYTHONPATH=package_root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    # (the limit, or less where the machine has less memory available)
    assert re.match(r"big.prototxt:1:\d+: layer 'fc' \(InnerProduct\): blob \(31250000, 64\) needs 8000000000 bytes "
                    r"but only \d+ bytes of memory are available$", out.stdout.strip()), out.stdout


def test_an_input_reshaped_past_the_limits_names_the_layer():
    # Not only at construction: a new input shape (a big photo) that makes a layer's top too large
    # is an error naming that layer.
    net = net_from('layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 1 dim: 1 dim: 8 dim: 8 } } }\n'
                   'layer { name: "conv" type: "Convolution" bottom: "x" top: "y" '
                   'convolution_param { num_output: 4 kernel_size: 3 pad: 1 } }')
    net.blobs["x"].reshape([1, 1, 30000, 30000])  # 9e8 elements: allowed; the 4-channel top is not
    with pytest.raises(pycolorize.Error, match=r"^layer 'conv' \(Convolution\): blob shape \(1, 4, 30000, 30000\) has more than 2147483647"):
        net.reshape()

"""A net prototxt read in Python: each layer's parameters as the exporter needs them, with the
defaults of the core's schema (pycolorize._core.schema(): every field and default, written once in
csrc/proto/schema.cpp), so that a field the file leaves out means here what it means to the core.

    net = read_net(text, "deploy.prototxt")           # the core checks the text first
    layer = net.layer("conv1_1", "TEST")               # a Message
    layer.msg("convolution_param").get("num_output")   # 64
    layer.msg("convolution_param").values("pad")       # [1]

The core's parser is the one that decides what a prototxt means: read_net lets it validate the text
(pycolorize._core.check_prototxt: the same errors as Net()) before this reader looks at it, so this
reader never has to report a syntax error of its own. It needs no PyTorch.
"""
import functools
import re

from pycolorize.engine.core import _core

# Caffe's text format: comments from '#', strings in either quote, punctuation, and words (names,
# numbers, enum values, booleans)
_TOKEN = re.compile(r"""\s+|\#[^\n]*|(?P<str>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*')|(?P<punct>[{}<>\[\]:,;])|(?P<word>[^\s{}<>\[\]:,;"'\#]+)""")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"'}


def _tokens(text):
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ValueError(f"unreadable prototxt text at offset {pos}: {text[pos:pos + 20]!r}")
        pos = m.end()
        if m.group("str") is not None:
            body = m.group("str")[1:-1]
            yield "str", re.sub(r"\\(.)", lambda e: _ESCAPES.get(e.group(1), e.group(1)), body)
        elif m.group("punct") is not None:
            yield "punct", m.group("punct")
        elif m.group("word") is not None:
            yield "word", m.group("word")


@functools.lru_cache(maxsize=None)
def _schema():
    """{message: {field: its schema entry (type, repeated, default)}}, from the core."""
    return {m["name"]: {f["name"]: f for f in m["fields"]} for m in _core.schema()}


class Message:
    """One parsed message of schema type `kind`: get (the last value given, else the schema's
    default, else None), values (every value given, in order), has, msg (the last sub-message
    given, else an empty one, whose fields then all read as their defaults), msgs."""

    def __init__(self, kind, fields=None):
        self.kind = kind
        self.fields = fields if fields is not None else {}  # name -> [raw values or Messages]

    def _field(self, name):
        spec = _schema()[self.kind].get(name)
        if spec is None:
            raise KeyError(f"{self.kind} has no field {name!r}")
        return spec

    def repeated(self, name):
        """Whether the schema declares `name` a repeated field."""
        return bool(self._field(name)["repeated"])

    def has(self, name):
        self._field(name)
        return bool(self.fields.get(name))

    def values(self, name):
        spec = self._field(name)
        return [_convert(v, spec) for v in self.fields.get(name, [])]

    def get(self, name):
        spec = self._field(name)
        given = self.fields.get(name)
        if given:
            return _convert(given[-1], spec)
        return None if spec["default"] == "" and spec["type"] != "string" else _convert(spec["default"], spec)

    def msg(self, name):
        spec = self._field(name)
        given = self.fields.get(name)
        return given[-1] if given else Message(spec["type"])

    def msgs(self, name):
        self._field(name)
        return list(self.fields.get(name, []))

    def __repr__(self):
        return f"<{self.kind} {', '.join(self.fields)}>"


def _convert(raw, spec):
    kind = spec["type"]
    if isinstance(raw, Message):
        return raw
    if kind in ("int", "uint"):
        return int(raw, 0) if isinstance(raw, str) and raw.lower().startswith(("0x", "-0x")) else int(float(raw))
    if kind == "float":
        return float(raw)
    if kind == "bool":
        return str(raw).lower() in ("true", "1", "t")
    if kind.startswith("enum "):
        names = _core.enums()[kind.split()[1]]
        return names[int(raw)] if str(raw).lstrip("-").isdigit() else str(raw)
    return str(raw)


def _parse(tokens, kind, closing=None):
    """Fields of one message until `closing` ("}" or ">"; None: the end of the text)."""
    msg = Message(kind)
    spec = _schema()[kind]
    while True:
        tok = next(tokens, None)
        if tok is None or (tok[0] == "punct" and tok[1] == closing):
            return msg
        if tok[0] == "punct" and tok[1] in ",;":
            continue
        name = tok[1]
        field = spec.get(name, {"type": "string"})  # the core has checked the names already
        tok = next(tokens)
        if tok == ("punct", ":"):
            tok = next(tokens)
        if tok[0] == "punct" and tok[1] in "{<":
            value = [_parse(tokens, field["type"], "}" if tok[1] == "{" else ">")]
        elif tok == ("punct", "["):  # a list of values (or of messages)
            value = []
            while True:
                tok = next(tokens)
                if tok == ("punct", "]"):
                    break
                if tok[0] == "punct" and tok[1] in "{<":
                    value.append(_parse(tokens, field["type"], "}" if tok[1] == "{" else ">"))
                elif tok[0] != "punct":
                    value.append(tok[1])
        else:
            value = [tok[1]]
        msg.fields.setdefault(name, []).extend(value)


class NetText:
    """A net prototxt's layers as Messages, with Caffe's include/exclude rules."""

    def __init__(self, message):
        self.message = message
        self.name = message.get("name")
        self.layers = message.msgs("layer")

    def layer(self, name, phase="TEST", level=0, stages=()):
        """The layer called `name` that a net of this phase (level, stages) keeps, or None."""
        for layer in self.layers:
            if layer.get("name") == name and included(layer, phase, level, stages):
                return layer
        return None


def read_net(text, filename="<string>"):
    """The NetText of prototxt `text` (str or bytes), after the core has checked it (a
    pycolorize.Error naming `filename` and the line otherwise)."""
    if isinstance(text, bytes):
        raw, text = text, text.decode("utf-8", errors="replace")
    else:
        raw = text
    _core.check_prototxt(raw, filename)
    return NetText(_parse(_tokens(text), "NetParameter"))


def _rule_matches(rule, phase, level, stages):
    if rule.has("phase") and rule.get("phase") != phase:
        return False
    if rule.has("min_level") and level < rule.get("min_level"):
        return False
    if rule.has("max_level") and level > rule.get("max_level"):
        return False
    if any(s not in stages for s in rule.values("stage")):
        return False
    return not any(s in stages for s in rule.values("not_stage"))


def included(layer, phase="TEST", level=0, stages=()):
    """Caffe's StateMeetsRule: with include rules, the layer is kept if one matches; otherwise it is
    kept unless an exclude rule matches."""
    include = layer.msgs("include")
    if include:
        return any(_rule_matches(r, phase, level, stages) for r in include)
    return not any(_rule_matches(r, phase, level, stages) for r in layer.msgs("exclude"))

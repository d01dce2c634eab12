"""tools/mutation.py, the mutation-testing runner: its groups name modules, functions and tests that
exist, its list of equivalent mutants is well formed, and docs/mutation.md is what the script writes
from the recorded results (no figure edited by hand). The runs themselves are not tests: they take
an hour (docs/mutation.md)."""
import ast
import importlib.util
import os

import pytest

tomllib = pytest.importorskip("tomllib", reason="tools/mutation.py needs Python 3.11 or newer")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
spec = importlib.util.spec_from_file_location("mutation_tool", os.path.join(ROOT, "tools", "mutation.py"))
mutation = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mutation)


def functions_of(path):
    """Every function and Class.method defined at the top of a module."""
    tree = ast.parse(open(path).read())
    out = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out.add(node.name)
        elif isinstance(node, ast.ClassDef):
            out |= {f"{node.name}.{n.name}" for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    return out


@pytest.mark.parametrize("group", list(mutation.GROUPS))
def test_each_group_names_what_exists(group):
    files, functions, tests = mutation.GROUPS[group]
    for path in files:
        assert os.path.isfile(os.path.join(ROOT, "pycolorize", path)), path
    for path, names in functions.items():
        assert path in files
        missing = set(names) - functions_of(os.path.join(ROOT, "pycolorize", path))
        assert not missing, f"{group}: {path} has no {', '.join(sorted(missing))}"
    for t in tests:
        assert os.path.isfile(os.path.join(ROOT, "tests", t)), t


def test_mutant_names_map_to_functions():
    assert mutation.mutant_function("pycolorize.training.loop.xǁ_Runǁresume__mutmut_3") == ("pycolorize.training.loop",
                                                                                             "_Run.resume")
    assert mutation.mutant_function("pycolorize.colorization.color.x__rgb__mutmut_12") == ("pycolorize.colorization.color",
                                                                                            "_rgb")
    assert mutation.mutant_function("pycolorize.serve.session.x_parse_state__mutmut_1")[1] == "parse_state"
    assert mutation.in_scope("resume", "pycolorize.training.loop.x__truncate_log__mutmut_1")
    assert not mutation.in_scope("resume", "pycolorize.training.loop.x_train__mutmut_1")
    assert mutation.in_scope("colour", "pycolorize.colorization.color.x_gray__mutmut_1")
    assert not mutation.in_scope("colour", "pycolorize.data.loader.x_make_example__mutmut_1")
    assert mutation.mutant_patterns(["training/loop.py"], {"training/loop.py": ["_truncate_log", "_Run.resume"]}) == [
        "pycolorize.training.loop.x__truncate_log__mutmut_*", "pycolorize.training.loop.xǁ_Runǁresume__mutmut_*"]


def test_the_equivalent_mutants_are_well_formed():
    with open(mutation.EQUIVALENT, "rb") as f:
        entries = tomllib.load(f).get("equivalent", [])
    modules = {mutation.module_name(p): p for files, _, _ in mutation.GROUPS.values() for p in files}
    for e in entries:
        assert set(e) == {"module", "function", "change", "reason"}, e
        assert e["module"] in modules, e["module"]
        assert e["function"] in functions_of(os.path.join(ROOT, "pycolorize", modules[e["module"]])), e
        assert e["change"] and all(c[:1] in "+-" and c[1:] == c[1:].strip() for c in e["change"]), e
        source = {line.strip() for line in open(os.path.join(ROOT, "pycolorize", modules[e["module"]])).read().splitlines()}
        removed = [c[1:] for c in e["change"] if c.startswith("-")]
        assert all(line in source for line in removed), f"stale (the module no longer has the line): {e}"
        assert len(e["reason"]) > 20, e


def test_the_page_is_what_the_results_give(tmp_path, monkeypatch):
    import json

    if not os.path.exists(mutation.RESULTS):
        pytest.skip("no mutation run recorded yet")
    with open(mutation.RESULTS) as f:
        results = json.load(f)
    monkeypatch.setattr(mutation, "PAGE", str(tmp_path / "mutation.md"))
    mutation.write_page(results)
    with open(os.path.join(ROOT, "docs", "mutation.md")) as f:
        assert f.read() == (tmp_path / "mutation.md").read_text(), "docs/mutation.md differs: python tools/mutation.py --report"
    for group, r in results.items():
        assert group in mutation.GROUPS and r["commit"] and r["modules"]
        for module, c in r["modules"].items():
            assert c["killed"] + c["equivalent"] + c["survived"] + c["no tests"] + c["not checked"] == c["mutants"], module

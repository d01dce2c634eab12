"""The package's structure (docs/design.md, "Layout"): the layers contract of pyproject.toml holds and
fails on an import that runs upward, naming both modules; no two modules import each other, even
through others; only the engine touches the core objects behind Net and Solver."""
import os
import re
import shutil
import subprocess
import sys

import pytest

import pycolorize

grimp = pytest.importorskip("grimp", reason="import-linter (and its grimp) check the structure: pip install '.[test]'")

PACKAGE = os.path.dirname(os.path.abspath(pycolorize.__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def lint_imports(cwd, package_parent):
    """`lint-imports` run in `cwd` (which holds the contract's pyproject.toml) on the pycolorize
    found in `package_parent`: (exit status, output)."""
    exe = shutil.which("lint-imports", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    if exe is None:
        pytest.skip("lint-imports (import-linter) is not installed: pip install '.[test]'")
    env = dict(os.environ, PYTHONPATH=package_parent)
    r = subprocess.run([exe, "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout + r.stderr


def copy_sources(dst):
    """The package's Python files (no extension module: the checker reads, never imports)."""
    for folder, _, files in os.walk(PACKAGE):
        rel = os.path.relpath(folder, PACKAGE)
        for name in files:
            if name.endswith(".py"):
                os.makedirs(os.path.join(dst, "pycolorize", rel), exist_ok=True)
                shutil.copy(os.path.join(folder, name), os.path.join(dst, "pycolorize", rel, name))


def test_the_layers_contract_holds(tmp_path):
    shutil.copy(os.path.join(ROOT, "pyproject.toml"), tmp_path / "pyproject.toml")
    copy_sources(tmp_path)
    status, out = lint_imports(tmp_path, str(tmp_path))
    assert status == 0 and "1 kept, 0 broken" in out, out


@pytest.mark.parametrize("low,high", [("engine/net.py", "pycolorize.colorization.colorizer"),
                                      ("colorization/color.py", "pycolorize.data.images"),
                                      ("training/loop.py", "pycolorize.cli"),
                                      ("util/files.py", "pycolorize.engine.weights")])
def test_an_upward_import_fails_naming_both_modules(tmp_path, low, high):
    shutil.copy(os.path.join(ROOT, "pyproject.toml"), tmp_path / "pyproject.toml")
    copy_sources(tmp_path)
    with open(tmp_path / "pycolorize" / low, "a") as f:
        f.write(f"\nimport {high}  # planted: a lower layer importing a higher one\n")
    status, out = lint_imports(tmp_path, str(tmp_path))
    importer = "pycolorize." + low[:-3].replace("/", ".")
    assert status != 0 and "BROKEN" in out, out
    assert re.search(rf"{re.escape(importer)} -> {re.escape(high)}\b", out), out


def strongly_connected(graph, modules):
    """Tarjan's strongly connected components of the import graph (iterative)."""
    index, low, on_stack, stack, out, counter = {}, {}, set(), [], [], [0]
    for root in modules:
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in modules:
                    continue
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        m = stack.pop()
                        on_stack.discard(m)
                        component.append(m)
                        if m == node:
                            break
                    out.append(component)
    return out


def test_no_import_cycles():
    graph = grimp.build_graph("pycolorize", cache_dir=None)
    # the package's own __init__ re-exports from its subpackages: only imports between the modules
    # below it count (pycolorize.engine.core is the one module that reaches the extension through it)
    modules = {m for m in graph.modules if m != "pycolorize"}
    cycles = [sorted(c) for c in strongly_connected(graph, modules) if len(c) > 1]
    assert not cycles, "modules that import each other: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_the_cycle_finder_finds_a_cycle():
    class Graph:
        edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}

        def find_modules_directly_imported_by(self, m):
            return self.edges[m]

    assert sorted(sorted(c) for c in strongly_connected(Graph(), set(Graph.edges)) if len(c) > 1) == [["a", "b", "c"]]


def test_only_the_engine_touches_the_core_objects():
    # Net._net and Solver._solver are the engine's: the rest of the package (and the tests' callers)
    # go through the wrappers' public methods
    found = []
    for folder, _, files in os.walk(PACKAGE):
        if os.path.relpath(folder, PACKAGE).split(os.sep)[0] == "engine":
            continue
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                with open(path) as f:
                    for n, line in enumerate(f, 1):
                        if re.search(r"\._(net|solver)\b", line.split("#")[0]):
                            found.append(f"{os.path.relpath(path, PACKAGE)}:{n}: {line.strip()}")
    assert not found, "\n".join(found)


def test_no_module_calls_another_packages_private_functions():
    # a call `x._name(...)` on anything but self/cls: a private function reached from outside its
    # class (the Colorizer's _gray/_decode/_modes from serve, say); `args._parser` (argparse's
    # namespace, the commands' own convention) and the extension's _testing hooks are not calls of this kind
    # inside one package: Net.from_string finishes the Net it made; models.vgg builds on its own nets' parts
    allowed = {("engine/net.py", "net._init"), ("models/vgg.py", "nets._input"), ("models/vgg.py", "nets._trunk")}
    found = []
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            with open(path) as f:
                for n, line in enumerate(f, 1):
                    code = line.split("#")[0]
                    for m in re.finditer(r"\b([A-Za-z_]\w*)\._([a-z]\w*)\(", code):
                        if m.group(1) in ("self", "cls", "_core", "os", "sys") or m.group(1).startswith("_"):
                            continue
                        if m.group(1) == "args" and m.group(2) in ("parser", "module"):
                            continue
                        if (os.path.relpath(path, PACKAGE), f"{m.group(1)}._{m.group(2)}") in allowed:
                            continue
                        found.append(f"{os.path.relpath(path, PACKAGE)}:{n}: {line.strip()}")
    assert not found, "\n".join(found)

"""How the extension was built: facts about the binary that the other tests cannot see."""
import os
import shutil
import subprocess
import sys

import pytest

from pycolorize import _core


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="libstdc++ is the Linux C++ runtime")
def test_extension_carries_no_copy_of_libstdcxx():
    # A static copy of libstdc++ inside _core, beside the shared one the process (and cuDNN, cuBLAS)
    # already loaded, gives it a second, uninitialised locale: formatting a number crashed on our
    # 2026-11 GPU image, where nvcc's host toolchain linked libstdc++ statically and CMake passed its
    # libstdc++.a on to our link line. The string below lives in libstdc++'s compiled ios code (never
    # in its headers), so it is inside _core exactly when that code was linked in.
    with open(_core.__file__, "rb") as f:
        image = f.read()
    assert b"basic_ios::clear" not in image, (
        f"{_core.__file__} contains libstdc++'s own code (linked statically); rebuild so that it links the "
        "shared libstdc++.so.6 (see CMakeLists.txt, 'CUDA implicit libs')")


def test_a_source_tree_without_its_extension_says_so(tmp_path):
    # After `pip install .`, Python started in the repository root imports the source tree (the
    # current folder comes first on sys.path), which has no compiled _core: the error must say that.
    package = os.path.dirname(_core.__file__)
    shutil.copytree(package, tmp_path / "pycolorize", ignore=shutil.ignore_patterns("_core*", "__pycache__"))
    (tmp_path / "setup.py").write_text("")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSAFEPATH")}  # the folder first
    r = subprocess.run([sys.executable, "-c", "import pycolorize"], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert r.returncode == 1
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: pycolorize at") and "no compiled extension" in last
    assert "source tree" in last and "Run from another folder" in last


def test_importing_leaves_the_environment_as_it_was(tmp_path):
    # The thread variables reach libgomp and OpenBLAS while they load; the user's os.environ is unchanged.
    package_root = os.path.dirname(os.path.dirname(_core.__file__))
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OPENBLAS_THREAD_TIMEOUT")}
    env["PYTHONPATH"] = package_root
    code = ("import os; before = dict(os.environ); import pycolorize; after = dict(os.environ); "
            "print(sorted(set(before.items()) ^ set(after.items())))")
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stdout + r.stderr


def _can_configure():
    """CMake configures here: cmake on the PATH, and pybind11 and OpenBLAS (scipy-openblas32 or SciPy)
    in this Python (pip's isolated build environment has them; the test environment may not)."""
    from importlib.util import find_spec

    return shutil.which("cmake") and find_spec("pybind11") and (find_spec("scipy_openblas32") or find_spec("scipy"))


@pytest.mark.skipif(not _can_configure(), reason="needs cmake, pybind11 and OpenBLAS in this Python to configure a build")
def test_portable_unless_native_is_asked_for(tmp_path):
    # A wheel built on one machine must run on another of the same architecture: -march=native only
    # with -DPYCOLORIZE_NATIVE=ON. Configure-only CPU trees (seconds), then read their compile lines.
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

    def flags(*options):
        build = tmp_path / f"b{len(options)}"
        r = subprocess.run(["cmake", "-S", root, "-B", str(build), "-DWITH_CUDA=OFF", f"-DPython_EXECUTABLE={sys.executable}",
                            f"-DPYCOLORIZE_OUTPUT_DIR={tmp_path}", *options], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
        text = "".join(p.read_text(errors="replace") for p in build.rglob("*") if p.name in ("build.ninja", "flags.make"))
        assert "_core" in text  # the files read are the extension's
        return r.stdout, text

    out, text = flags()
    assert "-march=native OFF" in out and "-march=native" not in text
    out, text = flags("-DPYCOLORIZE_NATIVE=ON")
    assert "-march=native ON" in out and "-march=native" in text

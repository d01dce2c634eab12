"""One copy of each CUDA library per process (pycolorize.util.cudalibs, csrc/parallel/nccl_api.h):
importing pycolorize never loads NCCL, the extension does not name it among the libraries it
needs, and pycolorize and PyTorch import in either order and both run in one process."""
import os
import subprocess
import sys
import textwrap

import pytest

import pycolorize
from pycolorize.engine.core import _core
from pycolorize.util import cudalibs

CORE = _core.__file__
PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(pycolorize.__file__)))


def python(code, cwd):
    env = dict(os.environ, PYTHONPATH=PACKAGE_PARENT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=300)


def test_the_elf_reader_lists_what_the_extension_needs():
    needed = cudalibs.needed_libraries(CORE)
    assert "libstdc++.so.6" in needed and any(n.startswith("libc.so") for n in needed)
    assert any("openblas" in n for n in needed)
    assert cudalibs.needed_libraries(__file__) == []  # not an ELF file


def test_the_extension_does_not_link_nccl():
    # NCCL is loaded with dlopen on first use of the NCCL backend, never by the loader at import
    needed = cudalibs.needed_libraries(CORE)
    assert not [n for n in needed if n.startswith("libnccl")], needed
    if pycolorize.cuda_compiled():
        assert {"libcudart", "libcublas", "libcudnn"} <= {n.split(".so")[0] for n in needed}, needed


def test_importing_pycolorize_loads_no_nccl(tmp_path):
    r = python("""
        import pycolorize
        from pycolorize.util import cudalibs
        from pycolorize.engine.core import _core
        print(sorted(cudalibs.loaded()), getattr(_core, "nccl_compiled", False) and _core.nccl_loaded())
        pycolorize.show_config()
    """, tmp_path)
    assert r.returncode == 0, r.stderr
    first = r.stdout.splitlines()[0]
    assert "libnccl" not in first and first.endswith("False"), r.stdout
    if getattr(_core, "nccl_compiled", False):
        assert "loaded libnccl: not loaded" in r.stdout


@pytest.mark.skipif(not getattr(_core, "nccl_compiled", False), reason="a build without NCCL (needs the CUDA build)")
def test_nccl_loads_on_first_use_and_says_where_from(tmp_path):
    r = python("""
        from pycolorize.engine.core import _core
        from pycolorize.util import cudalibs
        assert not _core.nccl_loaded()
        _core.set_nccl_search_paths(cudalibs.nccl_folders())
        path = _core.nccl_library()
        print(_core.nccl_loaded(), path, *cudalibs.loaded().get("libnccl", []))
    """, tmp_path)
    assert r.returncode == 0, r.stderr
    loaded, path, mapped = r.stdout.split()  # one copy
    assert loaded == "True" and os.path.basename(path).startswith("libnccl.so") and os.path.samefile(path, mapped)


@pytest.mark.skipif(not getattr(_core, "nccl_compiled", False), reason="a build without NCCL (needs the CUDA build)")
def test_a_named_nccl_that_is_not_there_is_one_error_naming_it(tmp_path):
    r = python("""
        import os
        from pycolorize.engine.core import _core
        os.environ["PYCOLORIZE_NCCL_LIBRARY"] = "/nonexistent/libnccl.so.2"
        try:
            print("loaded", _core.nccl_library())
        except _core.Error as e:
            print("error", e)
        print(_core.nccl_loaded())
    """, tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("error NCCL: PYCOLORIZE_NCCL_LIBRARY=/nonexistent/libnccl.so.2 cannot be loaded"), r.stdout
    assert r.stdout.split()[-1] == "False"


ORDERS = {"pycolorize first": "import pycolorize\nimport torch", "torch first": "import torch\nimport pycolorize"}


@pytest.mark.parametrize("order", sorted(ORDERS))
def test_pycolorize_and_pytorch_in_one_process_either_order(order, tmp_path):
    pytest.importorskip("torch", reason="PyTorch is not installed here (the clash needs both)")
    r = python(ORDERS[order] + """
import numpy as np
from pycolorize import models
from pycolorize.util import cudalibs
net = pycolorize.Net.from_string(models.deploy_net({"conv": (4, 4, 4, 4, 4), "fc": 8, "h_fc1": 8}, size=64))
out = net.forward(data=np.random.default_rng(0).random((1, 1, 64, 64), np.float32))
conv = torch.nn.Conv2d(1, 2, 3)
y = conv(torch.ones(1, 1, 8, 8))
print(out["prediction_h_full"].shape, tuple(y.shape))
devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() and pycolorize.gpu_count() > 0 else [])
if "cuda" in devices:
    pycolorize.use_gpu(0)
    out = net.forward(data=np.ones((1, 1, 64, 64), np.float32))
    y = conv.cuda()(torch.ones(1, 1, 8, 8, device="cuda"))
    print("gpu", out["prediction_h_full"].shape, tuple(y.shape))
import json
print(json.dumps(cudalibs.loaded()))
""", tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.splitlines()[0] == "(1, 32, 64, 64) (1, 2, 6, 6)", r.stdout
    import json

    copies = json.loads(r.stdout.splitlines()[-1])
    assert all(len(files) == 1 for files in copies.values()), copies  # one copy of each library


def test_loaded_lists_every_copy(tmp_path):
    # two files of one library in the process are both named (the check above relies on it): two
    # copies of a small system library, under a CUDA library's name, stand in for them
    r = python("""
        import ctypes, ctypes.util, os, shutil, sys
        from pycolorize.util import cudalibs
        src = ctypes.util.find_library("z") or "libz.so.1"
        path = None
        for folder in ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/usr/lib"):
            try:
                shutil.copy(f"{folder}/{src}", "libcudart.so.98"); shutil.copy(f"{folder}/{src}", "libcudart.so.99")
                path = folder
                break
            except OSError:
                pass
        if path is None:
            print("skip"); sys.exit(0)
        ctypes.CDLL(os.path.abspath("libcudart.so.98")); ctypes.CDLL(os.path.abspath("libcudart.so.99"))
        here = os.path.realpath(os.getcwd())  # a CUDA build of the core holds the real libcudart as well
        print(" ".join(sorted(os.path.basename(p) for p in cudalibs.loaded()["libcudart"] if os.path.dirname(p) == here)))
    """, tmp_path)
    assert r.returncode == 0, r.stderr
    if r.stdout.strip() == "skip":
        pytest.skip("no libz to copy as a stand-in library")
    assert r.stdout.strip() == "libcudart.so.98 libcudart.so.99"


def test_the_wheel_libraries_can_be_left_out(tmp_path, monkeypatch):
    monkeypatch.setenv(cudalibs.OPT_OUT, "0")
    assert cudalibs.preload_for(CORE) == []

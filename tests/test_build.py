"""How the extension was built: facts about the binary that the other tests cannot see."""
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

"""setup.py only hands off to CMake (after pybind11's cmake_example).

The version lives in one place: pycolorize/_version.py.
"""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, find_packages, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent


class CMakeExtension(Extension):
    def __init__(self, name):
        super().__init__(name, sources=[])


def drop_stale_cache(build_temp):
    """pip builds in a temporary environment that is gone by the next install, while the build
    folder stays: a CMake cache that names a path that no longer exists (ninja, cmake, pybind11 of
    that environment) is dropped, so that CMake configures afresh instead of failing."""
    cache = build_temp / "CMakeCache.txt"
    if not cache.exists():
        return
    paths = re.findall(r"^[^#/\n][^\n]*:(?:FILEPATH|PATH)=(/[^\n]*)$", cache.read_text(), re.M)
    if any(not os.path.exists(p) for p in paths):
        cache.unlink()
        shutil.rmtree(build_temp / "CMakeFiles", ignore_errors=True)


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        out_dir = Path(self.get_ext_fullpath(ext.name)).resolve().parent
        build_temp = Path(self.build_temp) / ext.name
        build_temp.mkdir(parents=True, exist_ok=True)
        drop_stale_cache(build_temp)
        cfg = "Debug" if self.debug else "Release"
        args = [
            f"-DPYCOLORIZE_OUTPUT_DIR={out_dir}",
            f"-DPython_EXECUTABLE={sys.executable}",
            f"-DCMAKE_BUILD_TYPE={cfg}",
        ]
        # Extra CMake options from the environment, e.g. CMAKE_ARGS="-DWITH_CUDA=OFF".
        args += [a for a in os.environ.get("CMAKE_ARGS", "").split() if a]
        try:
            import ninja  # noqa: F401

            args += ["-GNinja"]
        except ImportError:
            pass
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 2))
        subprocess.run(["cmake", "-S", str(HERE), "-B", str(build_temp), *args], check=True)
        subprocess.run(["cmake", "--build", str(build_temp), "-j", jobs], check=True)


def version():
    text = (HERE / "pycolorize" / "_version.py").read_text()
    return re.search(r'__version__ = "([^"]+)"', text).group(1)


setup(
    version=version(),
    # every subpackage of pycolorize (serve's static/ page is package data), and the source tree's
    # prototxt/ as pycolorize.prototxt (models.prototxt_path reads it), so that the defaults of the
    # tools resolve from any folder
    packages=find_packages(include=["pycolorize", "pycolorize.*"]) + ["pycolorize.prototxt"],
    package_dir={"pycolorize.prototxt": "prototxt"},
    ext_modules=[CMakeExtension("pycolorize._core")],
    cmdclass={"build_ext": CMakeBuild},
    zip_safe=False,
)

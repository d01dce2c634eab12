#!/usr/bin/env bash
# The CPU test suite against an AddressSanitizer + UndefinedBehaviorSanitizer build of the core.
#
#   tools/sanitize_tests.sh [PYTEST ARGS...]
#
# Builds build-asan/ (CPU only, -DPYCOLORIZE_SANITIZE=address,undefined) with its _core in
# build-asan/pkg/pycolorize beside a copy of the Python package, so the normal build in the source
# tree and any installed copy stay as they are; then runs pytest with that package first on the
# path and the sanitizer runtime preloaded into Python (which is not built with it). Any finding
# aborts the test process. Needs what the plain CMake build needs (docs/install.md: cmake, pybind11,
# scipy-openblas32 and the test dependencies), in the active Python
# (3.11 or newer, for PYTHONSAFEPATH).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
  { echo "sanitize_tests.sh: needs Python 3.11 or newer (PYTHONSAFEPATH), not $("$PY" --version 2>&1)" >&2; exit 2; }
SAN=${SANITIZE:-address,undefined}
gen=(); command -v ninja > /dev/null && gen=(-G Ninja)
cmake -S . -B build-asan "${gen[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWITH_CUDA=OFF -DPYCOLORIZE_SANITIZE="$SAN" \
  -DPython_EXECUTABLE="$(command -v "$PY")" -DPYCOLORIZE_OUTPUT_DIR="$PWD/build-asan/pkg/pycolorize" > build-asan.log
cmake --build build-asan -j "${JOBS:-2}" >> build-asan.log
# the package beside the sanitized _core: every module, subpackage and data file of the source tree
# (and no module it no longer has), not its own _core
mkdir -p build-asan/pkg/pycolorize
find build-asan/pkg/pycolorize -mindepth 1 -maxdepth 1 ! -name '_core*' -exec rm -rf {} +
tar -C pycolorize --exclude='./_core*' --exclude=__pycache__ -cf - . | tar -C build-asan/pkg/pycolorize -xf -
# the prototxt files as an installed copy has them (package data pycolorize.prototxt)
mkdir -p build-asan/pkg/pycolorize/prototxt && cp prototxt/*.prototxt prototxt/README.md build-asan/pkg/pycolorize/prototxt/
# ASan's runtime must be the first library loaded, and libstdc++ with it: ASan finds the real
# __cxa_throw when it starts, and Python itself does not load libstdc++ (without it the first C++
# exception aborts). UBSan's runtime alone loads as _core's dependency.
preload=""
[[ ",$SAN," == *",address,"* ]] &&
  preload="$(${CXX:-g++} -print-file-name=libasan.so) $(${CXX:-g++} -print-file-name=libstdc++.so.6)"
# Python's own allocations are not instrumented, and it frees little at exit: no leak report.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export PYTHONPATH="$PWD/build-asan/pkg${PYTHONPATH:+:$PYTHONPATH}"
# `python -m` and `python -c` put the current folder, this source tree with its own build, first on
# sys.path; PYTHONSAFEPATH (Python 3.11+) keeps it off, here and in the tests' child processes.
export PYTHONSAFEPATH=1
core=$(LD_PRELOAD="$preload" "$PY" -c "import pycolorize; print(pycolorize._core.__file__)")
[[ "$core" == "$PWD/build-asan/pkg/"* ]] || { echo "sanitize_tests.sh: imports $core, not the sanitized build" >&2; exit 1; }
echo "sanitizers: $SAN; _core: $core; preload: ${preload:-none}"
LD_PRELOAD="$preload" "$PY" -m pytest tests -q -p no:cacheprovider "$@"

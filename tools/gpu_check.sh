#!/usr/bin/env bash
# The GPU check: build pycolorize with CUDA on this machine, run the test suite (every
# device-parametrised test runs on the GPU too) and the GPU benchmark, and keep the logs.
#
#   tools/gpu_check.sh LOG_DIR [--no-bench]
#
# Needs: the CUDA toolkit (nvcc, cuBLAS), cuDNN (system-wide or PyTorch's nvidia-cudnn wheel),
# Python with numpy, h5py, pytest, pybind11, cmake and ninja, and OpenBLAS from the scipy-openblas32
# wheel or from a SciPy wheel. No network. PyTorch, when present, is the benchmark's baseline.
# SANITIZE=1 also runs the GPU layer tests under compute-sanitizer (memcheck).
# PYTEST_ARGS adds pytest options (e.g. "-n 8" with pytest-xdist, which also survives a crashing test).
# Builds into build-gpu/ for this machine's GPU only (CUDA_ARCHS overrides), and puts _core into
# pycolorize/ (the source tree), replacing any CPU build there.
set -uo pipefail
LOG=${1:?usage: tools/gpu_check.sh LOG_DIR [--no-bench]}
BENCH=${2:-}
mkdir -p "$LOG"
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
status=0
step() { echo "== $1 ($(date +%T))" | tee -a "$LOG/summary.txt"; }

step "machine"
{ nvidia-smi; nvcc --version; $PY --version; cmake --version | head -1; ${CXX:-g++} --version | head -1
  env | grep -E "FLAGS|^CC=|^CXX=|^CUDAHOSTCXX=" ; } > "$LOG/machine.txt" 2>&1
grep -E "NVIDIA|release" "$LOG/machine.txt" | head -3 | tee -a "$LOG/summary.txt"

step "build"
ARCHS=${CUDA_ARCHS:-native}
rm -rf build-gpu
if ! { cmake -S . -B build-gpu -G Ninja -DPython_EXECUTABLE="$(command -v $PY)" -DCMAKE_CUDA_ARCHITECTURES="$ARCHS" &&
       cmake --build build-gpu -j "$(nproc)"; } > "$LOG/build.txt" 2>&1; then
  tail -30 "$LOG/build.txt" | tee -a "$LOG/summary.txt"
  echo "BUILD FAILED" | tee -a "$LOG/summary.txt"
  exit 1
fi
grep "pycolorize:" "$LOG/build.txt" | tee -a "$LOG/summary.txt"
# The extension must use the process's shared libstdc++ (NEEDED), never carry its own copy.
readelf -d pycolorize/_core*.so | grep NEEDED > "$LOG/needed.txt"
grep -q "libstdc++.so" "$LOG/needed.txt" || echo "WARNING: _core does not link the shared libstdc++ (a static copy?)" | tee -a "$LOG/summary.txt"

step "tests"
# A C++ error message with numbers in it, before anything else (on the H100 image of 2026-11 the
# CUDA build crashed formatting numbers; see the README's GPU section).
$PY - <<'PY' 2>&1 | tee -a "$LOG/summary.txt"
import pycolorize
print("cuda_compiled", pycolorize.cuda_compiled(), "gpus", pycolorize.gpu_count())
try:
    pycolorize.Net.from_string('layer { name: "x" type: "Input" top: "x" top: "y" input_param { shape { dim: 1 } shape { dim: 2 } shape { dim: 3 } } }')
except pycolorize.Error as e:
    print("error messages work:", str(e)[:70])
PY
PYTHONUNBUFFERED=1 $PY -m pytest tests -q -rfE -p no:cacheprovider ${PYTEST_ARGS:-} --junitxml="$LOG/tests.xml" > "$LOG/tests.txt" 2>&1 || status=1
tail -15 "$LOG/tests.txt" | tee -a "$LOG/summary.txt"

if [ -n "${SANITIZE:-}" ]; then  # SANITIZE=1: the GPU layer tests under compute-sanitizer's memcheck
  step "compute-sanitizer"
  PYTHONUNBUFFERED=1 timeout 300 compute-sanitizer --tool memcheck --print-limit 20 $PY -m pytest -q -p no:cacheprovider \
    -k gpu tests/test_layers.py tests/test_custom_layers.py > "$LOG/sanitizer.txt" 2>&1 || status=1
  grep -E "ERROR SUMMARY|passed|failed" "$LOG/sanitizer.txt" | tail -3 | tee -a "$LOG/summary.txt"
fi

if [ "$BENCH" != "--no-bench" ]; then
  step "benchmark"
  PYTHONUNBUFFERED=1 timeout 300 $PY tools/benchmark.py --gpu > "$LOG/benchmark.txt" 2>&1 || status=1
  tail -25 "$LOG/benchmark.txt" | tee -a "$LOG/summary.txt"
fi
step "done (status $status)"
exit $status

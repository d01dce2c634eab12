#!/usr/bin/env bash
# The GPU check: build pycolorize with CUDA on this machine, run the test suite (every
# device-parametrised test runs on the GPU too) and the GPU benchmark, and keep the logs.
#
#   tools/gpu_check.sh LOG_DIR [--no-bench]
#
# Needs: the CUDA toolkit (nvcc, cuBLAS), cuDNN (system-wide or PyTorch's nvidia-cudnn wheel),
# Python with numpy, h5py, pytest, pybind11, cmake and ninja, and OpenBLAS from the scipy-openblas32
# wheel or from a SciPy wheel. No network. PyTorch, when present, is the benchmark's baseline.
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
{ nvidia-smi; nvcc --version; $PY --version; cmake --version | head -1; } > "$LOG/machine.txt" 2>&1
grep -E "NVIDIA|release" "$LOG/machine.txt" | head -3 | tee -a "$LOG/summary.txt"

step "build"
ARCHS=${CUDA_ARCHS:-native}
# The system compiler (PYCOLORIZE_CXX overrides): a $CXX wrapper that links libstdc++ statically
# into the extension (as /opt/gcc/bin/g++ on our GPU image does) gives it a second, uninitialised
# copy of the C++ locale beside the process's shared one, and formatting a number crashes.
CXX=${PYCOLORIZE_CXX:-$( [ -x /usr/bin/g++ ] && echo /usr/bin/g++ || command -v g++ )}
rm -rf build-gpu
if ! { cmake -S . -B build-gpu -G Ninja -DPython_EXECUTABLE="$(command -v $PY)" -DCMAKE_CUDA_ARCHITECTURES="$ARCHS" \
         -DCMAKE_CXX_COMPILER="$CXX" -DCMAKE_CUDA_HOST_COMPILER="$CXX" &&
       cmake --build build-gpu -j "$(nproc)"; } > "$LOG/build.txt" 2>&1; then
  tail -30 "$LOG/build.txt" | tee -a "$LOG/summary.txt"
  echo "BUILD FAILED" | tee -a "$LOG/summary.txt"
  exit 1
fi
grep "pycolorize:" "$LOG/build.txt" | tee -a "$LOG/summary.txt"

step "tests"
$PY - <<'PY' 2>&1 | tee -a "$LOG/summary.txt"
import pycolorize
print("cuda_compiled", pycolorize.cuda_compiled(), "gpus", pycolorize.gpu_count())
PY
PYTHONUNBUFFERED=1 $PY -m pytest tests -q -rfE -p no:cacheprovider ${PYTEST_ARGS:-} --junitxml="$LOG/tests.xml" > "$LOG/tests.txt" 2>&1 || status=1
tail -15 "$LOG/tests.txt" | tee -a "$LOG/summary.txt"

if [ "$BENCH" != "--no-bench" ]; then
  step "benchmark"
  PYTHONUNBUFFERED=1 timeout 300 $PY tools/benchmark.py --gpu > "$LOG/benchmark.txt" 2>&1 || status=1
  tail -25 "$LOG/benchmark.txt" | tee -a "$LOG/summary.txt"
fi
step "done (status $status)"
exit $status

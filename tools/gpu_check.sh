#!/usr/bin/env bash
# The GPU check: build pycolorize with CUDA on this machine, run the test suite (every
# device-parametrised test runs on the GPU too) and the GPU benchmark, and keep the logs.
#
#   tools/gpu_check.sh LOG_DIR [--no-bench]
#
# Needs: the CUDA toolkit (nvcc, cuBLAS), cuDNN (system-wide or PyTorch's nvidia-cudnn wheel),
# Python with numpy, h5py, pytest, pybind11, cmake and ninja, and OpenBLAS from the scipy-openblas32
# wheel or from a SciPy wheel. No network. PyTorch, when present, is the benchmark's baseline.
# BENCH_ARGS adds benchmark options (e.g. --profile). BENCH_TF32=1 also runs the benchmark with TF32 allowed in both frameworks.
# It runs, in order: the build; the GPU tests; the NCCL backend at world size 1 (the test, then
#   tools/nccl_overhead.py: the same training bit for bit and the overhead of its step); the GPU
#   layer tests under compute-sanitizer (memcheck; racecheck over the custom layers; SANITIZE=0 leaves
#   them out); the GPU benchmark; all within BUDGET_S seconds (480) from the start.
# GIT_COMMIT names the commit being checked where the tree has no .git (the device machine's copy).
# PYTEST_ARGS adds pytest options to the GPU tests.
# Builds into build-gpu/ for this machine's GPU only (CUDA_ARCHS overrides), and puts _core into
# pycolorize/ (the source tree), replacing any CPU build there.
set -uo pipefail
LOG=${1:?usage: tools/gpu_check.sh LOG_DIR [--no-bench]}
BENCH=${2:-}
mkdir -p "$LOG"
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # _core is built into the source tree
status=0
# The whole script fits a device session's first run: BUDGET_S seconds (default 480: 8 minutes,
# leaving time for a rerun) from its start, the build included. Each step's timeout is the smaller
# of its own and what is left; a step that does not fit is named as skipped, never silently dropped.
BUDGET_S=${BUDGET_S:-480}
left() { echo $(( BUDGET_S - SECONDS )); }
limit() { local l; l=$(left); echo $(( $1 < l ? $1 : (l > 1 ? l : 1) )); }  # limit SECONDS: the timeout to use
# STEPS chooses the steps after the build (default: "tests nccl memcheck racecheck bench"; "loader"
# also times the training loader at the machine's core count), so that a rerun can take what the
# first run skipped; SKIP_BUILD=1 keeps the build-gpu/ of a first run.
STEPS=" ${STEPS:-tests nccl memcheck racecheck bench} "
want() { [[ "$STEPS" == *" $1 "* ]]; }
fits() {  # fits SECONDS WHAT: whether SECONDS more fit the budget; says so when not
  if [ "$(left)" -lt "$1" ]; then echo "SKIPPED $2: ${1} s needed, $(left) s of the budget left" | tee -a "$LOG/summary.txt"; return 1; fi
}
step() { echo "== $1 ($(date +%T))" | tee -a "$LOG/summary.txt"; }

step "machine"
if [ -n "${GIT_COMMIT:-}" ]; then echo "commit $GIT_COMMIT (given)"
else echo "commit $(git rev-parse HEAD 2>/dev/null || echo unknown)$(git status --porcelain 2>/dev/null | grep -q . && echo ' (with uncommitted changes)')"
fi | tee -a "$LOG/summary.txt"
{ nvidia-smi; nvcc --version; $PY --version; cmake --version | head -1; ${CXX:-g++} --version | head -1
  env | grep -E "FLAGS|^CC=|^CXX=|^CUDAHOSTCXX=|^PATH="
  echo "g++ on PATH: $(command -v g++)  libstdc++.so.6 of \$CXX: $(${CXX:-g++} -print-file-name=libstdc++.so.6)"; } > "$LOG/machine.txt" 2>&1
grep -E "NVIDIA|release" "$LOG/machine.txt" | head -3 | tee -a "$LOG/summary.txt"

step "build"
ARCHS=${CUDA_ARCHS:-native}
# build [CMAKE ARGS...]: a fresh build-gpu/ and _core in pycolorize/.
build() {
  rm -rf build-gpu
  { cmake -S . -B build-gpu -G Ninja -DPython_EXECUTABLE="$(command -v $PY)" -DCMAKE_CUDA_ARCHITECTURES="$ARCHS" "$@" &&
    timeout "$(limit 300)" cmake --build build-gpu -j "$(nproc)"; } > "$LOG/build.txt" 2>&1 ||
    { tail -30 "$LOG/build.txt" | tee -a "$LOG/summary.txt"; return 1; }
  grep "pycolorize:" "$LOG/build.txt" | tee -a "$LOG/summary.txt"
  # One C++ runtime: _core needs the shared libstdc++ and carries no copy of it (tests/test_build.py).
  readelf -d pycolorize/_core*.so | grep NEEDED > "$LOG/needed.txt"
  grep -q "libstdc++.so" "$LOG/needed.txt" || echo "WARNING: _core does not need the shared libstdc++" | tee -a "$LOG/summary.txt"
  if grep -q -a "basic_ios::clear" pycolorize/_core*.so; then
    echo "_core holds a static copy of libstdc++" | tee -a "$LOG/summary.txt"; return 2
  fi
  return 0
}
# A C++ error message with numbers in it, in a child process (on the 2026-11 H100 image the CUDA
# build once crashed formatting numbers: libstdc++.a from nvcc's host toolchain got linked in).
cat > "$LOG/smoke.py" <<'PY'
import pycolorize
print("cuda_compiled", pycolorize.cuda_compiled(), "gpus", pycolorize.gpu_count())
try:
    pycolorize.Net.from_string('layer { name: "x" type: "Input" top: "x" top: "y" input_param { shape { dim: 1 } shape { dim: 2 } shape { dim: 3 } } }')
except pycolorize.Error as e:
    print("error messages work:", str(e)[:70])
PY
smoke() {
  $PY "$LOG/smoke.py" 2>&1 | tee -a "$LOG/summary.txt"
  return "${PIPESTATUS[0]}"
}
if [ -n "${SKIP_BUILD:-}" ] && ls pycolorize/_core*.so > /dev/null 2>&1; then built=0; echo "build kept (SKIP_BUILD)" | tee -a "$LOG/summary.txt"
else build; built=$?; fi
[ $built -eq 1 ] && { echo "BUILD FAILED" | tee -a "$LOG/summary.txt"; exit 1; }
if [ $built -eq 2 ] || ! smoke; then
  echo "SMOKE TEST FAILED (or a static libstdc++); backtrace in crash.txt; rebuilding with the system compiler" | tee -a "$LOG/summary.txt"
  [ $built -eq 0 ] && command -v cuda-gdb > /dev/null && timeout 120 cuda-gdb -batch -ex run -ex "bt 12" -ex "info sharedlibrary" \
    --args $PY "$LOG/smoke.py" > "$LOG/crash.txt" 2>&1
  cp build-gpu/CMakeFiles/*/CMakeCUDACompiler.cmake "$LOG/" 2>/dev/null
  CC=/usr/bin/gcc CXX=/usr/bin/g++ CUDAHOSTCXX=/usr/bin/g++ build -DCMAKE_C_COMPILER=/usr/bin/gcc \
    -DCMAKE_CXX_COMPILER=/usr/bin/g++ -DCMAKE_CUDA_HOST_COMPILER=/usr/bin/g++ &&
    smoke || { echo "STILL FAILING" | tee -a "$LOG/summary.txt"; exit 1; }
fi

if want tests; then
step "GPU tests"
# The GPU runs of the device-parametrised tests (marker gpu) and the GPU-only tests, in one process;
# the CPU runs are CI's. A crash here names its test in the log (faulthandler).
PYTHONUNBUFFERED=1 timeout "$(limit 200)" $PY -X faulthandler -m pytest tests -q -rfE -p no:cacheprovider ${PYTEST_ARGS:-} \
  -m gpu --junitxml="$LOG/tests_gpu.xml" > "$LOG/tests_gpu.txt" 2>&1
rc=$?; [ $rc -eq 0 ] || status=1
echo "marked gpu: $(tail -1 "$LOG/tests_gpu.txt") (exit $rc)" | tee -a "$LOG/summary.txt"
# (test_libraries: this CUDA build and the machine's PyTorch in one process, both import orders, on the GPU)
PYTHONUNBUFFERED=1 timeout "$(limit 150)" $PY -X faulthandler -m pytest tests/test_gpu.py tests/test_memory_reuse.py tests/test_golden.py \
  tests/test_solver.py tests/test_libraries.py -q -rfE -p no:cacheprovider > "$LOG/tests_gpu_files.txt" 2>&1
rc=$?; [ $rc -eq 0 ] || status=1
echo "GPU files: $(tail -1 "$LOG/tests_gpu_files.txt") (exit $rc)" | tee -a "$LOG/summary.txt"
grep -h -E "^(FAILED|ERROR) " "$LOG"/tests_gpu*.txt | head -40 | tee -a "$LOG/summary.txt"
fi

if want nccl; then step "NCCL at world size 1"; fi
if want nccl && fits 150 "the NCCL checks"; then
  PYTHONUNBUFFERED=1 timeout 60 $PY -m pytest -q -p no:cacheprovider \
    "tests/test_distributed.py::test_nccl_with_one_rank_trains_as_one_process" > "$LOG/nccl_test.txt" 2>&1 || status=1
  echo "test_nccl_with_one_rank_trains_as_one_process: $(tail -1 "$LOG/nccl_test.txt")" | tee -a "$LOG/summary.txt"
  # the same training bit for bit, and the step time of each path (target: at most 3 % overhead)
  PYTHONUNBUFFERED=1 timeout 90 $PY tools/nccl_overhead.py --steps 20 > "$LOG/nccl_overhead.txt" 2>&1 || status=1
  tail -4 "$LOG/nccl_overhead.txt" | tee -a "$LOG/summary.txt"
fi

# compute-sanitizer (SANITIZE=0 leaves it out): memcheck over the GPU layer tests (out-of-bounds and
# misaligned accesses), racecheck over the custom layers' kernels only: over the layer tests it
# spent its whole 240 s inside cuDNN's and cuBLAS's shared-memory kernels (H200, 2026-11-28) and
# reported nothing.
if [ "${SANITIZE:-1}" != 0 ]; then
  for tool in memcheck racecheck; do
    want $tool || continue
    step "compute-sanitizer $tool"
    files="tests/test_layers.py tests/test_custom_layers.py"; need=120
    [ $tool = racecheck ] && { files="tests/test_custom_layers.py"; need=60; }
    fits $need "compute-sanitizer $tool" || continue
    PYTHONUNBUFFERED=1 timeout $need compute-sanitizer --tool $tool --print-limit 20 --error-exitcode 99 \
      $PY -m pytest -q -p no:cacheprovider -m gpu $files > "$LOG/sanitizer_$tool.txt" 2>&1 || status=1
    grep -E "ERROR SUMMARY|RACECHECK SUMMARY|LEAK SUMMARY|passed|failed" "$LOG/sanitizer_$tool.txt" | tail -4 | tee -a "$LOG/summary.txt"
  done
fi

if [ "$BENCH" != "--no-bench" ] && want bench; then
  step "benchmark"
  if fits 150 "the GPU benchmark"; then
    PYTHONUNBUFFERED=1 timeout 150 $PY tools/benchmark.py --gpu ${BENCH_ARGS:---sizes 512} > "$LOG/benchmark.txt" 2>&1 || status=1
    tail -25 "$LOG/benchmark.txt" | tee -a "$LOG/summary.txt"
    if [ -n "${BENCH_TF32:-}" ] && fits 200 "the TF32 benchmark"; then  # BENCH_TF32=1: again with TF32 allowed in both
      PYTHONUNBUFFERED=1 timeout 200 $PY tools/benchmark.py --gpu --tf32 > "$LOG/benchmark_tf32.txt" 2>&1 || status=1
      tail -25 "$LOG/benchmark_tf32.txt" | tee -a "$LOG/summary.txt"
    fi
  fi
fi
if want loader; then  # STEPS="... loader": the training loader at this machine's core count, beside PyTorch's
  step "loader"
  if fits 240 "the loader benchmark"; then
    PYTHONUNBUFFERED=1 timeout 240 $PY -m pycolorize benchmark --parts loader > "$LOG/loader.txt" 2>&1 || status=1
    tail -15 "$LOG/loader.txt" | tee -a "$LOG/summary.txt"
  fi
fi
step "done (status $status, $SECONDS s)"
exit $status

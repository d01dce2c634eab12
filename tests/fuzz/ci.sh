#!/usr/bin/env bash
# tests/fuzz/ci.sh: the fuzzers as a CI step. Builds the libFuzzer harness, then runs it and each
# atheris harness for FUZZ_SECONDS (default 60) with a fixed seed (-seed=1), one at a time; exits 1
# if any of them crashed (the crashing inputs are left in build-fuzz/ci/).
#
# Works from a fresh clone after `pip install ".[test]"` in the active Python (pycolorize installed)
# or in the dev layout (a CMake build put _core in pycolorize/). Installs what is missing: Debian's
# clang with libFuzzer, the sanitizer runtimes and libomp (apt-get), and atheris (pip).
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
SECS="${FUZZ_SECONDS:-60}"
OUT="$ROOT/build-fuzz"
mkdir -p "$OUT/ci"

# ---- what the harnesses need ------------------------------------------------------------------
can_build_fuzzer() {
  local cxx; cxx="$(command -v clang++ || true)"
  [[ -n "$cxx" ]] || return 1
  echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' |
    "$cxx" -x c++ - -fopenmp -fsanitize=fuzzer,address,undefined -o "$OUT/ci/probe" 2>/dev/null
}
if ! can_build_fuzzer; then
  SUDO=""; [[ "$(id -u)" == 0 ]] || SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq clang
  V="$(clang --version | sed -n 's/.*clang version \([0-9]*\).*/\1/p' | head -1)"
  $SUDO apt-get install -y -qq "libfuzzer-$V-dev" "libclang-rt-$V-dev" "libomp-$V-dev" ||
    $SUDO apt-get install -y -qq "libfuzzer-$V-dev" "libomp-$V-dev"  # older releases: rt inside clang
  can_build_fuzzer || { echo "ci.sh: cannot build a libFuzzer binary with $(command -v clang++)" >&2; exit 2; }
fi
"$PY" -c "import atheris" 2>/dev/null || "$PY" -m pip install -q atheris || exit 2
# The installed package when there is one (run from /, so the source tree cannot shadow it), else
# the source tree with its CMake-built _core.
if ! (cd / && "$PY" -c "import pycolorize._core") 2>/dev/null; then
  export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
fi

# ---- build and run ------------------------------------------------------------------------------
PYTHON="$PY" CXX_FUZZ="$(command -v clang++)" tests/fuzz/build.sh "$OUT" || exit 2
export OMP_NUM_THREADS=1
failed=()
run() {  # name, seed folder (or -), then the command up to its libFuzzer flags
  local name="$1" seeds="$2"; shift 2
  rm -rf "$OUT/ci/$name" && mkdir -p "$OUT/ci/$name/corpus"
  # The first corpus folder is where libFuzzer adds inputs: a fresh one, holding the seeds.
  [[ "$seeds" == - ]] || cp "$seeds"/* "$OUT/ci/$name/corpus/"
  echo "== $name: ${SECS}s"
  if ! "$@" -seed=1 -max_total_time="$SECS" -timeout=10 -artifact_prefix="$OUT/ci/$name/" -print_final_stats=1 \
      "$OUT/ci/$name/corpus" >"$OUT/ci/$name/log" 2>&1; then
    failed+=("$name"); tail -40 "$OUT/ci/$name/log"
  fi
  grep -h "stat::number_of_executed_units" "$OUT/ci/$name/log" || true
}
run prototxt "$OUT/seeds" "$OUT/prototxt_fuzzer" -dict="$ROOT/tests/fuzz/prototxt.dict" -max_len=4096 -rss_limit_mb=2048
# (the atheris harnesses add their own seeds, see fuzzlib.main)
run caffemodel - "$PY" tests/fuzz/fuzz_caffemodel.py -rss_limit_mb=2048
run hdf5_weights - "$PY" tests/fuzz/fuzz_hdf5_weights.py -rss_limit_mb=2048
run image - "$PY" tests/fuzz/fuzz_image.py -rss_limit_mb=3072
run data_config - "$PY" tests/fuzz/fuzz_data_config.py -rss_limit_mb=2048

if (( ${#failed[@]} )); then
  echo "fuzz: crashes in: ${failed[*]} (inputs in $OUT/ci/<target>/crash-*)" >&2
  exit 1
fi
echo "fuzz: no crashes"

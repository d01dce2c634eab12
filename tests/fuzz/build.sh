#!/usr/bin/env bash
# tests/fuzz/build.sh: builds the libFuzzer harness into build-fuzz/ (ASan + UBSan + libFuzzer).
# Needs Debian's clang with libFuzzer and the compiler-rt sanitizers, libomp, and an active Python
# with scipy-openblas32 (the same OpenBLAS the extension links). Usage: tests/fuzz/build.sh [OUTDIR]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
OUT="${1:-$ROOT/build-fuzz}"
CXX="${CXX_FUZZ:-$(command -v clang++-14 || command -v clang++)}"
PY="${PYTHON:-python3}"
mkdir -p "$OUT/obj"

OPENBLAS="$("$PY" -c 'import os, scipy_openblas32 as s; print(os.path.join(s.get_lib_dir(), s.get_library(True)))')"
FLAGS=(-std=c++17 -g -O1 -fno-omit-frame-pointer -fopenmp -I"$ROOT/csrc"
       -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined)

# The core sources, without the Python bindings (bindings.cpp, bind_*.cpp); gpu_none.cpp stands in for CUDA.
mapfile -t SRCS < <(cd "$ROOT" && find csrc -name '*.cpp' ! -name bindings.cpp ! -name 'bind_*.cpp' | sort)
OBJS=()
pids=()
for src in "${SRCS[@]}" tests/fuzz/prototxt_fuzzer.cpp; do
  obj="$OUT/obj/$(echo "$src" | tr / _).o"
  OBJS+=("$obj")
  # Rebuild only what changed (sources or any header: a header change rebuilds everything).
  if [[ ! -f "$obj" || "$ROOT/$src" -nt "$obj" || -n "$(find "$ROOT/csrc" -name '*.h' -newer "$obj" -print -quit)" ]]; then
    "$CXX" "${FLAGS[@]}" -c "$ROOT/$src" -o "$obj" &
    pids+=($!)
    if (( ${#pids[@]} >= ${FUZZ_JOBS:-2} )); then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
  fi
done
for p in "${pids[@]}"; do wait "$p"; done
"$CXX" -fsanitize=fuzzer,address,undefined -fopenmp "${OBJS[@]}" "$OPENBLAS" \
  -Wl,-rpath,"$(dirname "$OPENBLAS")" -o "$OUT/prototxt_fuzzer"
echo "built $OUT/prototxt_fuzzer"

# Seed corpus: every prototxt in the repository (the shipped nets, the golden test nets) and the
# saved regression inputs.
rm -rf "$OUT/seeds" && mkdir -p "$OUT/seeds"
(cd "$ROOT" && find prototxt tests/data $(ls -d tests/fuzz/regressions 2>/dev/null) -name '*.prototxt') |
  while read -r f; do cp "$ROOT/$f" "$OUT/seeds/$(echo "$f" | tr / _)"; done
echo "seeds: $(ls "$OUT/seeds" | wc -l) files in $OUT/seeds"

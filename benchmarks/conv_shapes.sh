#!/usr/bin/env bash
# Builds benchmarks/conv_shapes.cpp against this tree's kernels and (with --main) against a copy of
# the main branch's, then runs them in alternating rounds so both see the same machine load.
# usage: bash benchmarks/conv_shapes.sh [--main] [--rounds N] [-- conv_shapes args...]
# (OMP_NUM_THREADS / POCKETCNN_ISA pass through.)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
with_main=0 rounds=1
while [[ $# -gt 0 ]]; do
  case $1 in
    --main) with_main=1; shift ;;
    --rounds) rounds=$2; shift 2 ;;
    --) shift; break ;;
    *) break ;;
  esac
done
build() {  # build <source tree> <build dir> -> <build dir>/conv_shapes
  cmake -S "$1" -B "$2" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
    -DPOCKETCNN_PYTHON=OFF >/dev/null
  cmake --build "$2" --target pocketcnn_core -j2 >/dev/null
  g++ -O2 -std=c++17 -fopenmp -DPOCKETCNN_X86=1 -I"$1/cpp/include" -I"$1/cpp/src" \
    "$root/benchmarks/conv_shapes.cpp" "$2/libpocketcnn_core.a" -o "$2/conv_shapes"
}
build "$root" "$root/build/conv-bench"
if [[ $with_main == 1 ]]; then
  rm -rf "$root/build/main-src" && mkdir -p "$root/build/main-src"
  git -C "$root" archive main | tar -x -C "$root/build/main-src"
  build "$root/build/main-src" "$root/build/conv-bench-main"
fi
for ((i = 0; i < rounds; ++i)); do
  if [[ $with_main == 1 ]]; then
    echo "== main"; "$root/build/conv-bench-main/conv_shapes" "$@"
  fi
  echo "== this branch"; "$root/build/conv-bench/conv_shapes" "$@"
done

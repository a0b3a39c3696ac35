#!/usr/bin/env bash
# Builds and runs benchmarks/conv_algos_avx512.cpp (each 3x3 stride-1 algorithm on the small
# ResNet's layers under AVX-512; needs an AVX-512 CPU), linked against this tree's core library.
# usage: bash benchmarks/conv_algos.sh [--batch N] [--reps N] [--peak GFLOPS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/build/conv-algos"
cmake -S "$root" -B "$out" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
  -DPOCKETCNN_PYTHON=OFF >/dev/null
cmake --build "$out" --target pocketcnn_core -j2 >/dev/null
g++ -O2 -std=c++17 -fopenmp -DPOCKETCNN_X86=1 -mavx512f -mavx512bw -mavx512dq -mavx512vl -mavx2 \
  -mfma -mf16c -I"$root/cpp/include" -I"$root/cpp/src" "$root/benchmarks/conv_algos_avx512.cpp" \
  "$out/libpocketcnn_core.a" -o "$out/conv_algos"
OMP_NUM_THREADS=1 "$out/conv_algos" "$@"

// Times the suite's first layers (C <= 8) on each forward path the AVX2 (or, built with
// -DFIRST_LAYERS_AVX512, the AVX-512) kernels can take (automatic choice, forced register-blocked
// direct, forced small-C direct, and the automatic conv + relu + 2x2 average pool), thread CPU
// time, min of reps, 1 thread. Build (after the core library, e.g. in /work/build-X): g++ -O3
// -std=c++17 -fopenmp -DPOCKETCNN_X86=1 -mavx2 -mfma -mf16c -Icpp/include -Icpp/src
// benchmarks/first_layers.cpp BUILD/libpocketcnn_core.a (AVX-512: add -DFIRST_LAYERS_AVX512
// -mavx512f -mavx512bw -mavx512dq -mavx512vl).  usage: OMP_NUM_THREADS=1 first_layers
// [--batch N] [--reps N]
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "kernels/conv/conv2d_impl.h"
#include "kernels/isa/block_configs.h"
#include "kernels/isa/simd_avx2.h"
#ifdef FIRST_LAYERS_AVX512
#include "kernels/isa/simd_avx512.h"
#endif

using namespace pocketcnn::kernels;

#ifdef FIRST_LAYERS_AVX512
using V = simd::Avx512Vec;
using Cfg = Avx512Cfg;
#else
using V = simd::Avx2Vec;
using Cfg = Avx2Cfg;
#endif

namespace {
struct Shape {
  const char* name;
  int64_t C, H, W, K, R, S, stride, pad;
};
const Shape kShapes[] = {
    {"lecture1_1-25_3x3_28", 1, 28, 28, 25, 3, 3, 1, 0},
    {"lenet_c1_1-6_5x5_32", 1, 32, 32, 6, 5, 5, 1, 0},
    {"lenet5_c1_1-6_5x5p2_28", 1, 28, 28, 6, 5, 5, 1, 2},
    {"lenet5_c2_6-16_5x5_14", 6, 14, 14, 16, 5, 5, 1, 0},
    {"cifar_3-32_3x3_32", 3, 32, 32, 32, 3, 3, 1, 1},
    {"col5_3-32_5x5_32", 3, 32, 32, 32, 5, 5, 1, 2},
    {"col7_3-32_7x7_32", 3, 32, 32, 32, 7, 7, 1, 3},
    {"allconv1_3-32_3x3s2_32", 3, 32, 32, 32, 3, 3, 2, 1},
    {"stem_3-32_7x7s2_64", 3, 64, 64, 32, 7, 7, 2, 3},
};
double cpu_now() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}
}  // namespace

int main(int argc, char** argv) {
  int64_t N = 64;
  int reps = 20;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--batch")) N = atoi(argv[i + 1]);
    if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
  }
  const impl::ConvAlgo algos[] = {impl::ConvAlgo::automatic, impl::ConvAlgo::direct_blocked,
                                  impl::ConvAlgo::small_c};
  const char* names[] = {"auto", "blocked", "small_c", "auto+avgpool"};
  for (const Shape& s : kShapes) {
    const Conv2dGeometry g = make_conv2d_geometry({N, s.C, s.H, s.W}, {s.K, s.C, s.R, s.S},
                                                  {s.stride, s.stride, s.pad, s.pad, s.pad, s.pad});
    std::vector<float> x(N * s.C * s.H * s.W, 0.5f), w(s.K * s.C * s.R * s.S, 0.01f), b(s.K, 0.1f);
    std::vector<float> y(N * s.K * g.P * g.Q);
    const double flops = 2.0 * N * s.K * s.C * s.R * s.S * g.P * g.Q;
    printf("%-26s N%-4ld", s.name, static_cast<long>(N));
    for (int a = 0; a < 4; ++a) {
      double best = 1e30;
      for (int r = 0; r < reps; ++r) {
        const double t0 = cpu_now();
        if (a < 3) {
          impl::conv2d_forward_algo<V, Cfg>(g, x.data(), w.data(), b.data(), y.data(),
                                            Activation::relu, 1, algos[a]);
        } else {  // the fused relu + 2x2 average pool the inference plan runs (automatic)
          impl::conv2d_forward_avgpool2x2<V, Cfg>(g, x.data(), w.data(), b.data(), y.data(),
                                                  Activation::relu, 1);
        }
        best = std::min(best, cpu_now() - t0);
      }
      printf(" %s %7.1fus %5.1fGF/s", names[a], best * 1e6, flops / best * 1e-9);
    }
    printf("\n");
  }
}

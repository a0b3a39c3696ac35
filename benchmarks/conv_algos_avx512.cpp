// Times each algorithm of a 3x3 stride-1 convolution (direct offset-GEMM, Winograd F(2x2),
// Winograd F(4x4)) on the small ResNet's layers (examples/small_resnet.py) under AVX-512, forward
// (inference and the training forward that saves) and the training backward (both gradients),
// so the automatic choice (conv_algo_impl.h) can be checked against measurement on this CPU.
// Prints % of the FMA peak from the minimum of many repetitions (the machine is shared).
// Build and run: bash benchmarks/conv_algos.sh [--batch N] [--reps N] [--peak GFLOPS]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "kernels/conv/conv2d_impl.h"
#include "kernels/isa/block_configs.h"
#include "kernels/isa/simd_avx512.h"

namespace {

using namespace pocketcnn::kernels;
using V = simd::Avx512Vec;
using Cfg = Avx512Cfg;

struct Shape {
  const char* name;
  int64_t C, K, H;
};

// The 3x3 stride-1 layers of the small ResNet (16/32/64 channels on 28/14/7 pixels) and the
// lone 64->64 layer on 14x14 of the issue.
const Shape kShapes[] = {
    {"16-16_28", 16, 16, 28},
    {"32-32_14", 32, 32, 14},
    {"64-64_7", 64, 64, 7},
    {"64-64_14", 64, 64, 14},
};

template <class F>
double time_min(F&& f, int reps) {
  f();
  double best = 1e30;
  for (int i = 0; i < reps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best,
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

std::vector<float> random_floats(int64_t n, unsigned seed) {
  std::vector<float> v(n);
  for (auto& x : v) {
    seed = seed * 1664525u + 1013904223u;
    x = static_cast<float>(seed >> 8) / 16777216.0f - 0.5f;
  }
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  double peak = 254.0;
  int reps = 20;
  int64_t N = 128;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--peak")) peak = std::atof(argv[i + 1]);
    if (!std::strcmp(argv[i], "--reps")) reps = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--batch")) N = std::atoll(argv[i + 1]);
  }
  using impl::ConvAlgo;
  std::printf("N %lld, 1 thread, AVX-512; %% of %.0f GFLOP/s (min of %d)\n",
              static_cast<long long>(N), peak, reps);
  std::printf("%-10s %-9s %9s %9s %9s %9s\n", "shape", "algo", "infer", "train-fwd", "train-bwd",
              "fwd+bwd ms");
  for (const Shape& s : kShapes) {
    const Conv2dGeometry g =
        make_conv2d_geometry({N, s.C, s.H, s.H}, {s.K, s.C, 3, 3}, {1, 1, 1, 1, 1, 1});
    const auto x = random_floats(N * s.C * s.H * s.H, 1), w = random_floats(s.K * s.C * 9, 2);
    const auto dy = random_floats(N * s.K * s.H * s.H, 3);
    std::vector<float> y(dy.size()), dx(x.size()), dw(w.size()), db(s.K);
    const double flops = 2.0 * N * s.K * s.C * 9 * s.H * s.H;
    for (ConvAlgo algo : {ConvAlgo::direct, ConvAlgo::winograd, ConvAlgo::winograd4}) {
      const char* name = algo == ConvAlgo::direct     ? "direct"
                         : algo == ConvAlgo::winograd ? "wino2"
                                                      : "wino4";
      const double inf = time_min(
          [&] {
            impl::conv2d_forward_algo<V, Cfg>(g, x.data(), w.data(), nullptr, y.data(),
                                              Activation::none, 1, algo);
          },
          reps);
      // Training: what the forward saves for this algorithm (direct: nothing).
      const bool w4 = algo == ConvAlgo::winograd4 && impl::use_winograd4_training<V>(algo, g);
      const int64_t nsaved = algo == ConvAlgo::direct ? 0
                             : w4 ? impl::winograd4_saved_floats<V>(N, s.C, s.H, s.H)
                                  : impl::winograd_saved_floats<V, Cfg>(N, s.C, s.K, s.H, s.H);
      std::vector<float> saved(std::max<int64_t>(nsaved, 1));
      float* sp = nsaved ? saved.data() : nullptr;
      const ConvAlgo train_algo = (algo == ConvAlgo::winograd4 && !w4) ? ConvAlgo::winograd : algo;
      const double fwd = time_min(
          [&] {
            impl::conv2d_forward_algo<V, Cfg>(g, x.data(), w.data(), nullptr, y.data(),
                                              Activation::none, 1, train_algo, sp);
          },
          reps);
      // direct: the input gradient's own non-Winograd choice (correlate or col + gather).
      const impl::DgradPath dpath =
          impl::dgrad_choose_path<V, Cfg>(g, impl::make_dgrad_banding<V, Cfg>(g));
      const double bwd = time_min(
          [&] {
            if (algo != ConvAlgo::direct) {
              impl::conv2d_backward_algo<V, Cfg>(g, x.data(), w.data(), dy.data(), dx.data(),
                                                 dw.data(), nullptr, 1, train_algo, sp);
              return;
            }
            impl::conv2d_backward_input_path<V, Cfg>(g, dy.data(), w.data(), dx.data(), 1, dpath);
            impl::conv2d_backward_weight_algo<V, Cfg>(g, x.data(), dy.data(), dw.data(), nullptr, 1,
                                                      algo);
          },
          reps);
      const auto pct = [&](double t, double f) { return 100 * f / t / 1e9 / peak; };
      std::printf("%-10s %-9s %8.1f%% %8.1f%% %8.1f%% %9.2f\n", s.name, name, pct(inf, flops),
                  pct(fwd, flops), pct(bwd, 2 * flops), (fwd + bwd) * 1e3);
      std::fflush(stdout);
    }
  }
}

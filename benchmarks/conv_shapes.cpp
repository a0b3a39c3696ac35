// Times every convolution shape of the issue-16 suite through the kernel entry points
// (kernels/conv/conv2d.h): forward, input gradient and weight gradient, at batch 64 and 256, and
// prints GFLOP/s and % of a given FMA peak. Min and p10 of many repetitions (the machine is shared:
// the minimum is the figure least disturbed by other processes). Build and run with
// benchmarks/conv_shapes.sh, which also builds main's copy for an alternating comparison.
//
// usage: conv_shapes [--peak GFLOPS] [--reps N] [--batch N] [--only NAME] [--cpu-time 1]
// --cpu-time 1 times by the calling thread's CPU time instead of the wall clock: with one thread
// (OMP_NUM_THREADS=1) on a machine shared with other jobs, that leaves out the time the thread
// was descheduled (it still sees their effect on the caches).
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/conv/conv2d.h"
#include "peak/peak.h"
#include "pocketcnn/cpu.h"

namespace {

using pocketcnn::kernels::Conv2dGeometry;

struct Shape {
  const char* name;
  int64_t C, H, W, K, R, S, stride, pad;
};

// The suite's layers (benchmarks/suite.py networks) plus one C, K >= 16 layer per kernel size.
const Shape kShapes[] = {
    {"lenet_c1_1-6_5x5_32", 1, 32, 32, 6, 5, 5, 1, 0},
    {"lenet_c2_6-16_5x5_14", 6, 14, 14, 16, 5, 5, 1, 0},
    {"allconv1_3-32_3x3s2_32", 3, 32, 32, 32, 3, 3, 2, 1},
    {"allconv2_32-64_3x3s2_16", 32, 16, 16, 64, 3, 3, 2, 1},
    {"col5_3-32_5x5_32", 3, 32, 32, 32, 5, 5, 1, 2},
    {"col7_3-32_7x7_32", 3, 32, 32, 32, 7, 7, 1, 3},
    {"stem_3-32_7x7s2_32", 3, 32, 32, 32, 7, 7, 2, 3},
    {"pw_64-64_1x1_16", 64, 16, 16, 64, 1, 1, 1, 0},
    {"allconv3_64-128_3x3s2_8", 64, 8, 8, 128, 3, 3, 2, 1},
    {"stem_3-32_7x7s2_64", 3, 64, 64, 32, 7, 7, 2, 3},
    {"pw_32-64_1x1_16", 32, 16, 16, 64, 1, 1, 1, 0},
    {"pw_64-16_1x1_8", 64, 8, 8, 16, 1, 1, 1, 0},
    {"pw_s2_32-64_1x1s2_16", 32, 16, 16, 64, 1, 1, 2, 0},
    {"lecture1_1-25_3x3_28", 1, 28, 28, 25, 3, 3, 1, 0},
    {"lecture2_25-50_3x3_13", 25, 13, 13, 50, 3, 3, 1, 0},
    {"c5_32-64_5x5_16", 32, 16, 16, 64, 5, 5, 1, 2},
    {"c7_32-64_7x7_16", 32, 16, 16, 64, 7, 7, 1, 3},
    {"c3_32-32_3x3_32", 32, 32, 32, 32, 3, 3, 1, 1},
    // Keras CIFAR-10's second pair and the stem net's 3x3 layer.
    {"c3_32-64_3x3_16", 32, 16, 16, 64, 3, 3, 1, 1},
    {"c3_64-64_3x3_16", 64, 16, 16, 64, 3, 3, 1, 1},
    // The small ResNet's 3x3 layers (benchmarks/graph_networks.py small_resnet_nodes).
    {"res0_16-16_3x3_28", 16, 28, 28, 16, 3, 3, 1, 1},
    {"res1_16-32_3x3s2_28", 16, 28, 28, 32, 3, 3, 2, 1},
    {"res1_32-32_3x3_14", 32, 14, 14, 32, 3, 3, 1, 1},
    {"res2_32-64_3x3s2_14", 32, 14, 14, 64, 3, 3, 2, 1},
    {"res2_64-64_3x3_7", 64, 7, 7, 64, 3, 3, 1, 1},
};

Conv2dGeometry geometry(const Shape& s, int64_t N) {
  Conv2dGeometry g{};
  g.N = N, g.C = s.C, g.H = s.H, g.W = s.W, g.K = s.K, g.R = s.R, g.S = s.S;
  g.stride_h = g.stride_w = s.stride, g.pad_top = g.pad_left = s.pad;
  g.P = (s.H + 2 * s.pad - s.R) / s.stride + 1;
  g.Q = (s.W + 2 * s.pad - s.S) / s.stride + 1;
  return g;
}

bool g_cpu_time = false;

double now_seconds() {
  if (g_cpu_time) {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

template <class F>
std::pair<double, double> time_min_p10(F&& f, int reps) {
  f();  // warm-up (scratch buffers, packed weights)
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    const double t0 = now_seconds();
    f();
    t.push_back(now_seconds() - t0);
  }
  std::sort(t.begin(), t.end());
  return {t[0], t[t.size() / 10]};
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
  namespace k = pocketcnn::kernels;
  double peak = 254.0;
  int reps = 30;
  std::vector<int64_t> batches = {64, 256};
  std::string only;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--peak")) peak = std::atof(argv[i + 1]);
    if (!std::strcmp(argv[i], "--reps")) reps = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--batch")) batches = {std::atoll(argv[i + 1])};
    if (!std::strcmp(argv[i], "--only")) only = argv[i + 1];
    if (!std::strcmp(argv[i], "--cpu-time")) g_cpu_time = std::atoi(argv[i + 1]) != 0;
  }
  // What this core gives now (best of several short probes; the machine is shared): if it is far
  // below the nominal peak, the run was squeezed and its percentages are low by that much.
  double live = 0;
  for (int i = 0; i < 20; ++i) live = std::max(live, k::fma_peak_gflops(1, 0.01));
  std::printf("live 1-thread FMA probe: %.0f GFLOP/s\n", live);
  std::printf("isa %s threads %d peak %.0f GFLOP/s; %% of peak from the min (p10 in brackets)\n",
              pocketcnn::isa_name(pocketcnn::active_isa()), pocketcnn::get_num_threads(), peak);
  std::printf("%-26s %5s %16s %16s %16s\n", "shape", "N", "forward", "input-grad", "weight-grad");
  for (const Shape& s : kShapes) {
    if (!only.empty() && std::string(s.name).find(only) == std::string::npos) continue;
    for (int64_t N : batches) {
      const Conv2dGeometry g = geometry(s, N);
      const auto x = random_floats(g.N * g.C * g.H * g.W, 1);
      const auto w = random_floats(g.K * g.C * g.R * g.S, 2);
      const auto b = random_floats(g.K, 3);
      const auto dy = random_floats(g.N * g.K * g.P * g.Q, 4);
      std::vector<float> y(dy.size()), dx(x.size()), dw(w.size()), db(b.size());
      const double flops = 2.0 * g.N * g.K * g.C * g.R * g.S * g.P * g.Q;
      const int r = std::max(5, static_cast<int>(reps * std::min(1.0, 2e8 / flops)));
      const auto fwd =
          time_min_p10([&] { k::conv2d_forward(g, x.data(), w.data(), b.data(), y.data()); }, r);
      const auto dgr =
          time_min_p10([&] { k::conv2d_backward_input(g, dy.data(), w.data(), dx.data()); }, r);
      const auto wgr = time_min_p10(
          [&] { k::conv2d_backward_weight(g, x.data(), dy.data(), dw.data(), db.data()); }, r);
      const auto pct = [&](std::pair<double, double> t) {
        static char buf[4][32];
        static int slot = 0;
        char* out = buf[slot++ % 4];
        std::snprintf(out, 32, "%5.1f%% (%5.1f)", 100 * flops / t.first / 1e9 / peak,
                      100 * flops / t.second / 1e9 / peak);
        return out;
      };
      std::printf("%-26s %5lld %16s %16s %16s\n", s.name, static_cast<long long>(N), pct(fwd),
                  pct(dgr), pct(wgr));
      std::fflush(stdout);
    }
  }
}

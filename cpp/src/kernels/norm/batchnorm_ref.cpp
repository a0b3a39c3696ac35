#include "kernels/norm/batchnorm_ref.h"

namespace pocketcnn::kernels {

namespace {
// Element (n, c, hw) of an (N, C, HW) array.
inline int64_t at(const BatchNormGeometry& g, int64_t n, int64_t c, int64_t hw) {
  return (n * g.C + c) * g.HW + hw;
}
}  // namespace

void batchnorm_stats_ref(const BatchNormGeometry& g, const float* x, float* mean, float* var) {
  const double m = static_cast<double>(g.per_channel());
  for (int64_t c = 0; c < g.C; ++c) {
    double s = 0.0;
    for (int64_t n = 0; n < g.N; ++n)
      for (int64_t i = 0; i < g.HW; ++i) s += x[at(g, n, c, i)];
    const double mu = s / m;
    double ss = 0.0;
    for (int64_t n = 0; n < g.N; ++n)
      for (int64_t i = 0; i < g.HW; ++i) {
        const double d = x[at(g, n, c, i)] - mu;
        ss += d * d;
      }
    mean[c] = static_cast<float>(mu);
    var[c] = static_cast<float>(ss / m);
  }
}

void batchnorm_apply_ref(const BatchNormGeometry& g, const float* x, const float* scale,
                         const float* shift, float* y) {
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t c = 0; c < g.C; ++c)
      for (int64_t i = 0; i < g.HW; ++i) {
        const int64_t k = at(g, n, c, i);
        y[k] = x[k] * scale[c] + shift[c];
      }
}

void batchnorm_backward_ref(const BatchNormGeometry& g, bool batch_stats, const float* x,
                            const float* mean, const float* invstd, const float* gamma,
                            const float* dy, float* dx, float* dgamma, float* dbeta) {
  const double m = static_cast<double>(g.per_channel());
  for (int64_t c = 0; c < g.C; ++c) {
    double sdy = 0.0, sdyx = 0.0;  // sum dy, sum dy * (x - mean)
    for (int64_t n = 0; n < g.N; ++n)
      for (int64_t i = 0; i < g.HW; ++i) {
        const int64_t k = at(g, n, c, i);
        sdy += dy[k];
        sdyx += static_cast<double>(dy[k]) * (static_cast<double>(x[k]) - mean[c]);
      }
    const double is = invstd[c], gm = gamma ? gamma[c] : 1.0;
    if (dgamma) dgamma[c] = static_cast<float>(sdyx * is);
    if (dbeta) dbeta[c] = static_cast<float>(sdy);
    if (!dx) continue;
    for (int64_t n = 0; n < g.N; ++n)
      for (int64_t i = 0; i < g.HW; ++i) {
        const int64_t k = at(g, n, c, i);
        double d = dy[k];
        if (batch_stats) {
          d -= sdy / m + (static_cast<double>(x[k]) - mean[c]) * is * is * sdyx / m;
        }
        dx[k] = static_cast<float>(gm * is * d);
      }
  }
}

}  // namespace pocketcnn::kernels

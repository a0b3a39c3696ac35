// Batch-normalisation kernels over a vector type V, compiled once per ISA (kernels_<isa>.cpp).
// Each channel's (n, hw) elements are HW-long contiguous rows, one per sample: a row is summed in
// vector lanes, its lane sum added to a double per channel (so long batches keep their precision),
// and channels are split over threads (one channel, one thread, a fixed order: the same bits
// whatever the thread count).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/norm/batchnorm_geometry.h"
#include "kernels/runtime/parallel.h"

namespace pocketcnn::kernels::impl {
// Internal linkage per ISA translation unit (see gemm_impl.h).
namespace {

// Calls f(i, t) for the vector blocks of a row of n floats: t = V::W lanes, then the partial tail.
template <class V, class F>
inline void for_row_blocks(int64_t n, F&& f) {
  int64_t i = 0;
  for (; i + V::W <= n; i += V::W) f(i, V::W);
  if (i < n) f(i, static_cast<int>(n - i));
}

template <class V>
inline typename V::R load_t(const float* p, int t) {
  return t == V::W ? V::load(p) : V::load_partial(p, t);
}

template <class V>
inline void store_t(float* p, typename V::R v, int t) {
  if (t == V::W) {
    V::store(p, v);
  } else {
    V::store_partial(p, v, t);
  }
}

// Threads over channels, each channel moving `bytes_per_element` per element.
template <class Fn>
void over_channels(const BatchNormGeometry& g, double bytes_per_element, int threads, Fn&& fn) {
  const double bytes = bytes_per_element * static_cast<double>(g.N * g.C * g.HW);
  const int nt = threads_for_bytes(g.C, bytes, threads);
  parallel_for(g.C, nt, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) fn(c);
  });
}

// Per channel, one sweep: the sums of d = x - K and d^2 for a shift K near the channel's mean
// (its first row's mean), so var = E[d^2] - E[d]^2 does not cancel when the mean is large against
// the spread (without a shift, it would: test_batchnorm_fast's offset data). K is at most
// sqrt(N) standard deviations from the mean (row 0's own squares bound it), so the cancellation
// costs at most a factor N of float precision. A two-pass mean, then variance, read the channel
// twice.
template <class V>
void batchnorm_stats(const BatchNormGeometry& g, const float* x, float* mean, float* var,
                     int threads) {
  const double m = static_cast<double>(g.per_channel());
  // 8 bytes per element: the thread split of the two-pass version, left as it was.
  over_channels(g, 8.0, threads, [&](int64_t c) {
    typename V::R acc = V::zero();
    if (g.N > 0) {  // an empty batch has no first row
      const float* first = x + c * g.HW;
      for_row_blocks<V>(g.HW,
                        [&](int64_t i, int t) { acc = V::add(acc, load_t<V>(first + i, t)); });
    }
    const float shift =
        g.HW > 0 ? static_cast<float>(V::hsum(acc) / static_cast<float>(g.HW)) : 0.0f;
    // The tail subtracts the shift only in its real lanes (the others load as 0 and must stay 0).
    float ks[V::W];
    for (float& v : ks) v = shift;
    double s1 = 0.0, s2 = 0.0;
    for (int64_t n = 0; n < g.N; ++n) {
      const float* row = x + (n * g.C + c) * g.HW;
      typename V::R a1 = V::zero(), a2 = V::zero();
      for_row_blocks<V>(g.HW, [&](int64_t i, int t) {
        const typename V::R d = V::sub(load_t<V>(row + i, t), load_t<V>(ks, t));
        a1 = V::add(a1, d);
        a2 = V::fmadd(d, d, a2);
      });
      s1 += V::hsum(a1);
      s2 += V::hsum(a2);
    }
    const double off = s1 / m;
    mean[c] = static_cast<float>(shift + off);
    var[c] = static_cast<float>(std::max(s2 / m - off * off, 0.0));
  });
}

// relu: y = max(0, x * scale + shift), training's BatchNormalization + ReLU in one pass (the
// ReLU's own sweep over memory, forward and backward, was 5% of the small ResNet's step).
template <class V>
void batchnorm_apply_act(const BatchNormGeometry& g, const float* x, const float* scale,
                         const float* shift, float* y, int threads, bool relu) {
  over_channels(g, 8.0, threads, [&](int64_t c) {
    const typename V::R sc = V::set1(scale[c]), sh = V::set1(shift[c]), zero = V::zero();
    for (int64_t n = 0; n < g.N; ++n) {
      const int64_t base = (n * g.C + c) * g.HW;
      for_row_blocks<V>(g.HW, [&](int64_t i, int t) {
        const typename V::R v = V::fmadd(load_t<V>(x + base + i, t), sc, sh);
        store_t<V>(y + base + i, relu ? V::max(zero, v) : v, t);
      });
    }
  });
}

template <class V>
void batchnorm_apply(const BatchNormGeometry& g, const float* x, const float* scale,
                     const float* shift, float* y, int threads) {
  batchnorm_apply_act<V>(g, x, scale, shift, y, threads, false);
}

template <class V>
void batchnorm_apply_relu(const BatchNormGeometry& g, const float* x, const float* scale,
                          const float* shift, float* y, int threads) {
  batchnorm_apply_act<V>(g, x, scale, shift, y, threads, true);
}

// dy where the forward's x * scale + shift (recomputed: the same fmadd, the same float) is > 0,
// else 0: the ReLU's gradient (0 at 0, as PyTorch), without reading y. Partial lanes stay 0.
template <class V>
struct ReluMask {
  const float* scale = nullptr;  // null: no ReLU, dy as it is
  const float* shift = nullptr;
  template <class R>
  R operator()(R dy, R x, R sc, R sh) const {
    return scale ? V::select(V::gt(V::fmadd(x, sc, sh), V::zero()), V::zero(), dy) : dy;
  }
};

template <class V>
void batchnorm_backward_masked(const BatchNormGeometry& g, bool batch_stats, const float* x,
                               const float* mean, const float* invstd, const float* gamma,
                               const ReluMask<V>& mask, const float* dy, float* dx, float* dgamma,
                               float* dbeta, int threads) {
  const double m = static_cast<double>(g.per_channel());
  over_channels(g, dx ? 16.0 : 8.0, threads, [&](int64_t c) {
    const typename V::R muv = V::set1(mean[c]);
    const typename V::R sc = V::set1(mask.scale ? mask.scale[c] : 0.0f);
    const typename V::R sh = V::set1(mask.shift ? mask.shift[c] : 0.0f);
    // dy (0 in partial lanes), through the ReLU if there is one.
    const auto grad = [&](int64_t k, int t, typename V::R xv) {
      return mask(load_t<V>(dy + k, t), xv, sc, sh);
    };
    double sdy = 0.0, sdyx = 0.0;
    for (int64_t n = 0; n < g.N; ++n) {
      const int64_t base = (n * g.C + c) * g.HW;
      typename V::R a = V::zero(), b = V::zero();
      for_row_blocks<V>(g.HW, [&](int64_t i, int t) {
        const typename V::R xv = load_t<V>(x + base + i, t), d = grad(base + i, t, xv);
        a = V::add(a, d);
        b = V::fmadd(d, V::sub(xv, muv), b);
      });
      sdy += V::hsum(a);
      sdyx += V::hsum(b);
    }
    const float is = invstd[c], gm = gamma ? gamma[c] : 1.0f;
    if (dgamma) dgamma[c] = static_cast<float>(sdyx * is);
    if (dbeta) dbeta[c] = static_cast<float>(sdy);
    if (!dx) return;
    // dx = k * (dy - mean(dy) - (x - mean) * invstd^2 * mean(dy * (x - mean))), k = gamma * invstd
    const typename V::R k = V::set1(gm * is);
    const typename V::R mdy = V::set1(batch_stats ? static_cast<float>(sdy / m) : 0.0f);
    const typename V::R coef = V::set1(batch_stats ? static_cast<float>(sdyx / m * is * is) : 0.0f);
    for (int64_t n = 0; n < g.N; ++n) {
      const int64_t base = (n * g.C + c) * g.HW;
      for_row_blocks<V>(g.HW, [&](int64_t i, int t) {
        const typename V::R xv = load_t<V>(x + base + i, t), xc = V::sub(xv, muv);
        const typename V::R d = V::sub(V::sub(grad(base + i, t, xv), mdy), V::mul(xc, coef));
        store_t<V>(dx + base + i, V::mul(k, d), t);
      });
    }
  });
}

template <class V>
void batchnorm_backward(const BatchNormGeometry& g, bool batch_stats, const float* x,
                        const float* mean, const float* invstd, const float* gamma, const float* dy,
                        float* dx, float* dgamma, float* dbeta, int threads) {
  batchnorm_backward_masked<V>(g, batch_stats, x, mean, invstd, gamma, ReluMask<V>{}, dy, dx,
                               dgamma, dbeta, threads);
}

// The backward of relu(batchnorm(x)), the forward having normalised with scale and shift.
template <class V>
void batchnorm_relu_backward(const BatchNormGeometry& g, bool batch_stats, const float* x,
                             const float* mean, const float* invstd, const float* gamma,
                             const float* scale, const float* shift, const float* dy, float* dx,
                             float* dgamma, float* dbeta, int threads) {
  batchnorm_backward_masked<V>(g, batch_stats, x, mean, invstd, gamma, ReluMask<V>{scale, shift},
                               dy, dx, dgamma, dbeta, threads);
}

}  // namespace
}  // namespace pocketcnn::kernels::impl

// The geometry of one 2-D pooling (max or average), and the part of a window inside the input.
#pragma once

#include <algorithm>
#include <cstdint>

namespace pocketcnn::kernels {

// Input (N, C, H, W) -> output (N, C, P, Q), P = (H + 2 pad_h - kernel_h) / stride_h + 1.
struct Pool2dGeometry {
  int64_t N, C, H, W;
  int64_t P, Q;
  int64_t kernel_h, kernel_w;
  int64_t stride_h, stride_w;
  int64_t pad_h, pad_w;
};

// The part of output (p, q)'s window that lies inside the input: rows [h0, h1), columns [w0, w1).
// The op guarantees (pad <= kernel / 2, H, W >= 1) that this is never empty.
struct PoolWindow {
  int64_t h0, h1, w0, w1;
};
inline PoolWindow pool_window(const Pool2dGeometry& g, int64_t p, int64_t q) {
  const int64_t hs = p * g.stride_h - g.pad_h, ws = q * g.stride_w - g.pad_w;
  return {std::max<int64_t>(hs, 0), std::min(hs + g.kernel_h, g.H), std::max<int64_t>(ws, 0),
          std::min(ws + g.kernel_w, g.W)};
}

}  // namespace pocketcnn::kernels

#include "kernels/conv/conv_geometry.h"

#include <string>

#include "pocketcnn/error.h"

namespace pocketcnn::kernels {

namespace {

std::string pair_str(int64_t a, int64_t b) {
  return str_cat("(", a, ", ", b, ")");
}

// a * b * ... without int64 overflow (all factors >= 1), else ValueError; where() gives the
// message's shapes.
template <class Where>
int64_t checked_product(const char* op, const char* what, std::initializer_list<int64_t> fs,
                        const Where& where) {
  int64_t p = 1;
  for (int64_t f : fs) {
    PCNN_CHECK(!__builtin_mul_overflow(p, f, &p), op, ": ", what, " overflows int64", where());
  }
  return p;
}

}  // namespace

Conv2dGeometry make_conv2d_geometry(const Shape& x_shape, const Shape& w_shape,
                                    const Conv2dStridePadding& sp, const char* op) {
  // The shapes for an error message, formatted only when a check fails (formatting them on every
  // call was 12 K of the 38 K instructions a batch-1 LeNet-5 plan run spent outside its kernels).
  const auto where = [&] {
    return str_cat(" (input shape ", shape_str(x_shape), ", weight shape ", shape_str(w_shape),
                   ")");
  };
  PCNN_CHECK(x_shape.size() == 4, op, ": input must be 4-D (N, C, H, W), got shape ",
             shape_str(x_shape));
  // An empty batch is a valid geometry (the kernels do nothing); the op refuses it itself.
  PCNN_CHECK(x_shape[0] >= 0 && x_shape[1] > 0 && x_shape[2] > 0 && x_shape[3] > 0, op,
             ": input must have N >= 0 and C, H, W >= 1, got shape ", shape_str(x_shape));
  PCNN_CHECK(w_shape.size() == 4, op, ": weight must be 4-D (K, C, R, S), got shape ",
             shape_str(w_shape), " for input of shape ", shape_str(x_shape));
  PCNN_CHECK(w_shape[0] > 0 && w_shape[2] > 0 && w_shape[3] > 0, op,
             ": weight must have K, R, S >= 1, got shape ", shape_str(w_shape));
  PCNN_CHECK(w_shape[1] == x_shape[1], op, ": input has ", x_shape[1], " channels (shape ",
             shape_str(x_shape), ") but weight expects ", w_shape[1], " (shape ",
             shape_str(w_shape), ")");
  PCNN_CHECK(sp.stride_h >= 1 && sp.stride_w >= 1, op, ": stride must be >= 1, got ",
             pair_str(sp.stride_h, sp.stride_w), where());
  PCNN_CHECK(sp.pad_top >= 0 && sp.pad_left >= 0 && sp.pad_bottom >= 0 && sp.pad_right >= 0, op,
             ": padding must be >= 0, got (top, left, bottom, right) = (", sp.pad_top, ", ",
             sp.pad_left, ", ", sp.pad_bottom, ", ", sp.pad_right, ")", where());
  PCNN_CHECK(sp.pad_top <= kMaxConvPadding && sp.pad_left <= kMaxConvPadding &&
                 sp.pad_bottom <= kMaxConvPadding && sp.pad_right <= kMaxConvPadding,
             op, ": padding must be at most ", kMaxConvPadding,
             " per side, got (top, left, bottom, right) = (", sp.pad_top, ", ", sp.pad_left, ", ",
             sp.pad_bottom, ", ", sp.pad_right, ")", where());

  Conv2dGeometry g{};
  g.N = x_shape[0], g.C = x_shape[1], g.H = x_shape[2], g.W = x_shape[3];
  g.K = w_shape[0], g.R = w_shape[2], g.S = w_shape[3];
  g.stride_h = sp.stride_h, g.stride_w = sp.stride_w;
  g.pad_top = sp.pad_top, g.pad_left = sp.pad_left;
  // H, W are sizes of an allocated tensor and the padding is bounded: these sums cannot overflow.
  const int64_t Hp = g.H + sp.pad_top + sp.pad_bottom, Wp = g.W + sp.pad_left + sp.pad_right;
  PCNN_CHECK(Hp >= g.R && Wp >= g.S, op, ": kernel ", pair_str(g.R, g.S),
             " is larger than the padded input ", pair_str(Hp, Wp), where());
  g.P = (Hp - g.R) / g.stride_h + 1;
  g.Q = (Wp - g.S) / g.stride_w + 1;
  checked_product(op, "the output size N * K * P * Q", {g.N, g.K, g.P, g.Q}, where);
  checked_product(op, "the weight size K * C * R * S", {g.K, g.C, g.R, g.S}, where);
  return g;
}

}  // namespace pocketcnn::kernels

#include "kernels/isa/dispatch.h"

#include "pocketcnn/cpu.h"
#include "pocketcnn/error.h"

namespace pocketcnn::kernels {

const KernelTable& kernels_for(Isa isa) {
  PCNN_CHECK(cpu_supports(isa), "this CPU does not support the ", isa_name(isa), " kernels");
  switch (isa) {
#ifdef POCKETCNN_X86
    case Isa::avx512:
      return kernel_table_avx512();
    case Isa::avx2:
      return kernel_table_avx2();
#endif
    default:
      return kernel_table_scalar();
  }
}

const KernelTable& kernels() {
  return kernels_for(active_isa());
}

// ---- entry points -------------------------------------------------------------------------------

void gemm_nn(const GemmNN& g, int threads) {
  kernels().gemm_nn(g, threads);
}
void gemm_nt(const GemmNT& g, int threads) {
  kernels().gemm_nt(g, threads);
}

void conv2d_forward(const Conv2dGeometry& g, const float* x, const float* w, const float* b,
                    float* y, Activation act, float* saved) {
  kernels().conv2d_forward(g, x, w, b, y, act, get_num_threads(), saved);
}

int64_t conv2d_saved_floats(const Conv2dGeometry& g) {
  return kernels().conv2d_saved_floats(g);
}

void conv2d_forward_maxpool2x2(const Conv2dGeometry& g, const float* x, const float* w,
                               const float* b, float* y, Activation act) {
  PCNN_CHECK(g.stride_h == 1 && g.stride_w == 1, "conv2d_forward_maxpool2x2: stride 1 only");
  // The kernels pool first and activate the pooled quarter: exact only for these (conv2d.h).
  PCNN_CHECK(
      pool_commutes(act),
      "conv2d_forward_maxpool2x2: activation none, relu, sigmoid, tanh or hard_sigmoid only");
  kernels().conv2d_forward_maxpool2x2(g, x, w, b, y, act, get_num_threads());
}

void conv2d_forward_avgpool2x2(const Conv2dGeometry& g, const float* x, const float* w,
                               const float* b, float* y, Activation act) {
  kernels().conv2d_forward_avgpool2x2(g, x, w, b, y, act, get_num_threads());
}

void conv2d_backward_input(const Conv2dGeometry& g, const float* dy, const float* w, float* dx) {
  kernels().conv2d_backward_input(g, dy, w, dx, get_num_threads());
}

void conv2d_backward_weight(const Conv2dGeometry& g, const float* x, const float* dy, float* dw,
                            float* db) {
  kernels().conv2d_backward_weight(g, x, dy, dw, db, get_num_threads());
}

void conv2d_backward(const Conv2dGeometry& g, const float* x, const float* w, const float* dy,
                     float* dx, float* dw, float* db, const float* saved) {
  kernels().conv2d_backward(g, x, w, dy, dx, dw, db, get_num_threads(), saved);
}

}  // namespace pocketcnn::kernels

namespace pocketcnn::kernels {

void max_pool2d_forward(const Pool2dGeometry& g, const float* x, float* y, int32_t* argmax) {
  kernels().max_pool2d_forward(g, x, y, argmax, nullptr, get_num_threads());
}

void max_pool2d_backward(const Pool2dGeometry& g, const float* dy, const int32_t* argmax,
                         float* dx) {
  kernels().max_pool2d_backward(g, dy, argmax, dx, get_num_threads());
}

}  // namespace pocketcnn::kernels

namespace pocketcnn::kernels {

bool max_pool2d_keeps_winners(const Pool2dGeometry& g) {
  return g.kernel_h == 2 && g.kernel_w == 2 && g.stride_h == 2 && g.stride_w == 2 && g.pad_h == 0 &&
         g.pad_w == 0 && 2 * g.P <= g.H && 2 * g.Q <= g.W;  // no 'same' extra row / column
}

void max_pool2d_forward_winners(const Pool2dGeometry& g, const float* x, float* y, float* winners) {
  PCNN_CHECK(max_pool2d_keeps_winners(g),
             "max_pool2d_forward_winners: only for 2x2 windows, stride 2, no padding");
  kernels().max_pool2d_forward(g, x, y, nullptr, winners, get_num_threads());
}

void max_pool2d_backward_from_winners(const Pool2dGeometry& g, const float* dy,
                                      const float* winners, float* dx) {
  PCNN_CHECK(max_pool2d_keeps_winners(g),
             "max_pool2d_backward_from_winners: only for 2x2 windows, stride 2, no padding");
  kernels().max_pool2d_backward_from_winners(g, dy, winners, dx, get_num_threads());
}

void unary_forward(UnaryOp op, int64_t n, const float* x, float* y) {
  kernels().unary_forward(op, n, x, y, get_num_threads());
}

void unary_backward(UnaryOp op, int64_t n, const float* x, const float* y, const float* dy,
                    float* dx) {
  kernels().unary_backward(op, n, x, y, dy, dx, get_num_threads());
}

void sgd_update(int64_t n, float* p, const float* g, float* buf, const SgdStep& s) {
  kernels().sgd_update(n, p, g, buf, s, get_num_threads());
}

void adam_update(int64_t n, float* p, const float* g, float* m, float* v, const AdamStep& s) {
  kernels().adam_update(n, p, g, m, v, s, get_num_threads());
}

double sum_of_squares(int64_t n, const float* x) {
  return kernels().sum_of_squares(n, x, get_num_threads());
}

void scale_in_place(int64_t n, float* x, float s) {
  kernels().scale_in_place(n, x, s, get_num_threads());
}

}  // namespace pocketcnn::kernels

namespace pocketcnn::kernels {

void batchnorm_stats(const BatchNormGeometry& g, const float* x, float* mean, float* var) {
  kernels().batchnorm_stats(g, x, mean, var, get_num_threads());
}

void batchnorm_apply(const BatchNormGeometry& g, const float* x, const float* scale,
                     const float* shift, float* y) {
  kernels().batchnorm_apply(g, x, scale, shift, y, get_num_threads());
}

void batchnorm_backward(const BatchNormGeometry& g, bool batch_stats, const float* x,
                        const float* mean, const float* invstd, const float* gamma, const float* dy,
                        float* dx, float* dgamma, float* dbeta) {
  kernels().batchnorm_backward(g, batch_stats, x, mean, invstd, gamma, dy, dx, dgamma, dbeta,
                               get_num_threads());
}

void batchnorm_apply_relu(const BatchNormGeometry& g, const float* x, const float* scale,
                          const float* shift, float* y) {
  kernels().batchnorm_apply_relu(g, x, scale, shift, y, get_num_threads());
}

void batchnorm_relu_backward(const BatchNormGeometry& g, bool batch_stats, const float* x,
                             const float* mean, const float* invstd, const float* gamma,
                             const float* scale, const float* shift, const float* dy, float* dx,
                             float* dgamma, float* dbeta) {
  kernels().batchnorm_relu_backward(g, batch_stats, x, mean, invstd, gamma, scale, shift, dy, dx,
                                    dgamma, dbeta, get_num_threads());
}

}  // namespace pocketcnn::kernels

// Every ISA-dispatched kernel, named once. X(name, template_args, return_type, parameters) for
// each kernel; dispatch.h expands it into the KernelTable's function-pointer fields and
// kernel_table_impl.h into the assignments from the templates (name<template_args>), so adding a
// kernel is one line here plus its template (and its entry point in dispatch.cpp).
#pragma once

// Strips the parentheses around a template-argument list: (V, Cfg) -> V, Cfg.
#define POCKETCNN_UNPARENTHESIZE(...) __VA_ARGS__

// clang-format off
#define POCKETCNN_KERNEL_LIST(X)                                                                   \
  X(gemm_nn, (V, Cfg), void, (const GemmNN&, int threads))                                         \
  X(gemm_nt, (V, Cfg), void, (const GemmNT&, int threads))                                         \
  X(conv2d_forward, (V, Cfg), void, (const Conv2dGeometry&, const float* x, const float* w,        \
                                     const float* b, float* y, Activation act, int threads,        \
                                     float* saved))                                                \
  X(conv2d_saved_floats, (V, Cfg), int64_t, (const Conv2dGeometry&))                               \
  X(conv2d_forward_maxpool2x2, (V, Cfg), void, (const Conv2dGeometry&, const float* x,             \
                                                const float* w, const float* b, float* y,          \
                                                Activation act, int threads))                      \
  X(conv2d_forward_avgpool2x2, (V, Cfg), void, (const Conv2dGeometry&, const float* x,             \
                                                const float* w, const float* b, float* y,          \
                                                Activation act, int threads))                      \
  X(conv2d_backward_input, (V, Cfg), void, (const Conv2dGeometry&, const float* dy,                \
                                            const float* w, float* dx, int threads))               \
  X(conv2d_backward_weight, (V, Cfg), void, (const Conv2dGeometry&, const float* x,                \
                                             const float* dy, float* dw, float* db, int threads))  \
  X(conv2d_backward, (V, Cfg), void, (const Conv2dGeometry&, const float* x, const float* w,       \
                                      const float* dy, float* dx, float* dw, float* db,            \
                                      int threads, const float* saved))                            \
  X(max_pool2d_forward, (V), void, (const Pool2dGeometry&, const float* x, float* y,               \
                                    int32_t* argmax, float* winners, int threads))                 \
  X(max_pool2d_backward, (V), void, (const Pool2dGeometry&, const float* dy,                       \
                                     const int32_t* argmax, float* dx, int threads))               \
  X(max_pool2d_backward_from_winners, (V), void, (const Pool2dGeometry&, const float* dy,          \
                                                  const float* winners, float* dx, int threads))   \
  X(avg_pool2d_forward, (V), void, (const Pool2dGeometry&, bool count_include_pad, const float* x, \
                                    float* y, int threads))                                        \
  X(avg_pool2d_backward, (V), void, (const Pool2dGeometry&, bool count_include_pad,                \
                                     const float* dy, float* dx, int threads))                     \
  X(softmax_forward, (V), void, (bool log, int64_t outer, int64_t D, int64_t inner,                \
                                 const float* x, float* y, int threads))                           \
  X(softmax_backward, (V), void, (bool log, int64_t outer, int64_t D, int64_t inner,               \
                                  const float* y, const float* dy, float* dx, int threads))        \
  X(unary_forward, (V), void, (UnaryOp, int64_t n, const float* x, float* y, int threads))         \
  X(unary_backward, (V), void, (UnaryOp, int64_t n, const float* x, const float* y,                \
                                const float* dy, float* dx, int threads))                          \
  X(activation_forward, (V), void, (const ActivationParams&, int64_t n, const float* x, float* y,  \
                                    int threads))                                                  \
  X(activation_backward, (V), void, (const ActivationParams&, int64_t n, const float* x,           \
                                     const float* dy, float* dx, int threads))                     \
  X(sgd_update, (V), void, (int64_t n, float* p, const float* g, float* buf, const SgdStep&,       \
                            int threads))                                                          \
  X(adam_update, (V), void, (int64_t n, float* p, const float* g, float* m, float* v,              \
                             const AdamStep&, int threads))                                        \
  X(sum_of_squares, (V), double, (int64_t n, const float* x, int threads))                         \
  X(scale_in_place, (V), void, (int64_t n, float* x, float s, int threads))                      \
  X(batchnorm_stats, (V), void, (const BatchNormGeometry&, const float* x, float* mean,            \
                                 float* var, int threads))                                         \
  X(batchnorm_apply, (V), void, (const BatchNormGeometry&, const float* x, const float* scale,     \
                                 const float* shift, float* y, int threads))                       \
  X(batchnorm_backward, (V), void, (const BatchNormGeometry&, bool batch_stats, const float* x,    \
                                    const float* mean, const float* invstd, const float* gamma,    \
                                    const float* dy, float* dx, float* dgamma, float* dbeta,       \
                                    int threads))                                                  \
  X(batchnorm_apply_relu, (V), void, (const BatchNormGeometry&, const float* x,                    \
                                      const float* scale, const float* shift, float* y,            \
                                      int threads))                                                \
  X(batchnorm_relu_backward, (V), void, (const BatchNormGeometry&, bool batch_stats,               \
                                         const float* x, const float* mean, const float* invstd,   \
                                         const float* gamma, const float* scale,                   \
                                         const float* shift, const float* dy, float* dx,           \
                                         float* dgamma, float* dbeta, int threads))
// clang-format on

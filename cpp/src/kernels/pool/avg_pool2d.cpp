#include "kernels/pool/avg_pool2d.h"

#include "kernels/isa/dispatch.h"

namespace pocketcnn::kernels {

void avg_pool2d_forward(const Pool2dGeometry& g, bool count_include_pad, const float* x, float* y) {
  kernels().avg_pool2d_forward(g, count_include_pad, x, y, get_num_threads());
}

void avg_pool2d_backward(const Pool2dGeometry& g, bool count_include_pad, const float* dy,
                         float* dx) {
  kernels().avg_pool2d_backward(g, count_include_pad, dy, dx, get_num_threads());
}

}  // namespace pocketcnn::kernels

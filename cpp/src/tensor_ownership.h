// Internal (not installed): whether the autograd tape may adopt a tensor instead of copying it.
#pragma once

#include "pocketcnn/tensor.h"

namespace pocketcnn {

// Whether `t` is the only way to reach its data: the one handle on its impl, memory
// Tensor::empty allocated (not wrapped numpy/DLPack memory), no view, detached handle or
// exported buffer on it.
bool owns_data_alone(const Tensor& t);

}  // namespace pocketcnn

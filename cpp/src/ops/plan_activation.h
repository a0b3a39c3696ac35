// The activation names the inference plan accepts (pocketcnn/inference.h) and their application
// to a step's output. Names: "" / "linear" (none), "relu", "sigmoid", "tanh", "softmax" (over
// dim 1), "leaky_relu" (slope 0.2, Keras' default) or "leaky_relu:<slope>", "elu" (alpha 1) or
// "elu:<alpha>", "gelu" (exact), "gelu_tanh", "silu" (or "swish"), "hard_sigmoid", "softplus".
#pragma once

#include <string>

#include "kernels/conv/conv2d.h"
#include "pocketcnn/tensor.h"

namespace pocketcnn::detail {

// The canonical spelling of `name` ("linear" -> "", "swish" -> "silu", "leaky_relu:0.2" ->
// "leaky_relu", "elu:1" -> "elu"); ValueError naming it and the accepted names otherwise (also
// for a parameter that is not a finite number).
std::string plan_activation(const std::string& name);

// x with the canonical activation `a` applied (x itself for ""), like the op of that name. With
// `in_place` (x is a fresh intermediate no one else holds) the elementwise activations after
// relu / sigmoid / tanh overwrite x instead of allocating.
Tensor apply_plan_activation(const std::string& a, const Tensor& x, bool in_place);

// The conv epilogue's activation for the canonical `a` among those after relu / sigmoid / tanh
// (leaky_relu and elu only with their default parameter); false if the conv cannot fuse it.
bool conv_fusable_activation(const std::string& a, kernels::Activation* act);

}  // namespace pocketcnn::detail

#include "ops/plan_activation.h"

#include <cmath>
#include <cstdlib>
#include <optional>
#include <utility>

#include "kernels/pointwise/activation_fast.h"
#include "pocketcnn/error.h"
#include "pocketcnn/ops.h"

namespace pocketcnn::detail {

namespace {

using kernels::ActivationOp;
using kernels::ActivationParams;

constexpr const char* kAccepted =
    "'', 'linear', 'relu', 'sigmoid', 'tanh', 'softmax', 'leaky_relu[:slope]', 'elu[:alpha]', "
    "'gelu', 'gelu_tanh', 'silu', 'swish', 'hard_sigmoid' or 'softplus'";

// "name:<number>" -> the number, if it is all of the text after the colon and finite.
std::optional<float> parameter_of(const std::string& a, size_t colon) {
  const std::string text = a.substr(colon + 1);
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !std::isfinite(v)) return std::nullopt;
  return static_cast<float>(v);
}

// The kernel parameters of a canonical name other than relu / sigmoid / tanh / softmax.
std::optional<ActivationParams> kernel_params(const std::string& a) {
  const size_t colon = a.find(':');
  const std::string base = a.substr(0, colon);
  if (colon != std::string::npos) {
    const std::optional<float> v = parameter_of(a, colon);
    if (!v) return std::nullopt;
    if (base == "leaky_relu") return ActivationParams{ActivationOp::LeakyRelu, *v};
    if (base == "elu") return ActivationParams{ActivationOp::Elu, *v};
    return std::nullopt;
  }
  if (a == "leaky_relu") return ActivationParams{ActivationOp::LeakyRelu, 0.2f};
  if (a == "elu") return ActivationParams{ActivationOp::Elu, 1.0f};
  if (a == "gelu") return ActivationParams{ActivationOp::Gelu};
  if (a == "gelu_tanh") return ActivationParams{ActivationOp::GeluTanh};
  if (a == "silu") return ActivationParams{ActivationOp::Silu};
  if (a == "hard_sigmoid") return ActivationParams{ActivationOp::HardSigmoid};
  if (a == "softplus") return ActivationParams{ActivationOp::Softplus};
  return std::nullopt;
}

}  // namespace

std::string plan_activation(const std::string& name) {
  const std::string a = name == "linear" ? "" : name == "swish" ? "silu" : name;
  const bool basic = a.empty() || a == "relu" || a == "sigmoid" || a == "tanh" || a == "softmax";
  const std::optional<ActivationParams> p = basic ? std::nullopt : kernel_params(a);
  PCNN_CHECK(basic || p, "InferencePlan: unknown activation '", name, "' (use ", kAccepted, ")");
  // The default parameters by their plain names, which a conv can fuse (conv_fusable_activation).
  if (p && p->op == ActivationOp::LeakyRelu && p->alpha == 0.2f) return "leaky_relu";
  if (p && p->op == ActivationOp::Elu && p->alpha == 1.0f) return "elu";
  return a;
}

Tensor apply_plan_activation(const std::string& a, const Tensor& x, bool in_place) {
  if (a.empty()) return x;
  if (a == "relu") return relu(x);
  if (a == "sigmoid") return sigmoid(x);
  if (a == "tanh") return tanh(x);
  if (a == "softmax") return softmax(x, 1);
  const std::optional<ActivationParams> p = kernel_params(a);
  PCNN_CHECK(p.has_value(), "InferencePlan: unknown activation '", a, "'");
  PCNN_CHECK_TYPE(x.defined(), "InferencePlan: activation input is None");
  Tensor y = in_place ? x : Tensor::empty(x.shape());
  kernels::activation_forward(*p, x.numel(), x.data(), y.data());
  return y;
}

bool conv_fusable_activation(const std::string& a, kernels::Activation* act) {
  using kernels::Activation;
  static const std::pair<const char*, Activation> kFusable[] = {
      {"leaky_relu", Activation::leaky_relu},
      {"elu", Activation::elu},
      {"gelu", Activation::gelu},
      {"gelu_tanh", Activation::gelu_tanh},
      {"silu", Activation::silu},
      {"hard_sigmoid", Activation::hard_sigmoid},
      {"softplus", Activation::softplus}};
  for (const auto& [name, value] : kFusable) {
    if (a == name) {
      *act = value;
      return true;
    }
  }
  return false;
}

}  // namespace pocketcnn::detail

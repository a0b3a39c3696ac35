// The elementwise operations the ops, the plain loops and the ISA kernels share.
#pragma once

namespace pocketcnn::kernels {

enum class UnaryOp { Relu, Sigmoid, Tanh, Exp, Log, Neg };

enum class ScalarOp {
  Add,   // x + s
  Mul,   // x * s
  RSub,  // s - x
  RDiv,  // s / x
  Pow,   // x ** s
};

enum class BinaryOp { Add, Sub, Mul, Div };

}  // namespace pocketcnn::kernels

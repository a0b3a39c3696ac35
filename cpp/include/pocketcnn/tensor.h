// Tensor: a shared, contiguous float32 array with a shape (NCHW for images) and autograd state.
//
// A Tensor is a cheap handle (one shared_ptr); copies share data, gradient and graph. Data is
// always C-contiguous float32. Buffers pocketcnn allocates are 64-byte aligned; a Tensor may also
// wrap memory it does not own (a numpy array) and keeps that memory's owner alive, so kernels must
// not assume alignment of their inputs.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace pocketcnn {

using Shape = std::vector<int64_t>;

struct Node;  // autograd.h

// Number of elements of a shape (1 for a 0-d shape). Throws on negative dims or overflow.
int64_t shape_numel(const Shape& shape);
// "(2, 3, 4)" -- used in every error message that names a shape.
std::string shape_str(const Shape& shape);

// What every tensor sharing one buffer shares (views, detached handles): a version that every
// in-place write through pocketcnn bumps (optimiser steps, batch-norm running statistics, the
// release of a numpy view), so a cache derived from the data (the inference plan's folded and
// packed weights) knows when it is stale. Writes pocketcnn cannot see make the buffer untracked:
// while a numpy view of it is alive, or for good once its memory is someone else's (a wrapped
// numpy array, a DLPack export); caches must then not be trusted.
struct DataVersion {
  std::atomic<uint64_t> version{0};
  std::atomic<int64_t> live_views{0};  // numpy buffer views handed out and not released yet
  std::atomic<bool> foreign{false};    // others can write the memory without telling us
};

struct TensorImpl {
  Shape shape;
  int64_t numel = 0;
  std::shared_ptr<float> data;  // aliasing pointer: owner may be a numpy array or another tensor
  std::shared_ptr<DataVersion> version;  // shared with every tensor on the same data
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;  // accumulated gradient (leaves only)
  std::shared_ptr<Node> grad_fn;     // the node that produced this tensor (non-leaves only)
};

class Tensor {
 public:
  Tensor() = default;  // undefined tensor: stands for "none" (optional bias, missing grad)
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- construction ----
  static Tensor empty(const Shape& shape);  // uninitialised, 64-byte aligned
  static Tensor zeros(const Shape& shape);
  static Tensor full(const Shape& shape, float value);
  static Tensor from_vector(const Shape& shape, const std::vector<float>& values);
  // Wraps memory owned elsewhere; `owner` is kept alive as long as any tensor uses the data.
  static Tensor wrap(float* data, const Shape& shape, std::shared_ptr<void> owner);

  // ---- data ----
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  int64_t dim(int64_t i) const;  // negative i counts from the end
  int64_t ndim() const { return static_cast<int64_t>(shape().size()); }
  int64_t numel() const;
  float* data() const;
  float item() const;                     // the value of a one-element tensor
  Tensor clone() const;                   // deep copy of the data, no autograd history
  Tensor view(const Shape& shape) const;  // same data, another shape of equal numel; no history

  // ---- versions (see DataVersion) ----
  // Every in-place write made through pocketcnn calls bump_version() after writing.
  uint64_t version() const;
  void bump_version() const;
  // Whether version() is trustworthy: every write to the data goes through pocketcnn (no live
  // numpy view, memory not foreign). A cache keyed on version() is valid only while this holds.
  bool writes_tracked() const;
  // The data may be written behind pocketcnn's back from now on (its memory was handed out).
  void mark_foreign() const;
  DataVersion& version_state() const;

  // ---- autograd ----
  bool requires_grad() const;
  void set_requires_grad(bool value);  // only on leaves
  Tensor grad() const;
  void set_grad(const Tensor& g);
  const std::shared_ptr<Node>& grad_fn() const;
  void set_grad_fn(std::shared_ptr<Node> node);
  bool is_leaf() const { return grad_fn() == nullptr; }
  Tensor detach() const;  // shares data, no history, requires_grad = false
  // Reverse-mode autograd from this tensor. `grad` defaults to 1 for a one-element tensor.
  void backward(const Tensor& grad = Tensor(), bool retain_graph = false) const;

  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool same(const Tensor& other) const { return impl_ == other.impl_; }

 private:
  void check_defined() const;
  std::shared_ptr<TensorImpl> impl_;
};

}  // namespace pocketcnn

#include "pocketcnn/tensor.h"

#include <cstdlib>
#include <cstring>
#include <limits>

#include "pocketcnn/autograd.h"
#include "pocketcnn/error.h"
#include "pocketcnn/limits.h"
#include "pocketcnn/memory.h"
#include "tensor_ownership.h"

namespace pocketcnn {

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    PCNN_CHECK(d >= 0, "negative dimension in shape ", shape_str(shape));
    // Checked before multiplying, against the documented limit (not just int64 overflow): a shape
    // one step below overflow would still ask the allocator for exabytes.
    PCNN_CHECK(d == 0 || n <= limits::kMaxTensorElements / d, "shape ", shape_str(shape),
               " has more elements than the largest tensor pocketcnn allocates (",
               limits::kMaxTensorElements, " = 2^34, pocketcnn::limits::kMaxTensorElements)");
    n *= d;
  }
  return n;
}

std::string shape_str(const Shape& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

namespace {
// The deleter of memory Tensor::empty allocated (a named type: owns_data_alone asks for it).
struct CachedFree {
  size_t bytes;
  void operator()(float* q) const { cached_free(q, bytes); }
};

// Through the tensor memory cache (memory.h): large buffers are reused instead of being returned
// to the OS and faulted in again on the next step.
std::shared_ptr<float> allocate_aligned(int64_t numel) {
  // Never allocate 0 bytes.
  size_t bytes = static_cast<size_t>(numel > 0 ? numel : 1) * sizeof(float);
  PCNN_CHECK(bytes / sizeof(float) >= static_cast<size_t>(numel), "tensor too large");
  void* p = cached_alloc(bytes);
  return std::shared_ptr<float>(static_cast<float*>(p), CachedFree{bytes});
}

// shares: the data's version state for a new handle on existing data (view, detach); null for
// new data.
std::shared_ptr<TensorImpl> make_impl(const Shape& shape,
                                      std::shared_ptr<DataVersion> shares = nullptr) {
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = shape;
  impl->numel = shape_numel(shape);
  impl->version = shares ? std::move(shares) : std::make_shared<DataVersion>();
  return impl;
}
}  // namespace

Tensor Tensor::empty(const Shape& shape) {
  auto impl = make_impl(shape);
  impl->data = allocate_aligned(impl->numel);
  return Tensor(std::move(impl));
}

Tensor Tensor::zeros(const Shape& shape) {
  Tensor t = empty(shape);
  std::memset(t.data(), 0, static_cast<size_t>(t.numel()) * sizeof(float));
  return t;
}

Tensor Tensor::full(const Shape& shape, float value) {
  Tensor t = empty(shape);
  float* p = t.data();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = value;
  return t;
}

Tensor Tensor::from_vector(const Shape& shape, const std::vector<float>& values) {
  Tensor t = empty(shape);
  PCNN_CHECK(static_cast<int64_t>(values.size()) == t.numel(), "from_vector: ", values.size(),
             " values do not fill shape ", shape_str(shape));
  if (!values.empty()) std::memcpy(t.data(), values.data(), values.size() * sizeof(float));
  return t;
}

Tensor Tensor::wrap(float* data, const Shape& shape, std::shared_ptr<void> owner) {
  auto impl = make_impl(shape);
  impl->data = std::shared_ptr<float>(std::move(owner), data);
  impl->version->foreign = true;  // the owner (a numpy array, DLPack) can write it unseen
  return Tensor(std::move(impl));
}

void Tensor::check_defined() const {
  if (!impl_) throw TypeError("operation on an undefined tensor (None)");
}

const Shape& Tensor::shape() const {
  check_defined();
  return impl_->shape;
}

int64_t Tensor::dim(int64_t i) const {
  const int64_t n = ndim();
  PCNN_CHECK(i >= -n && i < n, "dimension ", i, " out of range for shape ", shape_str(shape()));
  return impl_->shape[static_cast<size_t>(i < 0 ? i + n : i)];
}

int64_t Tensor::numel() const {
  check_defined();
  return impl_->numel;
}

float* Tensor::data() const {
  check_defined();
  return impl_->data.get();
}

float Tensor::item() const {
  PCNN_CHECK(numel() == 1, "item() needs a tensor with one element, got shape ",
             shape_str(shape()));
  return data()[0];
}

Tensor Tensor::clone() const {
  Tensor t = empty(shape());
  if (numel()) std::memcpy(t.data(), data(), static_cast<size_t>(numel()) * sizeof(float));
  return t;
}

Tensor Tensor::view(const Shape& new_shape) const {
  check_defined();
  auto impl = make_impl(new_shape, impl_->version);
  PCNN_CHECK(impl->numel == numel(), "cannot view shape ", shape_str(shape()), " as ",
             shape_str(new_shape));
  impl->data = impl_->data;
  return Tensor(std::move(impl));
}

DataVersion& Tensor::version_state() const {
  check_defined();
  return *impl_->version;
}

uint64_t Tensor::version() const {
  return version_state().version.load(std::memory_order_acquire);
}

void Tensor::bump_version() const {
  version_state().version.fetch_add(1, std::memory_order_acq_rel);
}

bool Tensor::writes_tracked() const {
  const DataVersion& v = version_state();
  return !v.foreign.load(std::memory_order_acquire) &&
         v.live_views.load(std::memory_order_acquire) == 0;
}

void Tensor::mark_foreign() const {
  version_state().foreign.store(true, std::memory_order_release);
}

bool Tensor::requires_grad() const {
  check_defined();
  return impl_->requires_grad;
}

void Tensor::set_requires_grad(bool value) {
  check_defined();
  if (!value && impl_->grad_fn) {
    throw ValueError(
        "requires_grad can only be turned off on leaf tensors; use detach() on a computed tensor");
  }
  impl_->requires_grad = value;
}

Tensor Tensor::grad() const {
  check_defined();
  return Tensor(impl_->grad);
}

void Tensor::set_grad(const Tensor& g) {
  check_defined();
  if (g.defined()) {
    PCNN_CHECK(g.shape() == shape(), "grad of shape ", shape_str(g.shape()),
               " does not match tensor of shape ", shape_str(shape()));
  }
  impl_->grad = g.impl_ptr();
}

const std::shared_ptr<Node>& Tensor::grad_fn() const {
  check_defined();
  return impl_->grad_fn;
}

void Tensor::set_grad_fn(std::shared_ptr<Node> node) {
  check_defined();
  impl_->grad_fn = std::move(node);
}

Tensor Tensor::detach() const {
  check_defined();
  auto impl = make_impl(shape(), impl_->version);
  impl->data = impl_->data;
  return Tensor(std::move(impl));
}

void Tensor::backward(const Tensor& grad, bool retain_graph) const {
  run_backward(*this, grad, retain_graph);
}

bool owns_data_alone(const Tensor& t) {
  // Views and detached handles copy `data` (use_count > 1) and share `version`; wrapped memory
  // has another deleter; an exported buffer leaves the data foreign or with live views.
  const std::shared_ptr<TensorImpl>& impl = t.impl_ptr();
  return impl && impl.use_count() == 1 && impl->data.use_count() == 1 &&
         impl->version.use_count() == 1 && std::get_deleter<CachedFree>(impl->data) &&
         t.writes_tracked();
}

}  // namespace pocketcnn

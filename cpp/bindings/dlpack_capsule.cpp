// Tensor -> DLPack capsule (the producer side of the DLPack protocol, `Tensor.__dlpack__`).
//
// The structs are DLPack's stable C ABI (dlpack.h v1.0), written out here so the build needs no
// extra header. A capsule holds a DLManagedTensor (named "dltensor") or, for consumers that ask
// for max_version >= (1, 0), a DLManagedTensorVersioned ("dltensor_versioned"). Its manager
// context owns a detached Tensor that shares the data, so the memory lives until the consumer
// calls the deleter (or, when nobody consumed the capsule, until the capsule itself dies).
#include <cstdint>
#include <vector>

#include "bind.h"

namespace pocketcnn::bindings {

namespace {

struct DLDevice {
  int32_t device_type;  // kDLCPU = 1
  int32_t device_id;
};
struct DLDataType {
  uint8_t code;  // kDLFloat = 2
  uint8_t bits;
  uint16_t lanes;
};
struct DLTensor {
  void* data;
  DLDevice device;
  int32_t ndim;
  DLDataType dtype;
  int64_t* shape;
  int64_t* strides;  // in elements
  uint64_t byte_offset;
};
struct DLManagedTensor {
  DLTensor dl_tensor;
  void* manager_ctx;
  void (*deleter)(DLManagedTensor* self);
};
struct DLPackVersion {
  uint32_t major;
  uint32_t minor;
};
struct DLManagedTensorVersioned {
  DLPackVersion version;
  void* manager_ctx;
  void (*deleter)(DLManagedTensorVersioned* self);
  uint64_t flags;
  DLTensor dl_tensor;
};

// What the capsule owns: the tensor (keeping its storage alive) and the shape/strides arrays
// the DLTensor points into.
struct Context {
  Tensor tensor;
  std::vector<int64_t> shape, strides;
};

// The deleters may run on any thread, with or without the GIL; deleting the Context is pure C++
// unless the tensor wraps a numpy array, whose keep-alive owner takes the GIL itself.
// While a consumer holds the data it may write it: counted as a live view of the tensor (as a
// numpy one, buffer_views.cpp), whose end bumps the version.
template <class Managed>
void delete_managed(Managed* self) {
  auto* ctx = static_cast<Context*>(self->manager_ctx);
  DataVersion& v = ctx->tensor.version_state();
  v.version.fetch_add(1, std::memory_order_acq_rel);
  v.live_views.fetch_sub(1, std::memory_order_acq_rel);
  delete ctx;
  delete self;
}

template <class Managed>
void fill(Managed* managed, Context* ctx) {
  const Tensor& t = ctx->tensor;
  DLTensor& dl = managed->dl_tensor;
  dl.data = t.numel() ? t.data() : nullptr;
  dl.device = {1, 0};
  dl.ndim = static_cast<int32_t>(t.ndim());
  dl.dtype = {2, 32, 1};
  dl.shape = ctx->shape.data();
  dl.strides = ctx->strides.data();
  dl.byte_offset = 0;
  managed->manager_ctx = ctx;
  managed->deleter = &delete_managed<Managed>;
}

// Capsule destructor: only frees what no consumer took (a consumer renames the capsule to
// "used_dltensor[_versioned]" and becomes responsible for calling the deleter).
template <class Managed>
void capsule_destructor(PyObject* capsule, const char* name) {
  if (!PyCapsule_IsValid(capsule, name)) return;
  auto* managed = static_cast<Managed*>(PyCapsule_GetPointer(capsule, name));
  if (managed && managed->deleter) managed->deleter(managed);
}

void legacy_destructor(PyObject* capsule) {
  capsule_destructor<DLManagedTensor>(capsule, "dltensor");
}
void versioned_destructor(PyObject* capsule) {
  capsule_destructor<DLManagedTensorVersioned>(capsule, "dltensor_versioned");
}

}  // namespace

py::object dlpack_capsule(const Tensor& tensor, bool versioned, bool copied) {
  auto* ctx = new Context{tensor.detach(), tensor.shape(), {}};
  ctx->tensor.version_state().live_views.fetch_add(1, std::memory_order_acq_rel);
  ctx->strides.resize(ctx->shape.size());
  int64_t stride = 1;
  for (size_t i = ctx->shape.size(); i-- > 0;) {
    ctx->strides[i] = stride;
    stride *= ctx->shape[i];
  }
  PyObject* capsule = nullptr;
  if (versioned) {
    auto* managed = new DLManagedTensorVersioned{};
    managed->version = {1, 0};
    managed->flags = copied ? (uint64_t{1} << 1) : 0;  // DLPACK_FLAG_BITMASK_IS_COPIED
    fill(managed, ctx);
    capsule = PyCapsule_New(managed, "dltensor_versioned", &versioned_destructor);
    if (!capsule) managed->deleter(managed);
  } else {
    auto* managed = new DLManagedTensor{};
    fill(managed, ctx);
    capsule = PyCapsule_New(managed, "dltensor", &legacy_destructor);
    if (!capsule) managed->deleter(managed);
  }
  if (!capsule) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(capsule);
}

}  // namespace pocketcnn::bindings

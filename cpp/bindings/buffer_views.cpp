// Numpy views of a Tensor (the buffer protocol: np.asarray(t), t.numpy(), memoryview(t)) are
// counted on the tensor's DataVersion: while one is alive the data may change behind pocketcnn's
// back (writes_tracked() is false), and its release bumps the version (whatever was written
// through it, caches of the data such as the inference plan's packed weights are stale).
// pybind11's own buffer slots do the export; these wrap them.
#include <memory>

#include "bind.h"

namespace pocketcnn::bindings {

namespace {

getbufferproc pybind_getbuffer = nullptr;
releasebufferproc pybind_releasebuffer = nullptr;

// Replaces view->internal while the view is alive (pybind11's own pointer is restored for its
// release).
struct ViewRecord {
  void* pybind_internal;
  std::shared_ptr<DataVersion> version;
};

int get_counted_buffer(PyObject* obj, Py_buffer* view, int flags) {
  if (pybind_getbuffer(obj, view, flags) != 0) return -1;
  std::shared_ptr<DataVersion> version;
  try {
    version = py::handle(obj).cast<const Tensor&>().impl()->version;
  } catch (...) {  // not a Tensor: nothing to count
  }
  if (version) version->live_views.fetch_add(1, std::memory_order_acq_rel);
  view->internal = new ViewRecord{view->internal, std::move(version)};
  return 0;
}

void release_counted_buffer(PyObject* obj, Py_buffer* view) {
  auto* record = static_cast<ViewRecord*>(view->internal);
  view->internal = record->pybind_internal;
  if (record->version) {
    record->version->version.fetch_add(1, std::memory_order_acq_rel);  // before the count drops
    record->version->live_views.fetch_sub(1, std::memory_order_acq_rel);
  }
  delete record;
  if (pybind_releasebuffer) pybind_releasebuffer(obj, view);
}

}  // namespace

void count_buffer_views(py::handle tensor_type) {
  auto* type = reinterpret_cast<PyTypeObject*>(tensor_type.ptr());
  PyBufferProcs* procs = type->tp_as_buffer;
  if (!procs || !procs->bf_getbuffer || procs->bf_getbuffer == &get_counted_buffer) return;
  pybind_getbuffer = procs->bf_getbuffer;
  pybind_releasebuffer = procs->bf_releasebuffer;
  procs->bf_getbuffer = &get_counted_buffer;
  procs->bf_releasebuffer = &release_counted_buffer;
}

}  // namespace pocketcnn::bindings

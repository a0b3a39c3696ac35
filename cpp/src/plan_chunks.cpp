#include "plan_chunks.h"

#include <atomic>
#include <exception>
#include <vector>

#include "kernels/runtime/parallel.h"
#include "pocketcnn/cpu.h"
#include "pocketcnn/ops.h"

namespace pocketcnn::detail {

namespace {

// Rows [begin, end) of x as a tensor on x's memory (no copy): dim 0 is the outermost.
Tensor rows(const Tensor& x, int64_t begin, int64_t end) {
  Shape shape = x.shape();
  const int64_t per_row = x.numel() / shape[0];
  shape[0] = end - begin;
  return Tensor::wrap(x.data() + begin * per_row, shape, x.impl()->data);
}

}  // namespace

Tensor run_in_chunks(const Tensor& x, const std::function<Tensor(const Tensor&)>& f) {
  const int64_t n = x.dim(0), chunks = n / kPlanChunkImages;
  std::vector<Tensor> outputs(chunks);
  std::vector<std::exception_ptr> errors(chunks);
  std::atomic<int64_t> next{0};
  std::atomic<bool> failed{false};
  const Isa isa = active_isa();
  const int threads = static_cast<int>(std::min<int64_t>(get_num_threads(), chunks));
  // Chunks are taken in turn by whichever thread is free; each is computed alike by any thread,
  // so the result does not depend on who took what.
  kernels::run_parallel(threads, [&](int, int) {
    const SerialWorker serial(isa);
    for (int64_t c; !failed.load() && (c = next.fetch_add(1)) < chunks;) {
      const int64_t begin = c * kPlanChunkImages;
      const int64_t end = c + 1 == chunks ? n : begin + kPlanChunkImages;
      try {
        outputs[c] = f(rows(x, begin, end));
      } catch (...) {
        errors[c] = std::current_exception();
        failed.store(true);
      }
    }
  });
  for (const std::exception_ptr& e : errors) {
    if (e) std::rethrow_exception(e);
  }
  return concat(outputs, 0);
}

}  // namespace pocketcnn::detail

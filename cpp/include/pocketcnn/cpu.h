// Threads: every parallel kernel asks get_num_threads() instead of relying on OpenMP's per-thread
// state, so set_num_threads() from any Python thread applies to all later work.
#pragma once

namespace pocketcnn {

// Number of threads parallel kernels may use (default: OpenMP's max, i.e. OMP_NUM_THREADS or the
// number of cores). n must be >= 1.
void set_num_threads(int n);
int get_num_threads();

}  // namespace pocketcnn

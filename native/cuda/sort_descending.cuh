// Sorts each of batch runs of k contiguous values in descending order (small k: one thread per run).
#pragma once

#include <cuda_runtime_api.h>

#include "../core/backend.h"

namespace ortho::cuda {
template <typename T>
void launchSortDescending(int64_t batch, int64_t k, T* values, cudaStream_t stream);
}  // namespace ortho::cuda

// Counts NaN and infinite values into *count (device, 64-bit), which it zeroes first (countNonFinite primitive).
#pragma once

#include <cuda_runtime_api.h>

#include "../core/backend.h"

namespace ortho::cuda {
template <typename T>
void launchCountNonFinite(int64_t n, const T* x, unsigned long long* count, cudaStream_t stream);
}  // namespace ortho::cuda

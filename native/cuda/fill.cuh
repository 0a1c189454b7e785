// Every element of a batch of matrices set to one value (fill primitive).
#pragma once

#include <cuda_runtime_api.h>

#include "../core/backend.h"

namespace ortho::cuda {
template <typename T>
void launchFill(int64_t batch, Mat<T> A, T value, cudaStream_t stream);
}  // namespace ortho::cuda

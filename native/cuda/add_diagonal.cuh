// A(i, i) += value for i < min(rows, cols) (addDiagonal primitive).
#pragma once

#include <cuda_runtime_api.h>

#include "../core/backend.h"

namespace ortho::cuda {
template <typename T>
void launchAddDiagonal(int64_t batch, Mat<T> A, T value, cudaStream_t stream);
}  // namespace ortho::cuda

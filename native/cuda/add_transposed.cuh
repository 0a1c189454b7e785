// B = alpha * A + beta * A^T for square matrices (addTransposed primitive).
#pragma once

#include <cuda_runtime_api.h>

#include "../core/backend.h"

namespace ortho::cuda {
template <typename T>
void launchAddTransposed(int64_t batch, T alpha, Mat<const T> A, T beta, Mat<T> B, cudaStream_t stream);
}  // namespace ortho::cuda

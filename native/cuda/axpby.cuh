// B = alpha * A + beta * B for a batch of matrices (axpby primitive; beta == 0 does not read B).
#pragma once

#include <cuda_runtime_api.h>

#include "../core/backend.h"

namespace ortho::cuda {
template <typename T>
void launchAxpby(int64_t batch, T alpha, Mat<const T> A, T beta, Mat<T> B, cudaStream_t stream);
}  // namespace ortho::cuda

// B = A or B = A^T for a batch of matrices (copy primitive).
#pragma once

#include <cuda_runtime_api.h>

#include "../core/backend.h"

namespace ortho::cuda {
template <typename T>
void launchCopy(int64_t batch, Mat<const T> A, Op op, Mat<T> B, cudaStream_t stream);
}
